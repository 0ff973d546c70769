"""Property tests: the funnel rules hold for any event log, and the loader's reconciliation holds
for any mix of clean and dirty rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import write_engagement
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit import Engagement
from toolkit.funnel import cohort_conversion, funnel, reached_at
from toolkit.stats import rate_ci

PHASES = [{"key": k, "label": k} for k in ("a", "b", "c", "d")]
KEYS = [p["key"] for p in PHASES]
START = pd.Timestamp("2025-01-01")

event = st.tuples(st.integers(0, 7), st.sampled_from(KEYS), st.integers(0, 200))
logs = st.lists(event, min_size=1, max_size=40)


def engagement_from(log, as_of_day=150):
    ev = pd.DataFrame([(f"R{r}", p, START + pd.Timedelta(days=d)) for r, p, d in log],
                      columns=["record_id", "phase", "entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    ids = sorted(ev["record_id"].unique())
    won_at = ev[ev["phase"] == "d"].groupby("record_id")["entered_at"].min()
    closed = won_at.reindex(ids).astype("datetime64[ns]").reset_index(drop=True)
    rec = pd.DataFrame({"record_id": ids, "outcome": np.where(closed.notna(), "won", "open"),
                        "closed_at": closed,
                        "created_at": ev.groupby("record_id")["entered_at"].min().loc[ids].values,
                        "lost_at_phase": None, "value": 1.0})
    return Engagement.from_tables(ev, rec, phases=PHASES,
                                  as_of=START + pd.Timedelta(days=as_of_day))


@settings(max_examples=60, deadline=None)
@given(logs)
def test_reaching_a_phase_means_reaching_every_earlier_one_no_later(log):
    r = reached_at(engagement_from(log))
    for a, b in zip(KEYS[:-1], KEYS[1:], strict=True):
        both = r[b].notna()
        assert r.loc[both, a].notna().all()             # skip counts as passed
        assert (r.loc[both, a] <= r.loc[both, b]).all()  # reached earlier, never later
    counts = funnel(engagement_from(log))["reached"].tolist()
    assert counts == sorted(counts, reverse=True)


@settings(max_examples=60, deadline=None)
@given(logs, st.sampled_from(KEYS[:-1]), st.integers(0, 300))
def test_moving_back_never_unreaches_a_phase(log, back_to, day):
    before = reached_at(engagement_from(log)).notna()
    later = max(d for _, _, d in log) + 1 + day
    moved = reached_at(engagement_from(log + [(log[0][0], back_to, later)])).notna()
    rid = f"R{log[0][0]}"
    # the extra, later event at a lower phase only adds; it never removes a reached phase
    assert (moved.loc[rid] >= before.loc[rid]).all()
    assert moved.drop(index=rid).equals(before.drop(index=rid))


@settings(max_examples=40, deadline=None)
@given(logs, st.integers(0, 120), st.integers(1, 90))
def test_cohorts_count_every_record_once_as_mature_or_immature(log, as_of_day, window):
    e = engagement_from(log, as_of_day=as_of_day)
    c = cohort_conversion(e, from_phase="a", to_phase="b", window_days=window, period="month")
    reached = reached_at(e)["a"]
    assert c["n"].sum() + c["immature_n"].sum() == reached.notna().sum()
    assert (c["successes"] <= c["n"]).all()
    assert ((c["ci_low"] <= c["rate"]) | c["n"].eq(0)).all()


@given(st.integers(0, 500), st.integers(0, 500),
       st.sampled_from(["wilson", "jeffreys", "clopper-pearson", "agresti-coull", "wald"]))
def test_every_interval_contains_the_rate_within_zero_and_one(x, extra, method):
    n = x + extra
    low, high = rate_ci(x, n, method=method)
    if n == 0:
        assert np.isnan(low) and np.isnan(high)
    else:
        assert 0 <= low <= x / n + 1e-12 and x / n - 1e-12 <= high <= 1


STAGES = ["Suspect", "Lead", "Potentieel", "Offerte", "Gewonnen", "Verloren", "Test", " lead "]
row = st.tuples(st.sampled_from(["D1", "D2", "D3", ""]), st.sampled_from(STAGES),
                st.sampled_from(["03-01-2025 09:00", "15-02-2025 10:30", "", "31-02-2025 10:00",
                                 "20-03-2025 16:00"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(row, min_size=1, max_size=25))
def test_every_row_is_used_or_quarantined_with_a_reason(tmp_path, rows):
    lines = "\n".join(";".join(r) for r in rows)
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\n" + lines + "\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    e = Engagement.from_yaml(path, use_cache=False)
    r = e.reconciliation.iloc[0]
    assert r["rows_in"] == len(rows) == r["rows_used"] + r["rows_quarantined"]
    assert e.quarantine["reason"].str.len().gt(0).all()
    assert e.quarantine["source_row"].is_unique
