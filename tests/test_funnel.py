"""The funnel semantics of DESIGN.md, each pinned by a small hand-made event log whose answer was
worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit import Engagement
from toolkit.measure.funnel import cohort_conversion, funnel, period_conversion, reached_at, win_rate

T = pd.Timestamp
PHASES = [{"key": k, "label": k.upper()} for k in ("a", "b", "c", "d")]


def make(events: list[tuple], records: list[tuple], *, as_of="2025-06-30", **kw) -> Engagement:
    ev = pd.DataFrame(events, columns=["record_id", "phase", "entered_at"])
    ev["entered_at"] = pd.to_datetime(ev["entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    rec = pd.DataFrame(records, columns=["record_id", "outcome", "closed_at", "segment"])
    rec["closed_at"] = pd.to_datetime(rec["closed_at"])
    first = ev.groupby("record_id")["entered_at"].min()
    rec["created_at"] = rec["record_id"].map(first)
    rec["lost_at_phase"], rec["value"] = None, 1000.0
    return Engagement.from_tables(ev, rec, phases=PHASES, as_of=T(as_of), **kw)


@pytest.fixture
def skips_and_regressions():
    return make(
        [("R1", "a", "2025-01-01"), ("R1", "c", "2025-01-10"), ("R1", "b", "2025-01-15"),
         ("R2", "b", "2025-01-05"),
         ("R3", "a", "2025-01-02"), ("R3", "b", "2025-01-03"), ("R3", "c", "2025-01-04"),
         ("R3", "d", "2025-02-01")],
        [("R1", "open", None, "x"), ("R2", "lost", "2025-01-20", "y"),
         ("R3", "won", "2025-02-01", "x"), ("R4", "open", None, "y")])


def test_skip_counts_as_passed_and_regression_does_not_unreach(skips_and_regressions):
    r = reached_at(skips_and_regressions)
    # R1 skipped b (a -> c) and later moved back to b: reached b at the earliest entry at >= b,
    # which is c on 10 Jan, not the b on 15 Jan.
    assert r.loc["R1", "b"] == T("2025-01-10") and r.loc["R1", "c"] == T("2025-01-10")
    assert pd.isna(r.loc["R1", "d"])
    # R2 entered mid-funnel at b: a counts as passed on the same date
    assert r.loc["R2", "a"] == T("2025-01-05")
    # R4 has no events: it is in the table and reached nothing
    assert r.loc["R4"].isna().all()


def test_funnel_counts_rates_and_wilson_intervals(skips_and_regressions):
    f = funnel(skips_and_regressions).set_index("phase")
    # reached: a = R1,R2,R3 = 3; b = 3; c = R1,R3 = 2; d = R3 = 1
    assert f["reached"].tolist() == [3, 3, 2, 1]
    assert f.loc["c", "n"] == 3 and f.loc["c", "successes"] == 2
    assert f.loc["c", "rate"] == pytest.approx(2 / 3)
    # R prop.test(2, 3, correct = FALSE)$conf.int -> 0.2076596 0.9385072 (Wilson)
    assert f.loc["c", "ci_low"] == pytest.approx(0.2076596, abs=1e-6)
    assert f.loc["c", "ci_high"] == pytest.approx(0.9385072, abs=1e-6)
    # of the 3 at b, R2 was lost before c and nobody at b is open without c
    assert f.loc["c", "lost"] == 1 and f.loc["c", "open"] == 0
    # d: of R1 (open) and R3 (won) at c, R1 is still open: not counted as lost
    assert f.loc["d", "open"] == 1 and f.loc["d", "lost"] == 0
    assert f.loc["d", "cumulative_rate"] == pytest.approx(1 / 3)


def test_funnel_by_segment(skips_and_regressions):
    f = funnel(skips_and_regressions, by="segment")
    x = f[f["segment"] == "x"].set_index("phase")["reached"].tolist()
    assert x == [2, 2, 2, 1]  # R1 and R3


@pytest.fixture
def cohorts():
    # as_of 31 Mar, window 30 days -> mature when reached a on or before 1 Mar
    return make(
        [("R1", "a", "2025-01-01"), ("R1", "b", "2025-01-20"),   # converted in 19 days
         ("R2", "a", "2025-01-05"), ("R2", "b", "2025-02-20"),   # converted, but after 46 days
         ("R3", "a", "2025-01-10"),                              # lost
         ("R7", "a", "2025-01-25"), ("R7", "b", "2025-02-05"),   # converted in 11 days
         ("R6", "a", "2025-02-10"),                              # open, mature, not converted
         ("R5", "a", "2025-03-01"),                              # open, mature on the boundary
         ("R4", "a", "2025-03-15")],                             # immature
        [("R1", "open", None, "x"), ("R2", "open", None, "x"), ("R3", "lost", "2025-01-30", "x"),
         ("R7", "open", None, "y"), ("R6", "open", None, "y"), ("R5", "open", None, "y"),
         ("R4", "open", None, "y")], as_of="2025-03-31")


def test_cohort_conversion_excludes_immature_and_counts_open_mature_as_not_converted(cohorts):
    c = cohort_conversion(cohorts, from_phase="a", to_phase="b", window_days=30).set_index("period")
    # January cohort: R1 yes, R2 no (46 > 30 days), R3 no (lost), R7 yes -> 2 / 4
    assert (c.loc["2025-01", "n"], c.loc["2025-01", "successes"]) == (4, 2)
    # February: R6, open but its window closed -> 0 / 1
    assert (c.loc["2025-02", "n"], c.loc["2025-02", "successes"]) == (1, 0)
    # March: R5 (1 Mar = as_of - 30 days, mature) counts; R4 is immature, reported not counted
    assert (c.loc["2025-03", "n"], c.loc["2025-03", "immature_n"]) == (1, 1)
    assert (c["method"] == "cohort").all() and (c["window_days"] == 30).all()


def test_period_conversion_differs_from_cohort_on_a_built_case(cohorts):
    p = period_conversion(cohorts, from_phase="a", to_phase="b").set_index("period")
    # entries into b in February: R2 (20 Feb) and R7 (5 Feb) = 2; entries into a: R6 = 1 -> 200%
    assert (p.loc["2025-02", "successes"], p.loc["2025-02", "n"]) == (2, 1)
    assert p.loc["2025-02", "rate"] == pytest.approx(2.0)
    # January: entries into b = R1 = 1, into a = R1,R2,R3,R7 = 4 -> 25%, where the cohort says 50%
    assert p.loc["2025-01", "rate"] == pytest.approx(0.25)
    c = cohort_conversion(cohorts, from_phase="a", to_phase="b", window_days=30).set_index("period")
    assert c.loc["2025-01", "rate"] == pytest.approx(0.5)
    assert (p["method"] == "period").all()


def test_win_rate_keeps_open_deals_out_of_the_denominator(skips_and_regressions):
    w = win_rate(skips_and_regressions).iloc[0]
    # won R3, lost R2, open R1 and R4: 1 / (1 + 1), not 1 / 4
    assert (w["successes"], w["n"], w["open"]) == (1, 2, 2)
    assert w["rate"] == pytest.approx(0.5)


def test_wrong_arguments_name_the_allowed_values(cohorts):
    with pytest.raises(Exception, match=r"`period` must be one of \['month'"):
        cohort_conversion(cohorts, period="monthly")
    with pytest.raises(Exception, match=r"`by` must be record attributes.*'owner'"):
        funnel(cohorts, by="owner")
    with pytest.raises(Exception, match="must come after"):
        cohort_conversion(cohorts, from_phase="b", to_phase="a")
