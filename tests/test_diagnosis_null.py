"""A company without planted effects: the segment scan must not cry wolf beyond what the
false-discovery rate allows (Benjamini-Hochberg at 5% controls the chance of any false flag at 5%
when nothing is going on)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit import Engagement
from toolkit.analysis.diagnosis import segment_scan

PHASES = [{"key": k, "label": k} for k in ("target", "lead", "order")]


def null_company(seed: int, n: int = 3000) -> Engagement:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    lead = rng.random(n) < 0.4                      # the same rate for every segment
    order = lead & (rng.random(n) < 0.3)
    ids = [f"N{i}" for i in range(n)]
    ev = [pd.DataFrame({"record_id": ids, "phase": "target", "entered_at": start})]
    ev.append(pd.DataFrame({"record_id": np.array(ids)[lead], "phase": "lead",
                            "entered_at": start[lead] + pd.Timedelta(days=5)}))
    ev.append(pd.DataFrame({"record_id": np.array(ids)[order], "phase": "order",
                            "entered_at": start[order] + pd.Timedelta(days=20)}))
    events = pd.concat(ev, ignore_index=True)
    events["source_stage"], events["source_row"] = events["phase"], range(2, len(events) + 2)
    closed = start + pd.Timedelta(days=20)
    records = pd.DataFrame({
        "record_id": ids, "created_at": start,
        "outcome": np.where(order, "won", "lost"), "closed_at": closed, "lost_at_phase": None,
        "value": 1000.0,
        "owner": rng.choice(["A", "B", "C", "D", "E"], n),
        "region": rng.choice(["Noord", "Midden", "Zuid"], n),
        "action": rng.choice(["cold calling", "event", "mailing", "network"], n)})
    return Engagement.from_tables(events, records, phases=PHASES,
                                  as_of=pd.Timestamp("2025-06-30"),
                                  segments=["owner", "region", "action"])


def test_no_planted_effect_means_almost_no_flags():
    seeds_with_a_flag = 0
    tested = 0
    for seed in range(10):
        scan = segment_scan(null_company(seed), min_n=30)
        tested += int(scan["p_adjusted"].notna().sum())
        seeds_with_a_flag += bool(scan["flagged"].any())
    # the scan really compared many segments: per company and step 4 owners, 2 regions and 4
    # actions against their typical one (the typical owner and region are not tested)
    assert tested >= 10 * 2 * (4 + 2 + 4)
    # expected about 0.5 companies in 10 at the 5% level; 3 or more would be a broken correction
    assert seeds_with_a_flag <= 2
