"""Seasonality: a seasonal volume with a stable rate is recognised as such (and the reverse)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit import Engagement
from toolkit.measure.seasonality import seasonality

PHASES = [{"key": "lead", "label": "Lead"}, {"key": "order", "label": "Order"}]


def synthetic(seasonal_rate: bool, seed: int = 1) -> Engagement:
    rng = np.random.default_rng(seed)
    months = pd.period_range("2023-01", "2024-12", freq="M")
    rows, records = [], []
    i = 0
    for m in months:
        volume = 60 if m.month in (7, 8) else 200           # summer dip in volume
        rate = (0.15 if m.month in (7, 8) else 0.45) if seasonal_rate else 0.3
        for _ in range(volume):
            start = m.start_time + pd.Timedelta(days=int(rng.integers(0, 28)))
            rid = f"R{i}"
            i += 1
            rows.append((rid, "lead", start))
            won = rng.random() < rate
            if won:
                rows.append((rid, "order", start + pd.Timedelta(days=10)))
            records.append((rid, "won" if won else "lost", start + pd.Timedelta(days=10)))
    ev = pd.DataFrame(rows, columns=["record_id", "phase", "entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    rec = pd.DataFrame(records, columns=["record_id", "outcome", "closed_at"])
    rec["created_at"] = rec["record_id"].map(ev.groupby("record_id")["entered_at"].min())
    rec["lost_at_phase"], rec["value"] = None, 1.0
    return Engagement.from_tables(ev, rec, phases=PHASES, as_of=pd.Timestamp("2025-02-28"),
                                  cohort_window_days=30)


def test_seasonal_volume_with_stable_rate_says_steer_on_percentages():
    s = seasonality(synthetic(seasonal_rate=False))
    assert "steer on percentages" in s.headline
    volume, rate = s.tests["p_value"]
    assert volume < 1e-6 and rate > 0.05
    assert len(s.monthly) == 24 and s.monthly["volume"].min() == 60
    assert {"rate_2023", "rate_2024", "volume_2023"} <= set(s.year_over_year.columns)


def test_a_seasonal_rate_is_reported_as_such():
    s = seasonality(synthetic(seasonal_rate=True))
    assert "differs between calendar months" in s.headline
    assert s.tests["p_value"].iloc[1] < 1e-6


def test_incomplete_as_of_month_is_left_out():
    e = synthetic(False)
    e.__dict__["as_of"] = pd.Timestamp("2024-12-15")
    s = seasonality(e)
    assert "2024-12" not in set(s.monthly["period"])
    assert s.monthly["immature_n"].sum() > 0
