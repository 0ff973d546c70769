"""Shortage or leak: the method's two cases decided by tests against stated references, or no
clear low-hanging fruit, as a Verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.diagnosis.common import (
    benchmark_rates,
    check_count,
    conversion_targets,
    html_of,
    lead_index,
)
from toolkit.analysis.diagnosis.sizing import bottleneck_items
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import MIN_N, PERIOD_DAYS, check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import NAT, NS_DAY, Cohorts
from toolkit.stats import adjust_p, rate_ci


@dataclass(frozen=True, eq=False)
class Verdict:
    """Shortage or leak: the method's two cases, decided from the numbers.

    Attributes
    ----------
    case : one of :data:`CASES` ('shortage', 'leak', 'no clear low-hanging fruit', 'one
        transition', 'insufficient data')
    headline : one plain sentence with the numbers.
    evidence : tidy frame of the numbers behind it, one row per rule (``rule, quantity, value,
        reference_value, points_to, note``).
    advice : the method's advice for the case, in its own words.
    lead_phase : the phase whose entries are the qualified leads: the steps before it are the
        early phases, the volume rule counts its entries.
    both_sides : both the early side (a step, or the volume even at the reference conversion)
        and the late side are demonstrably off; the case is the side with the larger gain.
    gains_in_segments : no side of the funnel is demonstrably off, yet segments of a step have
        sized gains (their ranges exclude zero): the verdict then does not say "no clear fruit".
    """

    case: str
    headline: str
    evidence: pd.DataFrame
    advice: str = ""
    lead_phase: str = ""
    both_sides: bool = False
    gains_in_segments: bool = False

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"case": self.case, "headline": self.headline,
                              "advice": self.advice}])

    def _repr_html_(self) -> str:
        return html_of(f"Verdict: {self.case}", [self.headline, self.advice], [self.evidence])

    def __repr__(self) -> str:
        return f"<Verdict {self.case}: {self.headline}>"


_HISTORY_DAYS = 365       # "recent" = the last year of mature cohorts, against everything before
_MIN_DROP = 0.10          # a fall of less than 10% of the earlier rate is not worth a verdict
_VERDICT_ALPHA = 0.01     # level of the step tests, Holm-adjusted across them


def _below_p(x: float, n: float, reference: float) -> float:
    """One-sided exact binomial p-value of 'the step converts below `reference`'."""
    if n < 1 or not np.isfinite(reference):
        return float("nan")
    return float(stats.binomtest(int(x), int(n), float(min(max(reference, 1e-9), 1 - 1e-9)),
                                 alternative="less").pvalue)


def _drop_p(x_recent: float, n_recent: float, x_before: float, n_before: float) -> float:
    """One-sided pooled score p-value of 'the recent rate is below the earlier one'."""
    if min(n_recent, n_before) < 1:
        return float("nan")
    pooled = (x_recent + x_before) / (n_recent + n_before)
    var = pooled * (1 - pooled) * (1 / n_recent + 1 / n_before)
    if var <= 0:
        return 1.0
    z = (x_recent / n_recent - x_before / n_before) / np.sqrt(var)
    return float(stats.norm.cdf(z))


def step_tests(fun: Cohorts, *, benchmarks: pd.DataFrame | None,
               targets: Mapping[str, float] | None, min_n: int) -> pd.DataFrame:
    """Per transition, each stated reference and whether the step is demonstrably below it.

    References: the management target (``conversion_<from>_<to>``), the low end of the benchmark
    range (its typical rate when no range is given), and the step's own earlier level (the last
    year of mature cohorts against the years before). Each is a one-sided test; the family of all
    of them is Holm-adjusted, and a fall against the own history must also be material (10%).
    """
    goal = conversion_targets(fun, targets)
    bench = _benchmark_ranges(fun, benchmarks)
    assert fun.as_of is not None  # the callers require dates (the own history is by cohort)
    cut = fun.as_of.value - (fun.window + _HISTORY_DAYS) * NS_DAY
    lead = lead_index(fun)
    rows = []
    for t, (i, j) in enumerate(fun.transitions):
        n, x = (float(v[0]) for v in fun.counts(i, j))
        rate = x / n if n else np.nan
        common = {"step": t, "from_phase": fun.keys[i], "to_phase": fun.keys[j], "n": int(n),
                  "successes": int(x), "rate": rate, "side": "early" if t < lead else "late"}
        if (i, j) in goal:
            rows.append({**common, "reference": "target", "reference_rate": goal[(i, j)],
                         "test_rate": goal[(i, j)], "earlier_n": np.nan, "earlier_successes": np.nan,
                         "p_value": _below_p(x, n, goal[(i, j)]) if n >= min_n else np.nan,
                         "detail": Finding("verdict_detail_target", {"from_phase": fun.keys[i],
                                                                     "to_phase": fun.keys[j]})})
        if (i, j) in bench:
            low, typical, high, source = bench[(i, j)]
            rows.append({**common, "reference": "benchmark", "reference_rate": typical,
                         "test_rate": low, "earlier_n": np.nan, "earlier_successes": np.nan,
                         "p_value": _below_p(x, n, low) if n >= min_n else np.nan,
                         "detail": Finding("verdict_detail_benchmark", {
                             "typical": float(typical), "low": float(low), "high": float(high),
                             "source": source or ""})})
        start = fun.reached[:, i]
        recent = start >= cut
        n_r, x_r = (float(v[0]) for v in fun.counts(i, j, within=recent))
        n_b, x_b = (float(v[0]) for v in fun.counts(i, j, within=(start != NAT) & ~recent))
        earlier = x_b / n_b if n_b else np.nan
        usable = n_r >= min_n and n_b >= min_n
        p = _drop_p(x_r, n_r, x_b, n_b) if usable else np.nan
        rows.append({**common, "n": int(n_r), "successes": int(x_r),
                     "rate": x_r / n_r if n_r else np.nan, "reference": "history",
                     "reference_rate": earlier, "test_rate": earlier * (1 - _MIN_DROP),
                     "earlier_n": n_b, "earlier_successes": x_b, "p_value": p,
                     "detail": (Finding("verdict_detail_history", {"n_recent": int(n_r),
                                                                   "n_before": int(n_b)})
                                if usable else
                                Finding("verdict_detail_history_few", {"min_n": int(min_n)}))})
    out = pd.DataFrame(rows, columns=["step", "side", "from_phase", "to_phase", "reference",
                                      "reference_rate", "test_rate", "n", "successes", "rate",
                                      "earlier_n", "earlier_successes", "p_value", "detail"])
    out["detail"] = pd.Series([row["detail"] for row in rows], index=out.index, dtype=object)
    out["ci_low"], out["ci_high"] = rate_ci(out["successes"].to_numpy(float),
                                            out["n"].to_numpy(float), method="wilson")
    tested = out["p_value"].notna().to_numpy()
    out["p_adjusted"] = np.nan
    if tested.any():
        out.loc[tested, "p_adjusted"] = adjust_p(out.loc[tested, "p_value"].to_numpy(float),
                                                 method="holm")
    material = np.where(out["reference"] == "history", out["rate"] < out["test_rate"], True)
    out["below"] = (out["p_adjusted"] < _VERDICT_ALPHA) & material
    return out


def _benchmark_ranges(fun: Cohorts, benchmarks: pd.DataFrame | None) -> dict[tuple, tuple]:
    typical = benchmark_rates(fun, benchmarks)
    if not typical or benchmarks is None:  # (no benchmarks: no typical rates)
        return {}
    out = {}
    frame = benchmarks.assign(from_phase=benchmarks["from_phase"].astype(str),
                              to_phase=benchmarks["to_phase"].astype(str))
    for (i, j), (rate, source) in typical.items():
        row = frame[(frame["from_phase"] == fun.keys[i]) & (frame["to_phase"] == fun.keys[j])]
        low = pd.to_numeric(row["low"], errors="coerce").iloc[0] if "low" in row else np.nan
        high = pd.to_numeric(row["high"], errors="coerce").iloc[0] if "high" in row else np.nan
        low = float(low) if np.isfinite(low) and 0 < low <= rate else rate
        high = float(high) if np.isfinite(high) and rate <= high <= 1 else rate
        out[(i, j)] = (low, rate, high, source)
    return out


def volume_rule(fun: Cohorts, tests: pd.DataFrame, targets: Mapping[str, float] | None,
                boundary: int) -> dict | None:
    """Lead volume (entries into the lead phase per month) against the order target."""
    goals = fun.engagement.config.targets if targets is None else targets
    goal = (goals or {}).get("orders_per_month")
    if goal is None:
        return None
    months = fun.span_days / PERIOD_DAYS["month"]
    entries = int((fun.reached[:, boundary] != NAT).sum())
    leads = entries / months
    # exact Poisson interval of the count, per month
    low = stats.chi2.ppf(0.025, 2 * entries) / 2 / months if entries else 0.0
    high = stats.chi2.ppf(0.975, 2 * entries + 2) / 2 / months
    own = tests.drop_duplicates("step").set_index("step")
    late = [t for t in range(boundary, len(fun.transitions))]
    rates = np.array([own.loc[t, "rate"] if t in own.index else np.nan for t in late])
    pooled = []
    for t in late:
        n_t, x_t = fun.counts(*fun.transitions[t])
        pooled.append(x_t[0] / n_t[0] if n_t[0] else np.nan)
    rates = np.asarray(pooled, dtype=float)
    refs = []
    for t, r in zip(late, rates, strict=True):
        mine = tests[(tests["step"] == t) & tests["reference"].isin(["target", "benchmark"])]
        refs.append(max(r, float(mine["reference_rate"].max())) if len(mine) else r)
    conv_now = float(np.prod(rates)) if len(rates) else 1.0
    conv_ref = float(np.prod(refs)) if len(refs) else 1.0
    need_now = goal / conv_now if conv_now > 0 else np.inf
    need_ref = goal / conv_ref if conv_ref > 0 else np.inf
    return {"phase": fun.keys[boundary], "leads": leads, "ci_low": low, "ci_high": high,
            "goal": float(goal), "need_now": need_now, "need_ref": need_ref,
            "conversion_now": conv_now,
            "short": high < need_now, "short_at_reference": high < need_ref,
            "plenty": low >= need_now}


_ADVICE = {
    "shortage": "Too few qualified leads -> build the early phases first.",
    "leak": "Plenty of leads but low conversion to orders -> stop opportunities from dropping out.",
    "no clear low-hanging fruit": "Neither the lead volume nor the conversion to orders is "
                                  "demonstrably off its reference: no side of the funnel is the "
                                  "obvious place to start.",
    "one transition": "A funnel of one step has no early and late phases to choose between: "
                      "judge the step itself against its reference.",
    "insufficient data": "Too few records to conclude: collect more history before choosing.",
}


def decide_verdict(fun: Cohorts, tests: pd.DataFrame, volume: dict | None, min_n: int,
             gains: Mapping[int, float]) -> Verdict:
    pairs = fun.transitions
    lead_phase = fun.keys[lead_index(fun)]
    names = [f"{fun.keys[i]} -> {fun.keys[j]}" for i, j in pairs]
    first_n = int(fun.counts(*pairs[0])[0][0]) if pairs else 0
    rows = []
    for r in tests.itertuples(index=False):
        tested = np.isfinite(r.p_adjusted)
        rows.append({"rule": f"{r.reference} ({r.side})"
                     if len(pairs) > 1 else r.reference,
                     "quantity": f"{r.from_phase} -> {r.to_phase}", "value": r.rate,
                     "reference_value": r.test_rate,
                     "points_to": ("below" if r.below else "not demonstrably below" if tested
                                   else "not tested"),
                     "note": (Finding("verdict_test_note", {
                         "detail": r.detail, "p_value": float(r.p_value),
                         "p_adjusted": float(r.p_adjusted)}) if tested else r.detail)})
    if volume is not None:
        rows.append({"rule": "volume vs order target",
                     "quantity": f"qualified leads ({volume['phase']}) per month",
                     "value": volume["leads"], "reference_value": volume["need_now"],
                     "points_to": ("short" if volume["short"] else "enough" if volume["plenty"]
                                   else "not demonstrably short"),
                     "note": Finding("verdict_volume_note", {
                         key: float(volume[key])
                         for key in ("goal", "need_now", "need_ref", "ci_low", "ci_high")})})
    evidence = pd.DataFrame(rows, columns=_EVIDENCE_COLUMNS)
    # the notes as findings, codes kept (a column of strings would keep only their English)
    evidence["note"] = pd.Series([row["note"] for row in rows], index=evidence.index, dtype=object)
    if first_n < min_n:
        headline = Finding("diagnosis_verdict", {"case": "insufficient data", "first_n": first_n,
                                                 "step": names[0], "min_n": min_n})
        return Verdict("insufficient data", headline, evidence, _ADVICE["insufficient data"],
                           lead_phase=lead_phase)
    small = [names[t] for t, (i, j) in enumerate(pairs) if fun.counts(i, j)[0][0] < min_n]
    if tests["p_value"].isna().all() and volume is None and small:
        headline = Finding("diagnosis_verdict", {"case": "insufficient data", "small": small,
                                                 "count": len(small), "min_n": min_n})
        return Verdict("insufficient data", headline, evidence, _ADVICE["insufficient data"],
                           lead_phase=lead_phase)
    below = tests[tests["below"]]
    # the volume against the order target, as the headline names it
    leads = None if volume is None else {key: volume[key] for key in (
        "leads", "phase", "need_now", "goal")}
    if len(pairs) == 1:
        step = ({"step": names[0], "rate": float(below["rate"].iloc[0]),
                 "reference": str(below["reference"].iloc[0]),
                 "reference_rate": float(below["test_rate"].iloc[0])} if len(below) else
                {"step": names[0]})
        return Verdict("one transition", Finding("diagnosis_verdict", {
            "case": "one transition", **step, "volume": leads}), evidence,
            _ADVICE["one transition"], lead_phase=lead_phase)
    early = below[below["side"] == "early"]
    late = below[below["side"] == "late"]
    shortage = len(early) > 0 or bool(volume and volume["short_at_reference"])
    leak = len(late) > 0

    def described(rows: pd.DataFrame) -> list[tuple[str, str, float, float, str, float, float]]:
        """The steps below their reference, as the headline names them."""
        return [(str(r.from_phase), str(r.to_phase), float(r.rate), float(r.reference_rate),
                 str(r.reference), float(r.ci_low), float(r.ci_high))
                for r in rows.drop_duplicates("step").itertuples(index=False)]

    values: dict[str, Any] = {"volume": leads}
    if shortage and leak:
        early_gain = sum(gains.get(t, 0.0) for t in early["step"].unique())
        late_gain = sum(gains.get(t, 0.0) for t in late["step"].unique())
        case = "leak" if late_gain >= early_gain else "shortage"
        values.update(both=True, first=described(late if case == "leak" else early),
                      also=described(early if case == "leak" else late))
    elif leak:
        case = "leak"
        values.update(first=described(late))
    elif shortage:
        case = "shortage"
        values.update(first=described(early))
    else:
        case = "no clear low-hanging fruit"
        kinds = set(tests.loc[tests["p_value"].notna(), "reference"])
        # what would decide it: the references not given (codes the sentence names)
        values["missing"] = [kind for kind, given in (
            ("target", "target" in kinds), ("benchmark", "benchmark" in kinds),
            ("volume", volume is not None), ("history", "history" in kinds)) if not given]
    headline = Finding("diagnosis_verdict", {"case": case, **values})
    return Verdict(case, headline, evidence, _ADVICE[case], lead_phase=lead_phase,
                   both_sides=shortage and leak)


_EVIDENCE_COLUMNS = ["rule", "quantity", "value", "reference_value", "points_to", "note"]

# The fields a finding and its evidence are written from, beside its English sentences, so that a
# report can write them in its own language: the step (phase keys), the segment, the rate and what
# it is compared with (`reference`: target, benchmark, history, best_segment, typical segment,
# order target), the rate's n, interval and adjusted p-value. A volume item: `rate` and
# `reference_rate` are entries per month now and needed, `entries_ci_low`/`entries_ci_high` the
# 95% interval of the entries now, `orders_target` the orders per month the target asks and
# `order_rate` today's conversion from the phase to order. A mix item: the step and the
# attribute, the overall conversion `rate_a` in `period_a` and `rate_b` in `period_b`, the
# segment whose share of the records moved most (`segment`, from `share_a` to `share_b`),
# `rate_effect`, `mix_effect` and the p-values of the pooled test (`p_pooled`) and within the
# segments (`p_within`, Cochran-Mantel-Haenszel). A stalled item: its count `n`, `threshold_days` (the
# `stall_quantile` of the time to the next phase among the `moved_n` records that moved on),
# `open_n` open records at the phase and `stalled_value`. A bottleneck's `side`: early (before the
# lead phase) or late.
FRUIT_FIELDS = ["side", "from_phase", "to_phase", "attribute", "segment", "rate", "reference_rate",
                 "reference", "n", "ci_low", "ci_high", "p_adjusted", "entries_ci_low",
                 "entries_ci_high", "orders_target", "order_rate", "rate_effect", "mix_effect",
                 "p_pooled", "p_within", "period_a", "period_b", "rate_a", "rate_b", "share_a",
                 "share_b", "threshold_days", "stall_quantile", "moved_n", "open_n",
                 "stalled_value"]


@shared_docs
def shortage_or_leak(engagement: Engagement, *, window_days: int | None = None,
                     benchmarks: pd.DataFrame | None = None,
                     targets: Mapping[str, float] | None = None, min_n: int = MIN_N,
                     period: str = "month", horizon: str = "year") -> Verdict:
    """Decide the method's two cases from tests against stated references: too few qualified
    leads (shortage) or plenty of leads that drop out before the order (leak), or neither.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    benchmarks, targets
        As in :func:`bottleneck_sizing`; ``targets['orders_per_month']`` enables the volume rule.
    min_n
        Fewest mature records at a step (and in each half of its history) to test it.
    period, horizon
        Kept for symmetry with :func:`low_hanging_fruit` (whose verdict this is).

    Returns
    -------
    Verdict
        ``case`` in :data:`CASES`, ``headline``, ``evidence`` (one row per step and reference,
        plus the volume rule), ``advice``.

    Notes
    -----
    The transitions are split at the lead phase (``lead_phase`` in the YAML, by default the phase
    after the one whose ``output`` names qualified leads, else the second phase): early are the
    transitions before it (the work that produces qualified leads), late the rest. Each step is
    tested, one-sided, against every stated
    reference it has: the management target (exact binomial test of rate < target), the low end
    of the benchmark range (rate < low), and its own earlier level (the last year of mature
    cohorts against the years before, pooled score test, and at least 10% lower). The p-values
    of all these tests are Holm-adjusted together; a step is *demonstrably below* when its
    adjusted p is under 0.01. With ``orders_per_month``, the lead volume (entries into the lead
    phase per month, exact Poisson interval) is set against what the target needs at
    today's and at the reference conversion of the late steps.

    - shortage: an early step is below, or the volume falls short even at the reference
      conversion, and no late step is below;
    - leak: a late step is below and the early side is not;
    - both: the side with the larger sized gain, and the headline says both are off;
    - neither: 'no clear low-hanging fruit', with the data that would decide it;
    - 'one transition': a one-step funnel has no early/late split;
    - 'insufficient data': fewer than ``min_n`` mature records at the first step, or no test
      could be made and some step has fewer than ``min_n`` mature records.

    Without a target or benchmark, a step that is low all the time cannot be told from a step
    that is simply what this business converts: the verdict then says so instead of guessing.
    """
    engagement.require_dates("The shortage-or-leak verdict (volumes per month, cohort conversions)")
    fun = Cohorts(engagement, window_days)
    min_n = check_count("min_n", min_n, minimum=1)
    check_option("period", period, list(PERIOD_DAYS))
    check_option("horizon", horizon, list(PERIOD_DAYS))
    tests = step_tests(fun, benchmarks=benchmarks, targets=targets, min_n=min_n)
    volume = volume_rule(fun, tests, targets, lead_index(fun))
    _, gains = bottleneck_items(fun, tests, seed=0, draws=1000, horizon=horizon,
                                 confidence=0.9, period=period)
    return decide_verdict(fun, tests, volume, min_n, gains)


