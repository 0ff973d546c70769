"""The presets added from public descriptions of CRM exports (HubSpot contacts with their lifecycle
stage dates, Dynamics 365 opportunities), each on a hand-made export in that format whose numbers
are worked out by hand in the comments."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import reconciles

from toolkit import Engagement
from toolkit.measure.funnel import funnel, reached_at, win_rate


def engagement(tmp_path, phases, mapping, source):
    doc = {"name": "t", "as_of": "2025-12-31", "phases": [{"key": k, "label": k} for k in phases],
           "stage_mapping": mapping, "sources": [source]}
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return Engagement.from_yaml(path, use_cache=False)


LIFECYCLE = ("Record ID,Create Date,Lifecycle Stage,Contact owner,Original Source,"
             "Became a Subscriber Date,Became a Lead Date,Became a Marketing Qualified Lead Date,"
             "Became a Sales Qualified Lead Date,Became an Opportunity Date,"
             "Became a Customer Date,Became an Evangelist Date,Became an Other Lifecycle Date\n"
             "101,2025-01-02 09:00,Customer,Anna,Organic Search,2025-01-02 09:00,"
             "2025-01-03 10:00,2025-01-10 10:00,2025-01-20 10:00,2025-02-01 10:00,"
             "2025-03-01 10:00,,\n"
             "102,2025-01-05 09:00,Marketing Qualified Lead,Bob,Paid Search,,2025-01-05 09:00,"
             "2025-01-15 12:00,,,,,\n"
             "103,2025-02-01 09:00,Lead,Bob,Organic Search,,2025-02-01 09:00,,,,,,\n"
             "104,2025-02-03 09:00,Opportunity,Anna,Referrals,,,,2025-02-10 09:00,"
             "2025-02-20 09:00,,,\n")


def test_hubspot_contacts_preset_reads_the_lifecycle_dates(tmp_path):
    (tmp_path / "contacts.csv").write_text(LIFECYCLE)
    e = engagement(tmp_path, ["lead", "mql", "sql", "opportunity", "customer"],
                   {"Subscriber": "ignore", "Lead": "lead", "Marketing Qualified Lead": "mql",
                    "Sales Qualified Lead": "sql", "Opportunity": "opportunity",
                    "Customer": "won", "Evangelist": "ignore", "Other Lifecycle": "ignore"},
                   {"name": "contacts", "path": "contacts.csv", "shape": "wide",
                    "preset": "hubspot_contacts"})
    reconciles(e)
    # reached: lead 4; mql 3 (101, 102, and 104 that entered at SQL: earlier phases count as
    # passed); sql 2 (101, 104); opportunity 2; customer 1 (101). No lost stage: the rest open.
    assert funnel(e)["reached"].tolist() == [4, 3, 2, 2, 1]
    rec = e.records.set_index("record_id")
    assert rec["outcome"].to_dict() == {"101": "won", "102": "open", "103": "open",
                                        "104": "open"}
    r = reached_at(e)
    # 101: Lead 2025-01-03 10:00 -> MQL 2025-01-10 10:00 is 7 days; Customer on 2025-03-01
    assert (r.loc["101", "mql"] - r.loc["101", "lead"]) == pd.Timedelta(days=7)
    assert r.loc["101", "customer"] == pd.Timestamp("2025-03-01 10:00")
    assert rec.loc["101", "created_at"] == pd.Timestamp("2025-01-02 09:00")
    assert rec.loc["101", "original_source"] == "Organic Search"
    assert rec.loc["101", "owner"].startswith("P-")  # employee names are pseudonymised


DYNAMICS = ("(Do Not Modify) Opportunity,Topic,Status,Status Reason,Created On,"
            "Actual Close Date,Est. Revenue,Pipeline Phase,Owner\n"
            "{G1},Deal A,Won,Won,2025-01-10,2025-03-05,10000,4-Close,Anna\n"
            "{G2},Deal B,Lost,Out-Sold,2025-01-15,2025-02-01,5000,2-Develop,Bob\n"
            "{G3},Deal C,Open,In Progress,2025-02-01,,8000,3-Propose,Bob\n"
            "{G4},Deal D,Lost,Canceled,2025-02-10,2025-02-20,,1-Qualify,Anna\n")


def test_dynamics_preset_reads_status_and_pipeline_phase(tmp_path):
    (tmp_path / "opportunities.csv").write_text(DYNAMICS)
    e = engagement(tmp_path, ["qualify", "develop", "propose", "close", "order"],
                   {"1-Qualify": "qualify", "2-Develop": "develop", "3-Propose": "propose",
                    "4-Close": "close"},
                   {"name": "opportunities", "path": "opportunities.csv", "shape": "snapshot",
                    "preset": "dynamics"})
    reconciles(e)
    rec = e.records.set_index("record_id")
    # Status decides: G1 won, G2 and G4 lost (at their pipeline phase), G3 open at Propose
    assert rec["outcome"].to_dict() == {"{G1}": "won", "{G2}": "lost", "{G3}": "open",
                                        "{G4}": "lost"}
    assert rec.loc["{G2}", "lost_at_phase"] == "develop"
    assert rec.loc["{G4}", "lost_at_phase"] == "qualify"
    # reached: qualify 4; develop 3 (G1 G2 G3); propose 2 (G1 G3); close 1; order 1 (G1, on its
    # Actual Close Date)
    assert funnel(e)["reached"].tolist() == [4, 3, 2, 1, 1]
    assert reached_at(e).loc["{G1}", "order"] == pd.Timestamp("2025-03-05")
    w = win_rate(e)  # 1 won / (1 won + 2 lost), G3 open
    assert (w["successes"].iloc[0], w["n"].iloc[0]) == (1, 3)
    assert rec.loc["{G1}", "value"] == pytest.approx(10000)


ODOO = ("ID,Opportunity,Stage,Created on,Closed Date,Expected Revenue,Active,Salesperson,"
        "Sales Team,Lost Reason\n"
        "__export__.crm_lead_1,Deal A,Won,2025-01-10 09:00:00,2025-03-01 10:00:00,12000,True,"
        "Mitchell Admin,Sales,\n"
        "__export__.crm_lead_2,Deal B,Proposition,2025-01-12 09:00:00,2025-02-01 10:00:00,4000,"
        "False,Marc Demo,Sales,Too expensive\n"
        "__export__.crm_lead_3,Deal C,Qualified,2025-02-01 09:00:00,,6000,True,Marc Demo,"
        "Website,\n"
        "__export__.crm_lead_4,Deal D,New,2025-02-05 09:00:00,2025-02-06 09:00:00,,False,"
        "Mitchell Admin,Website,Not enough stock\n"
        "__export__.crm_lead_5,Deal E,Won,2025-01-20 09:00:00,2025-02-20 09:00:00,3000,False,"
        "Marc Demo,Sales,\n")


def test_odoo_preset_reads_an_archived_opportunity_as_lost_at_its_stage(tmp_path):
    (tmp_path / "crm.lead.csv").write_text(ODOO)
    e = engagement(tmp_path, ["new", "qualified", "proposition", "order"],
                   {"New": "new", "Qualified": "qualified", "Proposition": "proposition",
                    "Won": "won"},
                   {"name": "leads", "path": "crm.lead.csv", "shape": "snapshot",
                    "preset": "odoo"})
    reconciles(e)
    rec = e.records.set_index("record_id")
    ids = [f"__export__.crm_lead_{i}" for i in range(1, 6)]
    # 1 won; 2 archived in Proposition: lost there; 3 active: open; 4 archived in New: lost
    # there; 5 archived but in the won stage: won (Odoo's own rule)
    assert rec.loc[ids, "outcome"].tolist() == ["won", "lost", "open", "lost", "won"]
    assert rec.loc[ids[1], "lost_at_phase"] == "proposition"
    assert rec.loc[ids[3], "lost_at_phase"] == "new"
    # reached: new 5; qualified 4 (1 2 3 5); proposition 3 (1 2 5); order 2 (1 5)
    assert funnel(e)["reached"].tolist() == [5, 4, 3, 2]
    w = win_rate(e)  # 2 won / (2 won + 2 lost), 1 open
    assert (w["successes"].iloc[0], w["n"].iloc[0], w["open"].iloc[0]) == (2, 4, 1)
    assert reached_at(e).loc[ids[0], "order"] == pd.Timestamp("2025-03-01 10:00")
    assert not any("says otherwise" in n for n in e.notes)
