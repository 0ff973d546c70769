"""The edge engagements (0 and 1 record, all open, all lost, an empty phase, one segment, a month
of one record, every row quarantined), shared by the edge-case tests and the steps' tests.

The cases are small Dutch stage histories; the expected numbers in the tests are worked out by hand
from them (comments give the arithmetic).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import yaml
from conftest import MAPPING, PHASES

from toolkit import Engagement

__all__ = ["CASES", "write_case", "empty_tables"]

START = dt.date(2025, 1, 6)
STAGES = ["Suspect", "Lead", "Potentieel", "Offerte", "Gewonnen"]  # target .. order


def _day(offset: int) -> str:
    return (START + dt.timedelta(days=offset)).strftime("%d-%m-%Y")


def _deal(i: int, stages: list[str], start: int, value: int = 1000) -> list[str]:
    """One deal moving through `stages`, 10 days apart, from day `start`."""
    return [f"D{i};{s};{_day(start + 10 * k)};{value};Noord" for k, s in enumerate(stages)]


def _lines(case: str) -> list[str]:
    out: list[str] = []
    if case == "quarantined":  # an impossible date, a blank date, an unknown stage
        return ["D1;Suspect;31-02-2025;100;Noord", "D2;Lead;;100;Noord",
                "D3;Onbekend;01-02-2025;1;Noord"]
    if case == "one_record":
        return ["D1;Suspect;01-02-2025;100;Noord"]
    if case in ("all_open", "all_lost"):
        # deal i reaches the first 1 + i % 4 phases: 2 deals each stop at target, lead,
        # opportunity and proposal; reached = 8, 6, 4, 2, 0
        for i in range(8):
            out += _deal(i, STAGES[: 1 + i % 4] + (["Verloren"] if case == "all_lost" else []),
                         start=7 * i)
        return out
    if case == "empty_phase":  # nobody reaches Offerte (so nobody the order either)
        for i in range(12):
            out += _deal(i, STAGES[: 1 + i % 3] + (["Verloren"] if i % 2 else []), start=7 * i)
        return out
    if case in ("one_segment", "one_record_month"):
        for i in range(40):
            k = i % 5
            lost = ["Verloren"] if k < 4 and i % 3 else []
            out += _deal(i, STAGES[: 1 + k] + lost, start=3 * i, value=1000 + 100 * i)
        if case == "one_record_month":  # July 2025 holds this one record only
            out += _deal(99, ["Suspect", "Lead"], start=200)
        return out
    raise KeyError(case)


CASES = ["quarantined", "one_record", "all_open", "all_lost", "empty_phase", "one_segment",
         "one_record_month"]


def write_case(folder, case: str):
    """Write the case's history CSV and engagement YAML into `folder`; the YAML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.csv").write_text("Deal;Fase;Datum;Bedrag;Regio\n"
                                        + "\n".join(_lines(case)) + "\n", encoding="utf-8")
    doc = {"name": case, "as_of": "2025-12-31", "phases": PHASES, "stage_mapping": MAPPING,
           "unknown_stages": "quarantine", "segments": ["region"],
           "sources": [{"name": "history", "path": "history.csv", "shape": "history",
                        "date_format": "dmy",
                        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum",
                                    "value": "Bedrag"},
                        "attributes": {"region": "Regio"}}]}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def empty_tables() -> Engagement:
    """An engagement of no records at all, from empty canonical tables."""
    events = pd.DataFrame({"record_id": pd.Series(dtype=str), "phase": pd.Series(dtype=str),
                           "entered_at": pd.Series(dtype="datetime64[ns]"),
                           "source_stage": pd.Series(dtype=str),
                           "source_row": pd.Series(dtype="int64")})
    records = pd.DataFrame({"record_id": pd.Series(dtype=str),
                            "created_at": pd.Series(dtype="datetime64[ns]"),
                            "outcome": pd.Series(dtype=str),
                            "closed_at": pd.Series(dtype="datetime64[ns]"),
                            "lost_at_phase": pd.Series(dtype=object),
                            "value": pd.Series(dtype=float)})
    return Engagement.from_tables(events, records, phases=PHASES,
                                  as_of=pd.Timestamp("2025-12-31"))
