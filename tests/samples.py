"""The five real exports of ../shared/samples as a new user would configure them from docs/loading.md
("Your own export"; the samples are read from there, never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

from conftest import SHARED

SAMPLES = SHARED / "samples"

ENGAGEMENTS = {
    # Salesforce OpportunityHistory + Opportunity, Spanish stages, Latin-1 (history shape).
    "salesforce_winkel": """
name: winkel
as_of: 2023-12-31
phases:
- {key: interest, label: Interes}
- {key: design, label: Diseño Propuesta}
- {key: proposal, label: Presentación Propuesta}
- {key: negotiation, label: Negociación}
- {key: signing, label: Firmas}
- {key: order, label: Closed Won}
stage_mapping:
  Interes: interest
  Diseño Propuesta: design
  Presentación Propuesta: proposal
  Negociación: negotiation
  Firmas: signing
  Closed Won: won
  Closed Lost: lost
sources:
- name: opportunities
  shape: history
  preset: salesforce
  date_format: ymd
  encoding: latin-1
  path: {samples}/salesforce_winkel_opportunity_history/OpportunityHistory.csv
  records:
    path: {samples}/salesforce_winkel_opportunity_history/Opportunity.csv
    date_format: ymd
    encoding: latin-1
""",
    # HubSpot deal stage history (a warehouse extract) + a deals snapshot for created/amount.
    "hubspot_accredible": """
name: accredible
as_of: 2024-01-31
timezone: UTC
phases:
- {key: lead_engaged, label: Lead Engaged}
- {key: discovery, label: Discovery}
- {key: qualified, label: Qualified}
- {key: proof_of_value, label: Proof of Value}
- {key: proposal, label: Proposal/Pricing}
- {key: negotiation, label: Procurement/Negotiation}
- {key: order, label: Closed Won}
stage_mapping:
  Lead Engaged: lead_engaged
  Discovery: discovery
  Qualified: qualified
  Proof of Value: proof_of_value
  Proposal/Pricing: proposal
  Procurement/Negotiation: negotiation
  Closed Won: won
  Won - Closed self-serve: won
  Closed Lost: lost
  Keep Warm: ignore
  Stalled: ignore
sources:
- name: deals
  shape: history
  path: {samples}/hubspot_accredible_stage_history/deal_pipeline_stages.csv
  date_format: ymd
  timezone: UTC
  columns: {record_id: DEAL_ID, stage: STAGE_NAME, changed_at: STAGE_CREATED_AT}
  records:
    path: {samples}/hubspot_accredible_stage_history/deals.csv
    date_format: ymd
    timezone: UTC
    columns: {record_id: DEAL_ID, created_at: CREATED_AT, value: AMOUNT_IN_HOME_CURRENCY}
    attributes: {deal_source: DEAL_SOURCE_TYPE}
""",
    # HubSpot "all deals" export, wide: Date entered "<stage> (<pipeline>)"; the won/closed flags
    # decide the outcome (Contract Signed is not always won).
    "hubspot_questnut": """
name: questnut
as_of: 2024-12-31
phases:
- {key: demo, label: Demo}
- {key: late_stage, label: Late stage}
- {key: contract, label: Contract issued}
- {key: order, label: Contract signed}
stage_mapping:
  1st meeting scheduled: demo
  Meeting Scheduled: demo
  Demo: demo
  Proposal: late_stage
  Late Stage Meeting: late_stage
  Decision Maker Bought-In: late_stage
  Contract Issued: contract
  Contract sent: contract
  Contract Signed: won
  Signed: won
  Paid: won
  Closed Lost: lost
  No Success: lost
  Circle Back: ignore
  Due in 1 year: ignore
  Due in 1.5+ years: ignore
  Due in 180 days: ignore
  Due w/n 30 days: ignore
  Due w/n 60 days: ignore
  Due w/n 90 days: ignore
  Overdue Renewals: ignore
sources:
- name: deals
  shape: wide
  preset: hubspot
  path: {samples}/hubspot_questnut_all_deals/all-deals.redacted.csv
  columns: {is_won: Is Closed Won, is_closed: Is Closed (numeric)}
  attributes: {pipeline: Pipeline, owner: Deal owner}
""",
    # Pipedrive deals list (XLSX): no stage column, only a Won/Lost/Open status.
    "pipedrive_bec": """
name: bec
as_of: 2018-06-30
phases:
- {key: inquiry, label: Inquiry}
- {key: booked, label: Booked}
stage_mapping: {}
sources:
- name: deals
  shape: snapshot
  preset: pipedrive
  path: {samples}/pipedrive_bec_deals/deals-2644782-306.redacted.xlsx
  columns: {record_id: Deal - Title}
  attributes: {lead_source: Deal - Lead Source - Deals, event_type: Deal - Event Type}
""",
}


def write_sample_engagement(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(ENGAGEMENTS[name].replace("{samples}", str(SAMPLES)), encoding="utf-8")
    return path
