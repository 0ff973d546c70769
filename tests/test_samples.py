"""Each real export in ../shared/samples loads as docs/loading.md configures it, and its numbers are
those of the file. Every expected number below was computed by hand from the file with the
independent pandas code in the comment beside it (not with the toolkit).

Shared shorthand in the comments: `h` is the stage history read with
`pd.read_csv(file, dtype=str)`, sorted by (record id, time, file row); a record's final state is its
last row's stage (won / lost / else open); `reached[k]` counts the records whose highest phase among
their non-lost rows (won rows only for records whose final state is won) is >= k.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SALESFORCE, reconciles, write_salesforce_engagement
from samples import SAMPLES, write_sample_engagement

from toolkit import Engagement
from toolkit.base.exceptions import NeedsDates
from toolkit.measure.funnel import cohort_conversion, funnel, reached_at, reached_conversion


def load(path):
    return Engagement.from_yaml(path, use_cache=False)


def days_first_to_won(e) -> float:
    """Median over won records of (reached the last phase - reached the first phase), in days."""
    r = reached_at(e)
    won = e.records.loc[e.records["outcome"] == "won", "record_id"]
    keys = e.phase_model.keys
    gap = (r.loc[won, keys[-1]] - r.loc[won, keys[0]]).dt.total_seconds() / 86400
    return float(gap.median())


def check(e, *, records, won, lost, open_, reached):
    reconciles(e)
    assert len(e.records) == records
    assert e.records["outcome"].value_counts().to_dict() == {
        k: v for k, v in {"won": won, "lost": lost, "open": open_}.items() if v}
    f = funnel(e)
    assert f["reached"].tolist() == reached
    return f.set_index("phase")


def test_salesforce_opportunity_history(tmp_path):
    # Opportunity.csv: 36 rows; IsClosed/IsWon: TRUE/TRUE 12, TRUE/FALSE 8, FALSE/FALSE 16.
    # reached (history, mapping of conftest.SALESFORCE_MAPPING): [30, 27, 17, 14, 12]
    e = load(write_salesforce_engagement(tmp_path))
    f = check(e, records=36, won=12, lost=8, open_=16, reached=[30, 27, 17, 14, 12])
    assert f.loc["order", "rate"] == pytest.approx(12 / 14)  # negotiation -> order, all time
    # median over won of first 'Closed Won' time - first non-lost row time: 0.0 days (the demo
    # org's history rows of a won deal share one bulk timestamp)
    assert days_first_to_won(e) == pytest.approx(0.0)
    assert (SALESFORCE / "Opportunity.csv").exists()


def test_salesforce_winkel(tmp_path):
    # o = Opportunity.csv (latin-1): 512 ids, IsWon=='1' 163, IsClosed=='1' & IsWon=='0' 203, rest
    # 146 open; h = OpportunityHistory.csv: reached over interest..order = [512, 502, 485, 416,
    # 307, 163]; no row quarantined (IsDeleted all '0').
    e = load(write_sample_engagement(tmp_path, "salesforce_winkel"))
    f = check(e, records=512, won=163, lost=203, open_=146,
              reached=[512, 502, 485, 416, 307, 163])
    assert e.quarantine.empty
    assert f.loc["order", "rate"] == pytest.approx(163 / 307)
    # hw = h[won ids]; (hw[Stage=='Closed Won'].groupby(id).t.min()
    #   - hw[Stage!='Closed Lost'].groupby(id).t.min()).median() = 3.0730 days
    assert days_first_to_won(e) == pytest.approx(3.072951, abs=1e-5)


def test_hubspot_accredible(tmp_path):
    # h = deal_pipeline_stages.csv without Keep Warm (204) / Stalled (31) rows = 235 quarantined
    # as `ignore`; 1,399 - 17 deals with only ignored rows = 1,382 records. Final states: lost 727,
    # open 562, won 93. reached = [1135, 1108, 511, 296, 198, 123, 93] (247 deals have only a
    # 'Closed Lost' row in the log: created before 2023, no phase row). One deal won then lost:
    # its 'Closed Won' row is quarantined as reversed.
    e = load(write_sample_engagement(tmp_path, "hubspot_accredible"))
    f = check(e, records=1382, won=93, lost=727, open_=562,
              reached=[1135, 1108, 511, 296, 198, 123, 93])
    reasons = e.quarantine["reason"].astype(str)
    assert reasons.str.contains("declared `ignore`").sum() == 235 + 4  # + 4 deals.csv rows
    assert reasons.str.startswith("won stage reversed").sum() == 1
    assert f.loc["qualified", "rate"] == pytest.approx(511 / 1108)
    # 1,382 - 1,135 = 247 deals reached no phase (only a 'Closed Lost' row): said, not hidden
    assert any("247 record(s) reached no phase (247 lost)" in n for n in e.notes)
    # median over the 93 won of first won-stage time - first phase-row time = 40.9860 days
    assert days_first_to_won(e) == pytest.approx(40.986034, abs=1e-5)


def test_hubspot_questnut_wide(tmp_path):
    # f = all-deals.redacted.csv (438 rows): Is Closed Won=='true' 12; Is Closed (numeric)=='1.0'
    # and not won 109; open 317. Stage of a `Date entered "<stage> (<pipeline>)"` column: strip
    # the trailing bracketed pipeline (which may hold brackets), fold case and spaces; highest
    # mapped phase per row (won columns only for flagged-won rows): reached = [363, 179, 74, 12].
    e = load(write_sample_engagement(tmp_path, "hubspot_questnut"))
    f = check(e, records=438, won=12, lost=109, open_=317, reached=[363, 179, 74, 12])
    assert f.loc["late_stage", "rate"] == pytest.approx(179 / 363)
    # 438 - 363 = 75 deals have no date in a mapped stage column (e.g. the Renewals pipeline)
    assert any("75 record(s) reached no phase" in n for n in e.notes)
    # 62 rows have a date in a won column while Is Closed Won is false: noted, not orders
    assert any("62 record(s) have a date in a won stage column" in n for n in e.notes)
    # won rows: (min of the won columns' dates - min of every mapped column's date).median()
    # = 6.3941 days
    assert days_first_to_won(e) == pytest.approx(6.394097, abs=1e-5)


def test_pipedrive_bec_status_only(tmp_path):
    # d = pd.read_excel(xlsx): 6,775 rows; 12 have `Deal closed on` before `Deal created`
    # (calendar days) -> quarantined, all 12 'Won'; left: Lost 5904, Won 646, Open 213.
    # No stage column: the funnel is created -> won only: reached = [6763, 646].
    e = load(write_sample_engagement(tmp_path, "pipedrive_bec"))
    f = check(e, records=6763, won=646, lost=5904, open_=213, reached=[6763, 646])
    assert e.quarantine["reason"].str.startswith("closed date").sum() == 12
    assert any("not in this export" in n and "Deal - Stage" in n for n in e.notes)
    assert f.loc["booked", "rate"] == pytest.approx(646 / 6763)
    assert not e.timing_known
    # won rows: (Deal closed on - Deal created).median() = 6 days 19:02:13.5
    assert days_first_to_won(e) == pytest.approx(
        pd.Timedelta("6 days 19:02:13.5").total_seconds() / 86400)
    assert SAMPLES.is_dir()


def test_pipedrive_bec_as_a_lead_list_without_dates(tmp_path):
    # The same export read as a lead list (`dated: false`, no as_of): no date is read, so the 12
    # rows closed before their creation are not set aside. d = pd.read_excel(xlsx): 6,775 rows,
    # `Deal - Status` Lost 5904, Won 658, Open 213; `Deal - Lead Source - Deals` == 'Google
    # Search' 1401 rows (no other spelling folds into it), of which Won 113.
    path = write_sample_engagement(tmp_path, "pipedrive_bec")
    path.write_text(path.read_text().replace("as_of: 2018-06-30\n", "").replace(
        "  preset: pipedrive\n", "  preset: pipedrive\n  dated: false\n"))
    e = load(path)
    f = check(e, records=6775, won=658, lost=5904, open_=213, reached=[6775, 658])
    assert f.loc["booked", "rate"] == pytest.approx(658 / 6775)
    assert e.records["created_at"].isna().all() and e.quarantine.empty
    c = reached_conversion(e, by="lead_source").set_index("lead_source")
    assert (c.loc["Google Search", "n"], c.loc["Google Search", "successes"]) == (1401, 113)
    with pytest.raises(NeedsDates, match="Cohort conversion"):
        cohort_conversion(e)


def test_salesforce_winkel_amounts_in_another_currency_are_not_summed(tmp_path):
    # o = Opportunity.csv: won deals by CurrencyIsoCode MXN 57, PEN 50, USD 34, COP 22; the 34
    # USD won amounts sum to 85,701.28; 399 of the 501 amounts are not in USD.
    path = write_sample_engagement(tmp_path, "salesforce_winkel")
    path.write_text(path.read_text().replace("as_of: 2023-12-31", "as_of: 2023-12-31\n"
                                             "currency: USD"))
    e = load(path)
    won = e.records[e.records["outcome"] == "won"]
    assert won["value"].notna().sum() == 34
    assert won["value"].sum() == pytest.approx(85701.28)
    assert any("399 amount(s) are in another currency than the engagement's USD" in n
               for n in e.notes)


def test_pipedrive_as_a_lead_list_gets_its_segment_scan_in_step_5(tmp_path):
    # Issue 21, item 9: a lead list's segments reach step 5. d = pd.read_excel(xlsx):
    # `Deal - Lead Source - Deals` == 'Eventective' 983 rows, of which `Deal - Status` == 'Won'
    # 10 (1.0%); `Deal - Event Type` == 'Church/Religious Meeting' 143 rows, Won 59 (41.3%).
    # Both differ from their typical segment (about 4% and 8%) far beyond chance.
    from toolkit.steps import diagnosis
    path = write_sample_engagement(tmp_path, "pipedrive_bec")
    path.write_text(path.read_text().replace("as_of: 2018-06-30\n", "").replace(
        "  preset: pipedrive\n", "  preset: pipedrive\n  dated: false\n"))
    result = diagnosis(load(path))
    scan = result.tables["segment scan"]
    assert "model_not_converged" not in set(scan["judgement"])  # every fit read converged
    flagged = result.tables["flagged segments"].set_index(["attribute", "segment"])
    source = flagged.loc[("lead_source", "Eventective")]
    assert (source["n"], source["successes"], source["direction"]) == (983, 10, "worse")
    event = flagged.loc[("event_type", "Church/Religious Meeting")]
    assert (event["n"], event["successes"], event["direction"]) == (143, 59, "better")
    assert "Segment scan" in result.sheets
