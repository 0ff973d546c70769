"""Column names and formats of the common CRM exports, so an analyst only names the preset.

Each preset fills in what the YAML leaves out; anything set on the source in the YAML wins. The names
are those of the standard UI exports; a client's admin may have renamed columns, in which case the
loader's "column not found" error lists the headers the file does have.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESET_DEFAULTS", "preset_defaults"]

PRESET_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    # Salesforce OpportunityHistory (one row per stage change) + Opportunity (one row per deal).
    ("salesforce", "history"): {
        "columns": {"record_id": "OpportunityId", "stage": "StageName", "changed_at": "CreatedDate",
                    "value": "Amount", "is_deleted": "IsDeleted", "currency": "CurrencyIsoCode"},
        "date_format": "mdy", "delimiter": ",", "decimal": ".",
        "records": {
            "columns": {"record_id": "Id", "created_at": "CreatedDate", "value": "Amount",
                        "is_closed": "IsClosed", "is_won": "IsWon", "current_stage": "StageName",
                        "is_deleted": "IsDeleted", "currency": "CurrencyIsoCode"},
            "attributes": {"lead_source": "LeadSource"},
            "date_format": "mdy", "delimiter": ",", "decimal": ".",
        },
    },
    ("salesforce", "snapshot"): {
        "columns": {"record_id": "Id", "current_stage": "StageName", "created_at": "CreatedDate",
                    "closed_at": "CloseDate", "value": "Amount", "is_closed": "IsClosed",
                    "is_won": "IsWon", "is_deleted": "IsDeleted", "currency": "CurrencyIsoCode"},
        "attributes": {"lead_source": "LeadSource"},
        "date_format": "mdy", "delimiter": ",", "decimal": ".",
    },
    # HubSpot deal-stage property history (one row per change).
    ("hubspot", "history"): {
        "columns": {"record_id": "Record ID", "stage": "Deal Stage", "changed_at": "Timestamp"},
        "date_format": "ymd",
    },
    # HubSpot deals export with its "Date entered <stage> (<pipeline>)" columns.
    ("hubspot", "wide"): {
        "columns": {"record_id": "Record ID", "created_at": "Create Date", "closed_at": "Close Date",
                    "value": "Amount", "current_stage": "Deal Stage"},
        "attributes": {"owner": "Deal owner", "deal_type": "Deal Type"},
        # The pipeline in brackets may itself hold brackets: "Demo (Appalachia (TN, OH) )".
        "stage_column_pattern": r'^Date entered "?(?P<stage>.+?)(?: \((?:[^()]|\([^()]*\))*\))?"?$',
        "date_format": "ymd",
    },
    # Pipedrive deal flow (stage changes) and deals export.
    ("pipedrive", "history"): {
        "columns": {"record_id": "Deal ID", "stage": "Stage", "changed_at": "Time"},
        "date_format": "ymd",
    },
    ("pipedrive", "snapshot"): {
        "columns": {"record_id": "Deal - ID", "current_stage": "Deal - Stage",
                    "status": "Deal - Status", "created_at": "Deal - Deal created",
                    "closed_at": "Deal - Deal closed on", "value": "Deal - Value"},
        "attributes": {"owner": "Deal - Owner", "lost_reason": "Deal - Lost reason"},
        "date_format": "ymd",
    },
    # HubSpot contacts export with the lifecycle stage dates ("Became a Lead Date", "Became a
    # Marketing Qualified Lead Date", ... "Became a Customer Date"): the default contact properties
    # hs_lifecyclestage_<stage>_date, exported under those labels (seen in public exports, e.g.
    # github.com/jadTahaGit/zoho Dev-74/Dev-74/02-partition/03-Subscribers.sql). Map the stages
    # (Subscriber, Lead, Marketing Qualified Lead, Sales Qualified Lead, Opportunity, Customer,
    # Evangelist, Other Lifecycle) under `stage_mapping`; Customer is usually the won phase.
    ("hubspot_contacts", "wide"): {
        "columns": {"record_id": "Record ID", "created_at": "Create Date"},
        "attributes": {"owner": "Contact owner", "original_source": "Original Source"},
        "stage_column_pattern": r"^Became an? (?P<stage>.+?) Date$",
        "date_format": "ymd",
    },
    # Dynamics 365 Sales opportunities, "Export to Excel": the columns carry the view's display
    # names (Microsoft's Opportunity table reference, MicrosoftDocs/dynamics-365-customer-
    # engagement ce/sales/developer/entities/opportunity.md: statecode "Status" = Open / Won /
    # Lost, createdon "Created On", actualclosedate "Actual Close Date", estimatedvalue "Est.
    # Revenue", stepname "Pipeline Phase", ownerid "Owner") plus the hidden record id column
    # "(Do Not Modify) Opportunity" of an Excel export.
    ("dynamics", "snapshot"): {
        "columns": {"record_id": "(Do Not Modify) Opportunity", "status": "Status",
                    "created_at": "Created On", "closed_at": "Actual Close Date",
                    "value": "Est. Revenue", "current_stage": "Pipeline Phase"},
        "attributes": {"owner": "Owner"},
    },
    # Odoo CRM leads/opportunities exported from the list view: the field labels of crm.lead
    # (odoo/odoo addons/crm/models/crm_lead.py: 'Stage', 'Created on', 'Closed Date', 'Expected
    # Revenue', 'Active', 'Salesperson', 'Sales Team', 'Lost Reason'). Odoo marks a lost
    # opportunity by archiving it (`Active` false) in the stage it had; a won one sits in a won
    # stage. Export the archived ones too (filter "Lost" or "Archived"), with the "ID" column.
    ("odoo", "snapshot"): {
        "columns": {"record_id": "ID", "current_stage": "Stage", "created_at": "Created on",
                    "closed_at": "Closed Date", "value": "Expected Revenue", "is_active": "Active"},
        "attributes": {"owner": "Salesperson", "sales_team": "Sales Team",
                       "lost_reason": "Lost Reason"},
    },
}


def preset_defaults(preset: str, shape: str) -> dict[str, Any]:
    """The defaults of a preset for a shape; raises KeyError with the combinations that exist."""
    try:
        return PRESET_DEFAULTS[(preset, shape)]
    except KeyError:
        have = sorted(f"{p}/{s}" for p, s in PRESET_DEFAULTS)
        raise KeyError(f"preset {preset!r} has no {shape!r} shape; available: {have}") from None
