"""Step 5, the low-hanging fruit: hand-made engagements whose answers were worked out by hand (the
arithmetic is in the comments), a seeded synthetic engagement with a planted effect, and the demo
company's answer key."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import write_salesforce_engagement
from scipy import stats

from toolkit import Engagement
from toolkit.analysis.diagnosis import (
    bottleneck_sizing,
    leak_detail,
    low_hanging_fruit,
    mix_vs_rate,
    segment_scan,
    shortage_or_leak,
)
from toolkit.base.exceptions import ConfigError, SmallSampleWarning, ToolkitError
from toolkit.measure.actions import action_yield
from toolkit.measure.funnel import cohort_conversion
from toolkit.stats import cmh_test, diff_ci, two_rate_test

T = pd.Timestamp
DAY = pd.Timedelta(days=1)


def phases(keys: str) -> list[dict]:
    return [{"key": k, "label": k.upper()} for k in keys]


class Builder:
    """Records that walk the phase model one step every `gap` days, in blocks of equal records."""

    def __init__(self, keys: str) -> None:
        self.keys = keys
        self.events: list[tuple] = []
        self.records: list[dict] = []

    def add(self, n: int, reach: str, *, start: str | pd.Timestamp, every: float = 1.0,
            gap: float = 2.0, outcome: str | None = None, closed_after: float = 10.0,
            lost_at: str | None = "auto", value: float = 500.0, **attrs) -> None:
        """n records starting at phase `keys[0]` at start + m*every days and reaching `reach`."""
        top = self.keys.index(reach)
        for m in range(n):
            rid = f"R{len(self.records) + 1:05d}"
            at = T(start) + m * every * DAY
            for k in range(top + 1):
                self.events.append((rid, self.keys[k], at + k * gap * DAY))
            last = at + top * gap * DAY
            won = top == len(self.keys) - 1
            out = "won" if won else (outcome or "lost")
            self.records.append({
                "record_id": rid, "created_at": at, "outcome": out,
                "closed_at": last if won else (last + closed_after * DAY if out == "lost" else None),
                "lost_at_phase": (reach if lost_at == "auto" else lost_at) if out == "lost" else None,
                "value": value, **attrs})

    def engagement(self, *, as_of, **kw) -> Engagement:
        ev = pd.DataFrame(self.events, columns=["record_id", "phase", "entered_at"])
        ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
        rec = pd.DataFrame(self.records)
        rec["closed_at"] = pd.to_datetime(rec["closed_at"])
        return Engagement.from_tables(ev, rec, phases=phases(self.keys), as_of=T(as_of), **kw)


# The first entry is at 2025-01-01 00:00; this as-of date makes the observed span exactly 365.25
# days, so "entries per year" are plain counts.
AS_OF_YEAR = "2026-01-01 06:00"


@pytest.fixture
def chain():
    """200 at a -> 100 at b -> 40 at c -> 10 at d (won). Rates 0.5, 0.4, 0.25."""
    b = Builder("abcd")
    b.add(10, "d", start="2025-01-01", value=2000.0)
    b.add(30, "c", start="2025-01-01")
    b.add(60, "b", start="2025-01-01")
    b.add(100, "a", start="2025-01-01")
    return b.engagement(as_of=AS_OF_YEAR, cohort_window_days=30,
                        targets={"conversion_b_c": 0.5, "orders_per_month": 5.0})


BENCH = pd.DataFrame({"from_phase": ["a", "c"], "to_phase": ["b", "d"], "low": [0.4, 0.1],
                      "typical": [0.6, 0.2], "high": [0.7, 0.3], "source": ["hand", "hand"]})


# --- bottleneck sizing ------------------------------------------------------------------------

def test_bottleneck_propagation_arithmetic(chain):
    s = bottleneck_sizing(chain, benchmarks=BENCH, draws=2000, seed=7)
    t = s[s["reference"] == "target"].iloc[0]
    # target 0.5 at b -> c: 100 entries into b per year x (0.5 - 0.4) x later rate 0.25 = 2.5
    assert (t["from_phase"], t["to_phase"], t["n"], t["successes"]) == ("b", "c", 100, 40)
    assert t["rate"] == pytest.approx(0.4) and t["later_rate"] == pytest.approx(0.25)
    assert t["extra_orders"] == pytest.approx(2.5)
    assert t["entries_per_period"] == pytest.approx(100 / 12)      # per month
    # average won value: the 10 won deals are worth 2000 each -> 2.5 x 2000
    assert t["extra_revenue"] == pytest.approx(5000.0)
    bench = s[s["reference"] == "benchmark"].set_index("from_phase")
    # a -> b at 0.6: 200 x 0.1 x (0.4 x 0.25) = 2.0;  c -> d at 0.2: 40 x (0.2 - 0.25) x 1 = -2.0
    assert bench.loc["a", "extra_orders"] == pytest.approx(2.0)
    assert bench.loc["c", "extra_orders"] == pytest.approx(-2.0)
    assert bench.loc["a", "rank"] == 1 and bench.loc["c", "rank"] == 2
    assert bench.loc["a", "reference_detail"] == "typical rate, hand"
    # the rates are the funnel's own cohort conversions
    cc = cohort_conversion(chain, period="all", window_days=30).set_index("from_phase")
    base = s.drop_duplicates("from_phase").set_index("from_phase")
    for phase in "abc":
        assert base.loc[phase, "n"] == cc.loc[phase, "n"]
        assert base.loc[phase, "successes"] == cc.loc[phase, "successes"]
        assert base.loc[phase, "ci_low"] == pytest.approx(cc.loc[phase, "ci_low"])


def test_monte_carlo_range_contains_the_estimate_and_is_reproducible(chain):
    s = bottleneck_sizing(chain, benchmarks=BENCH, draws=2000, seed=7)
    sized = s[s["reference"].isin(["target", "benchmark"])]
    assert (sized["extra_orders_low"] < sized["extra_orders"]).all()
    assert (sized["extra_orders"] < sized["extra_orders_high"]).all()
    assert np.allclose(sized["extra_revenue_low"], sized["extra_orders_low"] * 2000.0)
    again = bottleneck_sizing(chain, benchmarks=BENCH, draws=2000, seed=7)
    pd.testing.assert_frame_equal(s, again)
    other = bottleneck_sizing(chain, benchmarks=BENCH, draws=2000, seed=8)
    assert not np.allclose(other["extra_orders_low"].dropna(), s["extra_orders_low"].dropna())
    # no draws, no range; the point estimates do not depend on the draws
    none = bottleneck_sizing(chain, benchmarks=BENCH, draws=0)
    assert none["extra_orders_low"].isna().all()
    assert np.allclose(none["extra_orders"], s["extra_orders"], equal_nan=True)


@pytest.fixture
def monthly():
    """a -> b only. Five monthly cohorts of 10 with 2, 4, 5, 6, 8 conversions (overall 25/50);
    channel x: 15 of 25 convert, channel y: 10 of 25."""
    b = Builder("ab")
    channels = iter(["x"] * 15 + ["y"] * 10 + ["x"] * 10 + ["y"] * 15)
    converters = []
    for month, wins in zip(range(1, 6), (2, 4, 5, 6, 8), strict=True):
        start = f"2025-{month:02d}-01"
        converters.append((wins, start))
    for wins, start in converters:   # converters first: channels x (15) then y (10)
        for m in range(wins):
            b.add(1, "b", start=T(start) + m * DAY, channel=next(channels))
    for wins, start in converters:   # then the non-converters: x (10) then y (15)
        for m in range(10 - wins):
            b.add(1, "a", start=T(start) + (wins + m) * DAY, channel=next(channels))
    return b.engagement(as_of=AS_OF_YEAR, cohort_window_days=30, segments=["channel"])


def test_best_period_is_a_quantile_of_the_period_rates(monthly):
    raw = bottleneck_sizing(monthly, min_n=10, shrink=False, draws=500)
    row = raw[raw["reference"] == "best_period"].iloc[0]
    # np.quantile([.2, .4, .5, .6, .8], .8): position 3.2 -> 0.6 + 0.2 x 0.2 = 0.64
    assert row["reference_rate"] == pytest.approx(0.64)
    # 50 entries per year x (0.64 - 0.5) x 1 = 7.0
    assert row["extra_orders"] == pytest.approx(7.0)
    assert "5 monthly cohort rates" in row["reference_detail"]
    shrunk = bottleneck_sizing(monthly, min_n=10, draws=500)
    row = shrunk[shrunk["reference"] == "best_period"].iloc[0]
    # var(rates, ddof=1) = 0.05, noise 0.5 x 0.5 / 10 = 0.025 -> tau2 = 0.025, B = 0.5:
    # shrunk rates .35 .45 .50 .55 .65, 80th percentile 0.57; gain 50 x 0.07 = 3.5
    assert row["reference_rate"] == pytest.approx(0.57)
    assert row["extra_orders"] == pytest.approx(3.5)
    assert row["extra_orders_low"] < 3.5 < row["extra_orders_high"]


def test_best_segment_reference(monthly):
    raw = bottleneck_sizing(monthly, min_n=10, shrink=False, draws=0)
    row = raw[raw["reference"] == "best_segment"].iloc[0]
    assert row["reference_rate"] == pytest.approx(0.6)          # channel x: 15 / 25
    assert row["extra_orders"] == pytest.approx(5.0)            # 50 x (0.6 - 0.5)
    assert row["reference_detail"].startswith("channel = x (n=25")
    shrunk = bottleneck_sizing(monthly, min_n=10, draws=0)
    row = shrunk[shrunk["reference"] == "best_segment"].iloc[0]
    # var([.6, .4], ddof=1) = 0.02, noise 0.25 / 25 = 0.01 -> B = 0.5 -> 0.5 + 0.5 x 0.1 = 0.55
    assert row["reference_rate"] == pytest.approx(0.55)


def test_best_period_needs_enough_periods(monthly):
    # with min_n = 11 no monthly cohort qualifies; quarters: Q1 has 30, Q2 has 20 -> only 2
    s = bottleneck_sizing(monthly, min_n=11, draws=0)
    row = s[s["reference"] == "best_period"].iloc[0]
    assert np.isnan(row["reference_rate"]) and np.isnan(row["extra_orders"])
    assert "fewer than 4 periods" in row["reference_detail"]


def test_sizing_rejects_bad_options(chain):
    with pytest.raises(ToolkitError, match=r"`horizon` must be one of \['week', 'month'"):
        bottleneck_sizing(chain, horizon="decade")
    with pytest.raises(ConfigError, match="conversion_b_c"):
        bottleneck_sizing(chain, targets={"conversion_b_c": 40})
    with pytest.warns(UserWarning, match="x -> y"):
        bottleneck_sizing(chain, benchmarks=pd.DataFrame(
            {"from_phase": ["x"], "to_phase": ["y"], "typical": [0.5]}), draws=0)


# --- shortage or leak -------------------------------------------------------------------------

def _funnel_with(rates: list[float], start_n: int, **kw) -> Engagement:
    """Five phases a..e; `start_n` records at a, each step keeping round(n x rate) records."""
    counts = [start_n]
    for r in rates:
        counts.append(round(counts[-1] * r))
    b = Builder("abcde")
    keys = "abcde"
    for k in range(len(keys) - 1, -1, -1):
        stop_here = counts[k] - (counts[k + 1] if k + 1 < len(counts) else 0)
        b.add(stop_here, keys[k], start="2024-01-01", every=0.5)
    return b.engagement(as_of="2026-01-01", cohort_window_days=30, **kw)


def _steady_funnel(rates: list[float], start_n: int, keys: str = "abcde", **kw) -> Engagement:
    """Like `_funnel_with`, but the records' final phases are shuffled in time (seed 0), so each
    step converts at the same rate in every year: a funnel with no history to speak of."""
    counts = [start_n]
    for r in rates:
        counts.append(round(counts[-1] * r))
    finals = np.concatenate([np.full(counts[k] - (counts[k + 1] if k + 1 < len(counts) else 0), k)
                             for k in range(len(counts))])
    np.random.default_rng(0).shuffle(finals)
    b = Builder(keys)
    for m, k in enumerate(finals):
        b.add(1, keys[k], start=T("2024-01-01") + m * 0.5 * DAY)
    return b.engagement(as_of="2026-01-01", cohort_window_days=30, **kw)


FLAT = pd.DataFrame({"from_phase": list("abcd"), "to_phase": list("bcde"),
                     "typical": [0.5, 0.5, 0.5, 0.5], "source": "hand"})


def test_leak_when_the_late_phases_fall_short():
    # 1000 -> 500 -> 250 -> 50 -> 10. Without a range the benchmark's low end is its typical
    # 0.5. Early step a -> b (before the lead phase b, the second phase) converts 0.5: not
    # below; b -> c is late and not below either. Late c -> d
    # converts 50/250 = 0.2: exact one-sided binomial p = P(X <= 50 | 250, 0.5) ~ 1e-22, far
    # below 0.01 after Holm; d -> e 10/50 likewise (p ~ 1e-5).
    v = shortage_or_leak(_funnel_with([0.5, 0.5, 0.2, 0.2], 1000), benchmarks=FLAT)
    assert v.case == "leak"
    assert v.headline.startswith("Leak: c -> d converts 20.0% against 50.0% for the benchmark")
    ev = v.evidence.set_index(["rule", "quantity"])
    assert ev.loc[("benchmark (late)", "c -> d"), "points_to"] == "below"
    assert ev.loc[("benchmark (early)", "a -> b"), "points_to"] == "not demonstrably below"
    assert ev.loc[("benchmark (late)", "c -> d"), "value"] == pytest.approx(0.2)
    assert "stop opportunities from dropping out" in v.advice


def test_shortage_when_the_early_phases_fall_short_and_leads_miss_the_target():
    # 5000 -> 1000 -> 200 -> 100 -> 50, the leads declared at c: a -> b and b -> c (early)
    # convert 0.2 against 0.5. Volume: entries into c (the lead phase) 200 in 731 days = 24.02
    # months = 8.33 a month; 20 orders a month at c -> e = 0.5 x 0.5 need 80 a month (also at
    # the benchmark).
    e = _funnel_with([0.2, 0.2, 0.5, 0.5], 5000, targets={"orders_per_month": 20},
                     lead_phase="c")
    v = shortage_or_leak(e, benchmarks=FLAT)
    assert v.case == "shortage"
    vol = v.evidence[v.evidence["rule"] == "volume vs order target"].iloc[0]
    assert vol["value"] == pytest.approx(200 / (731 / (365.25 / 12)))
    assert vol["reference_value"] == pytest.approx(80.0)
    assert vol["points_to"] == "short"
    assert "build the early phases first" in v.advice


def test_the_lead_volume_finding_carries_the_fields_its_evidence_is_written_from():
    # The funnel above: 8.33 entries into c a month against 80 needed for 20 orders a month at
    # today's c -> e conversion of 0.5 x 0.5 = 0.25.
    e = _funnel_with([0.2, 0.2, 0.5, 0.5], 5000, targets={"orders_per_month": 20},
                     lead_phase="c")
    fruit = low_hanging_fruit(e, benchmarks=FLAT, draws=200)
    row = fruit.table[fruit.table["area"] == "volume"].iloc[0]
    assert row["from_phase"] == "c"
    assert row["rate"] == pytest.approx(200 / (731 / (365.25 / 12)))
    assert row["orders_target"] == 20 and row["order_rate"] == pytest.approx(0.25)
    assert row["reference_rate"] == pytest.approx(80.0)
    assert row["entries_ci_low"] < row["rate"] < row["entries_ci_high"]
    # the library's own sentence holds the same numbers
    assert row["evidence"].startswith(f"95% interval {row['entries_ci_low']:,.1f} to "
                                      f"{row['entries_ci_high']:,.1f} per month; 20.0 orders")


def test_no_clear_low_hanging_fruit_when_no_step_is_demonstrably_off():
    v = shortage_or_leak(_funnel_with([0.5, 0.5, 0.5, 0.5], 1000), benchmarks=FLAT)
    assert v.case == "no clear low-hanging fruit"
    # it says what data would decide it: here no targets and no order target were given
    assert "What would decide it: conversion targets per step" in v.headline
    assert "order target" in v.headline


def test_shortage_or_leak_rests_on_tests_not_on_a_margin():
    # What was seen: without targets the verdict compared each half with its own 80th-percentile
    # month and called "11.6% against 12.4%" a shortage. A steady funnel without references
    # is no verdict at all.
    v = shortage_or_leak(_steady_funnel([0.3, 0.4, 0.3, 0.4], 3000))
    assert v.case == "no clear low-hanging fruit"
    assert "Plenty of leads" not in v.headline


def test_one_transition_has_no_split():
    b = Builder("ab")
    b.add(200, "b", start="2024-01-01", every=1)
    b.add(300, "a", start="2024-01-01", every=1)
    v = shortage_or_leak(b.engagement(as_of="2026-01-01", cohort_window_days=30))
    assert v.case == "one transition"
    assert v.headline.startswith("A funnel of one transition has no shortage/leak split")


def test_too_few_records_to_conclude():
    v = shortage_or_leak(_funnel_with([0.5, 0.5, 0.2, 0.2], 20), benchmarks=FLAT)
    assert v.case == "insufficient data"
    assert v.headline.startswith("Too few records to conclude: only 20 mature records")


def test_salesforce_sample_is_too_small_to_conclude(tmp_path):
    path = write_salesforce_engagement(tmp_path)
    e = Engagement.from_yaml(path, use_cache=False)
    assert len(e.records) == 36
    v = shortage_or_leak(e)
    assert v.case == "insufficient data"
    assert "Too few records to conclude" in v.headline
    assert "insufficient data" in v._repr_html_()
    fruit = low_hanging_fruit(e, draws=200)
    assert fruit.verdict.case == "insufficient data"


# --- segment scan -----------------------------------------------------------------------------

@pytest.fixture
def regions():
    """a -> b: region A 120/200, B 60/200, C 60/200, D 8/8 (tiny)."""
    b = Builder("ab")
    rng = np.random.default_rng(1)
    for region, n, wins in (("A", 200, 120), ("B", 200, 60), ("C", 200, 60), ("D", 8, 8)):
        for m in range(n):
            b.add(1, "b" if m < wins else "a", start=T("2024-01-01") + m * DAY, region=region,
                  value=float(rng.integers(1, 100) * 100))
    return b.engagement(as_of="2026-01-01", cohort_window_days=30, segments=["region"])


def test_segment_scan_flags_the_planted_segment_and_never_a_tiny_one(regions):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)   # the scan must not spam warnings
        scan = segment_scan(regions)
    rows = scan[scan["attribute"] == "region"].set_index("segment")
    a = rows.loc["A"]
    assert (a["n"], a["successes"], a["rest_n"], a["rest_successes"]) == (200, 120, 408, 128)
    assert a["flagged"] and a["direction"] == "better"
    # the typical region is B or C (0.30 each; the median of A, B, C): odds ratio of A against it
    # (0.6 / 0.4) / (0.3 / 0.7) = 3.5, up to the value band and cohort year in the same model
    assert a["typical_rate"] == pytest.approx(0.30)
    assert a["odds_ratio"] == pytest.approx(3.5, rel=0.15)
    low, high = diff_ci(120, 200, 60, 200, method="newcombe")
    assert (a["diff_ci_low"], a["diff_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert a["finding"].startswith("region = A converts 60.0% at a -> b (n=200) against 30.0% "
                                   "for the typical region: better")
    assert not rows.loc["B", "flagged"] and not rows.loc["C", "flagged"]
    d = rows.loc["D"]
    assert not d["flagged"] and np.isnan(d["p_adjusted"])
    assert d["finding"] == ("region = D: too few records to judge at a -> b (only 8; at least 30 "
                            "needed).")
    tested = scan[scan["p_adjusted"].notna()]
    assert (tested["p_adjusted"] >= tested["p_value"] - 1e-12).all()
    # no automatic band from a close value: bands only when `value_bands` are declared
    assert "value_band" not in set(scan["attribute"])
    assert scan["flagged"].iloc[0]   # flagged rows first


def test_a_normal_segment_beside_a_bad_one_is_not_flagged():
    # What was seen: "region = Noord converts better" where Noord was normal and only beat a
    # "rest" dominated by the bad region. Noord 120/400 and Midden 120/400 (0.30), Zuid 40/400
    # (0.10): against the rest (160/800 = 0.20) Noord looks 10 points better (z = 3.8); against
    # the typical region (Midden, 0.30) it is the same.
    b = Builder("ab")
    for region, n, wins in (("Noord", 400, 120), ("Midden", 400, 120), ("Zuid", 400, 40)):
        for m in range(n):
            b.add(1, "b" if m < wins else "a", start=T("2024-01-01") + (m % 300) * DAY,
                  region=region)
    scan = segment_scan(b.engagement(as_of="2026-01-01", cohort_window_days=30,
                                     segments=["region"]), attributes=["region"])
    rows = scan.set_index("segment")
    assert rows.loc["Noord", "rest_rate"] == pytest.approx(0.20)
    assert two_rate_test(120, 400, 160, 800).p_value < 0.001   # what "against the rest" said
    assert rows.loc["Zuid", "flagged"] and rows.loc["Zuid", "direction"] == "worse"
    assert not rows.loc["Noord", "flagged"] and not rows.loc["Midden", "flagged"]


def test_segment_scan_value_bands_from_the_config(regions):
    regions.config.value_bands = [5000.0]
    scan = segment_scan(regions, attributes=["value_band"])
    assert set(scan["segment"]) == {"< 5,000", ">= 5,000"}
    assert scan["n"].sum() == 608


def test_planted_effect_found_in_a_larger_synthetic_engagement():
    # 6000 records, a -> b -> c; b -> c converts 0.30, but 0.45 in region R3; product is noise
    rng = np.random.default_rng(20240601)
    n = 6000
    region = rng.choice(["R1", "R2", "R3", "R4", "R5"], size=n)
    product = rng.choice(["P1", "P2", "P3"], size=n)
    start = T("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    to_b = rng.random(n) < 0.4
    to_c = to_b & (rng.random(n) < np.where(region == "R3", 0.45, 0.30))
    ids = np.array([f"S{i:05d}" for i in range(n)])
    ev = [pd.DataFrame({"record_id": ids, "phase": "a", "entered_at": start}),
          pd.DataFrame({"record_id": ids[to_b], "phase": "b", "entered_at": start[to_b] + 3 * DAY}),
          pd.DataFrame({"record_id": ids[to_c], "phase": "c", "entered_at": start[to_c] + 9 * DAY})]
    events = pd.concat(ev, ignore_index=True)
    events["source_stage"], events["source_row"] = events["phase"], np.arange(len(events)) + 2
    highest = np.where(to_c, "c", np.where(to_b, "b", "a"))
    records = pd.DataFrame({
        "record_id": ids, "created_at": start, "outcome": np.where(to_c, "won", "lost"),
        "closed_at": start + 20 * DAY, "lost_at_phase": np.where(to_c, None, highest),
        "value": 1000.0, "region": region, "product": product})
    e = Engagement.from_tables(events, records, phases=phases("abc"), as_of=T("2025-06-30"),
                               segments=["region", "product"])
    scan = segment_scan(e)
    flagged = scan[scan["flagged"]]
    top = flagged.iloc[0]
    assert (top["attribute"], top["segment"], top["from_phase"], top["direction"]) == (
        "region", "R3", "b", "better")
    assert 0.08 < top["diff"] < 0.22
    assert not (flagged["attribute"] == "product").any()
    # the scan's counts are the funnel's cohort counts per segment
    cc = cohort_conversion(e, by="region", period="all").set_index(["from_phase", "region"])
    mine = scan[scan["attribute"] == "region"].set_index(["from_phase", "segment"])
    for key in cc.index:
        assert mine.loc[key, "n"] == cc.loc[key, "n"]
        assert mine.loc[key, "successes"] == cc.loc[key, "successes"]


# --- action yield -----------------------------------------------------------------------------

@pytest.fixture
def actions():
    b = Builder("abc")
    b.add(5, "c", start="2025-01-02", action="event")
    b.add(15, "b", start="2025-01-02", action="event")
    b.add(20, "a", start="2025-01-02", action="event")
    b.add(1, "c", start="2025-01-02", action="cold calling")
    b.add(5, "b", start="2025-01-02", action="cold calling")
    b.add(54, "a", start="2025-01-02", action="cold calling")
    return b.engagement(as_of="2025-12-31", cohort_window_days=30)


def test_action_yield_rates_and_cost_per_lead(actions):
    costs = [{"action": "event", "cost": 1000}, {"action": "cold calling", "cost": 600}]
    y = action_yield(actions, costs=costs).set_index("action")
    # event: 20 of 40 qualified, 5 orders; cold calling: 6 of 60, 1 order
    assert (y.loc["event", "n"], y.loc["event", "successes"], y.loc["event", "orders"]) == (40, 20, 5)
    assert y.loc["event", "cost_per_lead"] == pytest.approx(50.0)          # 1000 / 20
    assert y.loc["event", "cost_per_order"] == pytest.approx(200.0)        # 1000 / 5
    assert y.loc["cold calling", "cost_per_lead"] == pytest.approx(100.0)  # 600 / 6
    assert y.loc["cold calling", "rate"] == pytest.approx(0.1)
    # R prop.test(20, 40, correct = FALSE)$conf.int -> 0.3519953 0.6480047 (Wilson)
    assert y.loc["event", "ci_low"] == pytest.approx(0.3519953, abs=1e-6)
    assert list(y.index) == ["event", "cold calling"]  # cheapest lead first
    no_cost = action_yield(actions)
    assert no_cost["cost"].isna().all() and no_cost["action"].iloc[0] == "event"


def test_action_yield_with_cost_periods(actions):
    costs = pd.DataFrame({"action": ["event", "event"], "period": ["2025Q1", "2025Q2"],
                          "cost": [800.0, 300.0]})
    y = action_yield(actions, costs=costs).set_index("period")
    # every event record reached a between 2 Jan and 10 Feb 2025: all in Q1
    assert y.loc["2025Q1", "leads"] == 20 and y.loc["2025Q1", "cost_per_lead"] == pytest.approx(40)
    assert y.loc["2025Q2", "leads"] == 0 and np.isnan(y.loc["2025Q2", "cost_per_lead"])
    with pytest.raises(ConfigError, match="lacks the column"):
        action_yield(actions, costs=[{"channel": "event", "cost": 1}])
    with pytest.raises(ToolkitError, match="`attribute` must be one of the record attributes"):
        action_yield(actions, action="channel")


# --- mix vs rate ------------------------------------------------------------------------------

def _two_periods(later: dict[str, tuple[int, int]],
                 earlier: dict[str, tuple[int, int]] | None = None) -> Engagement:
    """a -> b by channel. 2024: `earlier` (default s1 80/100, s2 20/100). 2025: `later`
    {segment: (n, successes)}."""
    b = Builder("ab")
    earlier = earlier or {"s1": (100, 80), "s2": (100, 20)}
    for year, table in (("2024", earlier), ("2025", later)):
        for seg, (n, wins) in table.items():
            b.add(wins, "b", start=f"{year}-02-01", every=1.0, channel=seg)
            b.add(n - wins, "a", start=f"{year}-02-01", every=1.0, channel=seg)
    return b.engagement(as_of="2026-06-30", cohort_window_days=30, segments=["channel"])


def test_mix_vs_rate_simpsons_paradox():
    # 2025: s1 17/20 (0.85), s2 45/180 (0.25): each segment +5 points, overall 0.50 -> 0.31
    m = mix_vs_rate(_two_periods({"s1": (20, 17), "s2": (180, 45)}), attribute="channel",
                    from_phase="a", to_phase="b", period_a="2024", period_b=2025)
    assert m.total_change == pytest.approx(-0.19)
    # rate: 0.5 x 0.05 + 0.5... averaged weights (.3, .7) x 0.05 each = +0.05
    assert m.rate_effect == pytest.approx(0.05)
    # mix: averaged rates (.825, .225) x weight changes (-.4, +.4) = -0.33 + 0.09 = -0.24
    assert m.mix_effect == pytest.approx(-0.24)
    assert m.rate_effect + m.mix_effect == pytest.approx(m.total_change, abs=1e-12)
    assert m.by_segment["contribution"].sum() == pytest.approx(m.total_change)
    assert m.simpsons_paradox
    assert m.headline.startswith("Simpson's paradox: the overall a -> b rate fell from 50.0% "
                                    "in 2024 to 31.0% in 2025 (-19.0 points)")
    # the stratified test is the CMH test on the same 2x2 tables
    table = pd.DataFrame({"segment": ["s1", "s2", "s1", "s2"],
                          "period": ["2025", "2025", "2024", "2024"],
                          "successes": [17, 45, 80, 20], "n": [20, 180, 100, 100]})
    ref = cmh_test(table, stratum="segment", group="period")
    assert m.stratified_test.p_value == pytest.approx(ref.p_value)
    assert m.overall_test.p_value == pytest.approx(two_rate_test(62, 200, 100, 200).p_value)
    assert set(m.summary["component"]) == {"total", "rate", "mix"}


def test_mix_vs_rate_without_paradox():
    # 2025: s1 85/100, s2 25/100: same weights, each +5 points -> total = rate effect = +0.05
    m = mix_vs_rate(_two_periods({"s1": (100, 85), "s2": (100, 25)}), attribute="channel",
                    from_phase="a", to_phase="b", period_a="2024", period_b="2025")
    assert m.total_change == pytest.approx(0.05) and m.rate_effect == pytest.approx(0.05)
    assert m.mix_effect == pytest.approx(0.0, abs=1e-12)
    assert not m.simpsons_paradox
    assert m.headline.startswith("The overall a -> b rate rose")


def test_mix_vs_rate_segment_in_one_period_only_and_bad_periods():
    m = mix_vs_rate(_two_periods({"s1": (100, 85), "s3": (100, 50)}), attribute="channel",
                    from_phase="a", to_phase="b", period_a="2024", period_b="2025")
    # 2024 0.50 -> 2025 0.675; the identity holds with s2 gone and s3 new
    assert m.total_change == pytest.approx(0.175)
    assert m.rate_effect + m.mix_effect == pytest.approx(0.175, abs=1e-12)
    e = _two_periods({"s1": (20, 17), "s2": (180, 45)})
    with pytest.raises(ToolkitError, match="overlap"):
        mix_vs_rate(e, attribute="channel", from_phase="a", to_phase="b", period_a="2024",
                    period_b="2024Q3")
    with pytest.raises(ToolkitError, match="period label such as '2025'"):
        mix_vs_rate(e, attribute="channel", from_phase="a", to_phase="b", period_a="last year",
                    period_b="2025")


# --- leak detail ------------------------------------------------------------------------------

@pytest.fixture
def leaky():
    b = Builder("abc")
    for gap in range(1, 11):   # ten movers a -> b after 1..10 days, open at b
        b.add(1, "b", start="2025-01-10", gap=gap, outcome="open", owner="Jan")
    # two lost at a, after 4 and 6 days
    b.add(1, "a", start="2025-02-01", closed_after=4, owner="Jan")
    b.add(1, "a", start="2025-02-01", closed_after=6, owner="Piet")
    # lost at b without lost_at_phase (inferred: the highest phase), 14 days after reaching b
    b.add(1, "b", start="2025-03-01", gap=5, closed_after=14, lost_at=None, owner="Piet")
    # open at a for 12 and for 5 days
    b.add(1, "a", start=T("2025-06-30") - 12 * DAY, outcome="open", owner="Piet", value=9000.0)
    b.add(1, "a", start=T("2025-06-30") - 5 * DAY, outcome="open", owner="Jan")
    return b.engagement(as_of="2025-06-30")


def test_leak_detail_stall_threshold_by_hand(leaky):
    d = leak_detail(leaky)
    th = d.thresholds.set_index("phase")
    # gaps a -> b: 1..10 and 5 -> sorted [1,2,3,4,5,5,6,7,8,9,10], 90th percentile at position 9
    assert th.loc["a", "threshold_days"] == pytest.approx(9.0)
    assert np.isnan(th.loc["b", "threshold_days"])  # nobody moved b -> c
    assert len(d.stalled) == 1
    s = d.stalled.iloc[0]
    assert (s["record_id"], s["phase"], s["owner"], s["value"]) == ("R00014", "a", "Piet", 9000.0)
    assert s["days_in_phase"] == pytest.approx(12.0) and s["threshold_days"] == pytest.approx(9.0)
    lost = d.lost_by_phase.set_index("phase")
    # a: reached by all 15, lost 2 (after 4 and 6 days -> median 5); b: reached by 11, lost 1
    assert (lost.loc["a", "n"], lost.loc["a", "lost"]) == (15, 2)
    assert lost.loc["a", "median_days"] == pytest.approx(5.0)
    assert lost.loc["a", "rate"] == pytest.approx(2 / 15)
    assert (lost.loc["b", "n"], lost.loc["b", "lost"]) == (11, 1)
    assert lost.loc["b", "median_days"] == pytest.approx(14.0)
    assert lost.loc["a", "share_of_lost"] == pytest.approx(2 / 3)
    assert "fewer than 10 records moved on" in d.notes[0]
    with pytest.raises(ToolkitError, match="`stall_quantile` must be a number strictly between"):
        leak_detail(leaky, stall_quantile=90)


def test_a_stalled_finding_carries_the_fields_its_evidence_is_written_from(leaky):
    # At a: 11 records moved on (threshold 9 days at the 90th percentile), 2 open records sit
    # there (12 and 5 days), 1 of them longer than 9 days, worth 9000.
    fruit = low_hanging_fruit(leaky, draws=0)
    stalled = fruit.table[fruit.table["area"] == "stalled"]
    assert stalled["from_phase"].tolist() == ["a"]
    row = stalled.iloc[0]
    assert (row["n"], row["moved_n"], row["open_n"]) == (1, 11, 2)
    assert row["threshold_days"] == pytest.approx(9.0) and row["stall_quantile"] == 0.9
    assert row["stalled_value"] == 9000.0
    assert row["evidence"] == ("threshold = 90th percentile of the time to the next phase among "
                               "11 records that moved on; 2 open at a")


# --- low-hanging fruit ------------------------------------------------------------------------

def test_low_hanging_fruit_combines_and_ranks(chain):
    # 2000 -> 1000 -> 500 -> 100 -> 50: c -> d converts 0.2 against the benchmark 0.5 (late:
    # a leak); the other steps convert 0.5 = the benchmark, so they are not fruit.
    e = _steady_funnel([0.5, 0.5, 0.2, 0.5], 2000)
    fruit = low_hanging_fruit(e, benchmarks=FLAT, draws=1000, seed=3)
    t = fruit.table
    assert list(t.columns[:4]) == ["rank", "area", "finding", "evidence"]
    assert t["rank"].tolist() == list(range(1, len(t) + 1))
    assert fruit.verdict.case == "leak"
    bottlenecks = t[t["area"] == "bottleneck"]
    assert bottlenecks["finding"].str[:6].tolist() == ["c -> d"]
    row = bottlenecks.iloc[0]
    # the gap sized as bottleneck_sizing sizes it: entries into c x (0.5 - 0.2) x d -> e (0.5)
    s = bottleneck_sizing(e, benchmarks=FLAT, draws=0)
    bench = s[(s["reference"] == "benchmark") & (s["from_phase"] == "c")].iloc[0]
    assert row["extra_orders"] == pytest.approx(bench["extra_orders"])
    assert 0 < row["extra_orders_low"] < row["extra_orders"] < row["extra_orders_high"]
    assert row["rank"] == 1 and row["action_hint"].startswith("Stop records dropping out")
    assert "<table" in fruit._repr_html_()
    # 10 orders a year at an average of 2000
    fruit = low_hanging_fruit(chain, benchmarks=BENCH, draws=0)
    assert fruit.today == "Today: 10.0 orders per year, about 20,000 in revenue (average won deal 2,000)."
    chain.config.targets["revenue_per_year"] = 50_000
    fruit = low_hanging_fruit(chain, benchmarks=BENCH, draws=0)
    assert fruit.today.endswith("; revenue target 50,000 per year against 20,000 today.")


def test_a_gap_whose_range_includes_zero_is_not_a_fruit():
    # What was seen: "39.4% against 39.5%" got a range that excluded zero and was ranked. Here
    # 200 -> 100 -> 40 -> 10: b -> c converts 0.40 against a target of 0.50: exact one-sided
    # p = P(X <= 40 | 100, 0.5) = 0.028, not below 0.01 (and more after Holm): not
    # demonstrably off, so neither a bottleneck in the list nor a verdict.
    e = _steady_funnel([0.5, 0.4, 0.25], 200, keys="abcd",
                       targets={"conversion_b_c": 0.5})
    fruit = low_hanging_fruit(e, draws=1000, seed=3)
    assert (fruit.table["area"] != "bottleneck").all()
    assert fruit.verdict.case == "no clear low-hanging fruit"
    steps = fruit.steps.set_index(["from_phase", "reference"])
    assert steps.loc[("b", "target"), "p_value"] == pytest.approx(stats.binom.cdf(40, 100, 0.5))


# --- the demo company -------------------------------------------------------------------------

def test_demo_company_planted_effects_are_found():
    from toolkit.datasets import LEAKY_OWNER, PHASE_LABELS, PHASES, answer_key, generate_company

    company = generate_company(n_records=12_000, seed=2024)
    key = answer_key(company)
    e = Engagement.from_tables(
        company.events, company.records, phases=[{"key": k, "label": PHASE_LABELS[k]} for k in PHASES],
        as_of=company.as_of, segments=["action", "owner", "region", "product"])
    # The shipped benchmark file does not exist yet: typical B2B rates, opportunity -> proposal
    # the only step well below them (the answer key: "the lowest conversion ... leak").
    bench = pd.DataFrame({"from_phase": list(PHASES[:-1]), "to_phase": list(PHASES[1:]),
                          "typical": [0.35, 0.50, 0.40, 0.45], "source": "test"})
    fruit = low_hanging_fruit(e, benchmarks=bench, draws=1000, seed=0)
    s = fruit.sizing
    top = s[(s["reference"] == "benchmark") & (s["rank"] == 1)].iloc[0]
    assert f"{top['from_phase']} -> {top['to_phase']}" == key.facts["bottleneck"]
    assert fruit.table.iloc[0]["finding"].startswith("opportunity -> proposal")
    assert fruit.verdict.case == key.facts["verdict"] == "leak"
    # the ranked list never contradicts the verdict: no "build the early phases" above a leak
    hints = fruit.table["action_hint"].tolist()
    early = [k for k, h in enumerate(hints) if h.startswith("Build the early phases")]
    late = [k for k, h in enumerate(hints) if h.startswith("Stop records dropping out")]
    assert late and (not early or min(late) < min(early))

    scan = fruit.scan.set_index(["attribute", "segment", "from_phase"])
    event = scan.loc[("action", "uitnodigen op een evenement", "target")]
    cold = scan.loc[("action", "koud bellen", "target")]
    assert event["flagged"] and event["direction"] == "better"
    assert cold["flagged"] and cold["direction"] == "worse"
    owner = scan.loc[("owner", LEAKY_OWNER, "proposal")]
    assert owner["flagged"] and owner["direction"] == "worse"
    assert abs(owner["rate"] - key.facts["leaky_owner_rate"]) < 0.05
    # region and product carry no planted effect
    assert not scan.loc[["region", "product"], "flagged"].any()

    y0, y1 = key.facts["simpson_years"].split(" -> ")
    m = mix_vs_rate(e, attribute="action", from_phase="target", to_phase="lead", period_a=y0,
                    period_b=y1)
    assert m.simpsons_paradox
    assert m.mix_effect == pytest.approx(key.facts["mix_effect"], abs=0.01)
    assert m.rate_effect == pytest.approx(key.facts["rate_effect"], abs=0.01)
    # by creation cohort as well (records reach target on the day they are created)
    created = mix_vs_rate(e, attribute="action", from_phase="target", to_phase="lead",
                          period_a=y0, period_b=y1, cohort="created")
    assert created.simpsons_paradox and created.cohort == "created"
    assert created.mix_effect == pytest.approx(key.facts["mix_effect"], abs=0.01)
    with pytest.raises(ValueError, match="`cohort` must be one of"):
        mix_vs_rate(e, attribute="action", from_phase="target", to_phase="lead", period_a=y0,
                    period_b=y1, cohort="closed")
    with pytest.raises(TypeError):  # `by` names segment columns only, never a cohort mode
        mix_vs_rate(e, attribute="action", from_phase="target", to_phase="lead", period_a=y0,
                    period_b=y1, by="created")
    # in the ranked list only this paradox survives the tests (sign-only ones from noise do not)
    mixes = fruit.table[fruit.table["area"] == "mix"]
    assert len(mixes) == 1
    assert mixes["finding"].iloc[0].startswith("Simpson's paradox: the overall target -> lead")
    assert f"fell from 40.7% in {y0} to 33.6% in {y1}" in mixes["finding"].iloc[0]
    assert mixes["action_hint"].iloc[0].startswith("Judge each action by its own rate")
    assert [(m.attribute, m.period_a, m.period_b) for m in fruit.mixes] == [("action", y0, y1)]
    # the fields its evidence is written from in the report's language
    mix = mixes.iloc[0]
    assert (mix["from_phase"], mix["to_phase"], mix["attribute"], mix["period_a"],
            mix["period_b"]) == ("target", "lead", "action", y0, y1)
    assert (mix["rate_a"], mix["rate_b"]) == (fruit.mixes[0].rate_a, fruit.mixes[0].rate_b)
    moved = fruit.mixes[0].by_segment.set_index("segment").loc[mix["segment"]]
    assert (mix["share_a"], mix["share_b"]) == (moved["weight_a"], moved["weight_b"])
    assert mix["segment"] in mixes["action_hint"].iloc[0]
    assert mix["rate_effect"] == fruit.mixes[0].rate_effect
    assert mix["mix_effect"] == fruit.mixes[0].mix_effect
    assert mix["p_pooled"] == fruit.mixes[0].overall_test.p_value
    assert mix["p_within"] == fruit.mixes[0].stratified_test.p_value
    assert sum(m.simpsons_paradox for m in fruit.all_mixes) >= len(fruit.mixes)
    assert (fruit.table["finding"].str.contains(LEAKY_OWNER)).any()
