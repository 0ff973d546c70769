"""The low-hanging fruit: everything the diagnosis found, as the ranked list a consultant presents."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from toolkit.analysis.diagnosis.common import (
    check_count,
    check_fraction,
    codes_for,
    html_of,
    lead_index,
    number0,
    number1,
    percent,
    points,
)
from toolkit.analysis.diagnosis.leaks import LeakDetail, leak_of
from toolkit.analysis.diagnosis.mix import MixRateResult, mix_findings
from toolkit.analysis.diagnosis.segments import held_fixed, scan_segments
from toolkit.analysis.diagnosis.sizing import bottleneck_items, size_bottlenecks
from toolkit.analysis.diagnosis.verdict import (
    FRUIT_FIELDS,
    Verdict,
    decide_verdict,
    step_tests,
    volume_rule,
)
from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import MIN_N, PERIOD_DAYS, Seed, child_sequence, seed_sequence
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import Cohorts


@dataclass(frozen=True, eq=False)
class LowHangingFruit:
    """The ranked low-hanging fruit of the engagement.

    Attributes
    ----------
    table : ``rank, area, finding, evidence, extra_orders, extra_orders_low, extra_orders_high,
        extra_revenue, action_hint``, then the fields the finding and its evidence are written from
        (``from_phase, to_phase, attribute, segment, rate, reference_rate, reference``, and for a
        bottleneck or segment the rate's ``n, ci_low, ci_high, p_adjusted``, for the lead volume
        ``entries_ci_low, entries_ci_high, orders_target, order_rate``, for a mix shift the
        step, ``attribute``, the segment whose share moved most, ``period_a, period_b, rate_a,
        rate_b, share_a, share_b, rate_effect, mix_effect, p_pooled, p_within``, for stalled
        records their count ``n``, ``threshold_days, stall_quantile, moved_n, open_n`` and
        ``stalled_value``); the sized gains first (largest lower bound of the range first), then
        the unsized findings.
    verdict : the :class:`Verdict` (shortage / leak).
    sizing, scan, leaks : the underlying results.
    mixes : the mix-vs-rate results that made the list (significant Simpson's paradoxes).
    all_mixes : every full decomposition made (consecutive calendar years, by creation cohort
        and by period of reaching the phase, where a screen on counts found the rate effect
        against the overall change); their ``simpsons_paradox`` flags read signs only.
    steps : the step tests behind the verdict (see :func:`shortage_or_leak`).
    today : one sentence with today's orders and revenue per horizon (and the revenue target
        when ``revenue_per_year`` is set).
    """

    table: pd.DataFrame
    verdict: Verdict
    sizing: pd.DataFrame
    scan: pd.DataFrame
    mixes: list[MixRateResult]
    leaks: LeakDetail
    horizon: str
    today: str = ""
    all_mixes: list[MixRateResult] = field(default_factory=list)
    steps: pd.DataFrame | None = None

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    @property
    def headline(self) -> str:
        """The finding in one sentence: the verdict's."""
        return self.verdict.headline

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The sized bottlenecks: ``toolkit.present.plotting.plot_bottlenecks``."""
        return draw("plot_bottlenecks", self.sizing, ax=ax, **options)

    def _repr_html_(self) -> str:
        return html_of("Low-hanging fruit", [self.verdict.headline, self.verdict.advice, self.today,
                                           f"Extra orders and revenue per {self.horizon}; the "
                                           f"gains overlap, do not add them up."],
                     [self.table])

    def __repr__(self) -> str:
        return f"<LowHangingFruit {len(self.table)} items; {self.verdict.case}>"


def _segment_gain(fun: Cohorts, row: Any, codes: np.ndarray, labels: list[str],
                  rng: np.random.Generator, draws: int,
                  scale: float, confidence: float, later: np.ndarray, later_n: np.ndarray,
                  later_x: np.ndarray) -> tuple[float, float, float]:
    """Extra orders per horizon if a worse segment converted like its attribute's typical one."""
    g = labels.index(row.segment)
    i = fun.index(row.from_phase)
    entries = fun.entries_per_day(i, within=codes == g) * scale
    point = entries * (row.typical_rate - row.rate) * float(np.prod(later))
    if not draws or not row.typical_n > 0:
        return point, np.nan, np.nan
    seg = rng.beta(1 + row.successes, 1 + row.n - row.successes, size=draws)
    typical = rng.beta(1 + row.typical_successes, 1 + row.typical_n - row.typical_successes,
                       size=draws)
    after = np.prod(rng.beta(1 + later_x, 1 + later_n - later_x, size=(draws, len(later_n))),
                    axis=1)
    sim = entries * (typical - seg) * after
    lo, hi = (1 - confidence) / 2, (1 + confidence) / 2
    return point, float(np.quantile(sim, lo)), float(np.quantile(sim, hi))


def _hint_for_segment(attribute: str, segment: str, direction: str, action: str) -> str:
    if attribute == action:
        return (f"Move effort towards {segment}" if direction == "better" else
                f"Move effort away from {segment}, or improve how its leads are qualified")
    if attribute == "owner":
        return (f"Learn from {segment}'s way of working" if direction == "better" else
                f"Coach {segment} on this step")
    return (f"Find out what makes {attribute} = {segment} convert {direction}")


def _volume_item(volume: dict | None, horizon: str) -> list[dict]:
    if volume is None or not volume["short"]:
        return []
    per = PERIOD_DAYS[horizon] / PERIOD_DAYS["month"]
    conv = volume["conversion_now"]
    gap = [(volume["need_now"] - v) * conv * per for v in (volume["leads"], volume["ci_high"],
                                                           volume["ci_low"])]
    return [{"area": "volume", "step": 0,
             "finding": (f"{number1(volume['leads'])} entries into {volume['phase']} per month "
                         f"against {number1(volume['need_now'])} needed for the order target"),
             "evidence": (f"95% interval {number1(volume['ci_low'])} to {number1(volume['ci_high'])} per "
                          f"month; {number1(volume['goal'])} orders per month at today's "
                          f"conversion of {percent(conv)} from {volume['phase']}"),
             "extra_orders": gap[0], "extra_orders_low": gap[1], "extra_orders_high": gap[2],
             "action_hint": "Build the early phases: more qualified leads (targeting, actions)",
             "_p": np.nan, "from_phase": volume["phase"], "rate": volume["leads"],
             "reference_rate": volume["need_now"], "reference": "order target",
             "entries_ci_low": volume["ci_low"], "entries_ci_high": volume["ci_high"],
             "orders_target": volume["goal"], "order_rate": conv}]


@shared_docs
def low_hanging_fruit(engagement: Engagement, *, seed: Seed = 0, window_days: int | None = None,
                      benchmarks: pd.DataFrame | None = None,
                      targets: Mapping[str, float] | None = None, period: str = "month",
                      horizon: str = "year", draws: int = 4000, min_n: int = MIN_N,
                      alpha: float = 0.01, adjust: str = "fdr_bh", max_segments: int = 5,
                      stall_quantile: float = 0.9, confidence: float = 0.9,
                      action: str = "action") -> LowHangingFruit:
    """The ranked list a consultant presents: the shortage-or-leak verdict, the steps
    demonstrably below a reference (sized), flagged segments, mix shifts and stalled deals.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    {shared.seed}
    {shared.draws}
    benchmarks, targets, period, horizon, confidence, min_n
        As in :func:`bottleneck_sizing`; ``targets['orders_per_month']`` tests the lead volume.
    alpha, adjust
        Level and scan-wide adjustment of the segment scan and the mix checks. The default 0.01
        keeps the report's claims on companies where nothing is wrong under 5% in total (see the
        calibration table in docs/calibration.md).
    max_segments
        How many flagged worse and how many flagged better segments enter the list.
    stall_quantile
        As in :func:`leak_detail`.
    action
        The attribute holding the action/channel, for the hints.

    Returns
    -------
    LowHangingFruit
        ``table`` with ``rank, area, finding, evidence, extra_orders, extra_orders_low,
        extra_orders_high, extra_revenue, action_hint`` and the fields behind each finding
        (``from_phase, to_phase, attribute, segment, rate, reference_rate, reference``);
        ``verdict``; ``steps`` (the step tests
        behind the verdict); the underlying results.

    Notes
    -----
    Items (``area``):

    - ``bottleneck``: each step demonstrably below a reference (target, else benchmark, else its
      own earlier level; see :func:`shortage_or_leak`), sized as
      :math:`E_k (r^*_k - r_k) \\prod_{j>k} r_j` per horizon with a Monte Carlo range over the
      step's rate, the later rates and the reference (a benchmark anywhere in its low-high
      range, an earlier level from its own posterior); a gap whose range includes zero is
      dropped. A step below the market all the time shows here even when its own history is flat.
    - ``volume``: the lead volume demonstrably short of what the order target needs.
    - ``segment``: the flagged segments of :func:`segment_scan` (against the typical segment,
      jointly with the other attributes); a worse segment is sized as its entries brought to the
      typical segment's rate; better segments are not sized (copying them is a change of mix).
    - ``mix``: Simpson's paradoxes (see :func:`mix_vs_rate`) that hold, by creation cohort or by
      period of reaching the phase.
    - ``stalled``: phases with open records stalled beyond the threshold of :func:`leak_detail`.

    Ranking never contradicts the verdict: the sized items on the verdict's side of the funnel
    (early phases for a shortage, late ones for a leak) come first, each group by the lower end of
    its range; then the unsized items. The gains overlap: do not add them up.
    """
    engagement.require_dates("The ranked low-hanging fruit (sized per month)")
    seed = seed_sequence(seed)
    fun = Cohorts(engagement, window_days)
    max_segments = check_count("max_segments", max_segments)
    confidence = check_fraction("confidence", confidence)
    min_n = check_count("min_n", min_n, minimum=1)
    sizing = size_bottlenecks(fun, benchmarks=benchmarks, targets=targets, period=period, horizon=horizon,
                     draws=draws, seed=seed, min_n=min_n, best_quantile=0.8, shrink=True,
                     confidence=confidence, attributes=None)
    tests = step_tests(fun, benchmarks=benchmarks, targets=targets, min_n=min_n)
    pairs = fun.transitions
    lead = lead_index(fun)
    volume = volume_rule(fun, tests, targets, lead)
    items, gains = bottleneck_items(fun, tests, seed=seed, draws=draws, horizon=horizon,
                                     confidence=confidence, period=period)
    items += _volume_item(volume, horizon)
    verdict = decide_verdict(fun, tests, volume, min_n, gains)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the scan already warned via sizing
        scan = scan_segments(fun, attributes=None, transitions=None, min_n=min_n, alpha=alpha,
                     adjust=adjust)
    leaks = leak_of(fun, stall_quantile, 10)
    scale = PERIOD_DAYS[horizon]
    avg_value = fun.won_value()
    rates = {(fun.keys[i], fun.keys[j]): fun.counts(i, j) for i, j in pairs}

    # a stream of its own, so the bottleneck rows equal bottleneck_sizing(seed=seed)
    rng = np.random.default_rng(child_sequence(seed, 0))
    segment_rows = []
    for r in scan[scan["flagged"]].itertuples(index=False):
        coded = codes_for(fun, r.attribute)
        assert coded is not None  # the scan keeps only the attributes that have codes
        codes, labels = coded
        i = fun.index(r.from_phase)
        sized = (np.nan, np.nan, np.nan)
        if r.direction == "worse" and fun.index(r.to_phase) == i + 1:
            later = [rates[(fun.keys[k], fun.keys[k + 1])] for k in range(i + 1, len(pairs))]
            later_n = np.array([c[0][0] for c in later], dtype=float)
            later_x = np.array([c[1][0] for c in later], dtype=float)
            later_rate = np.divide(later_x, later_n, out=np.zeros(len(later_n)),
                                   where=later_n > 0)
            sized = _segment_gain(fun, r, codes, labels, rng, draws, scale, confidence,
                                  later_rate, later_n, later_x)
            if not sized[1] > 0:
                # a gain whose range includes zero is not a fruit (DESIGN.md "Sizing"): the
                # finding stays, unsized
                sized = (np.nan, np.nan, np.nan)
        segment_rows.append({
            "area": "segment", "step": i,
            "finding": (f"{r.attribute} = {r.segment} converts {r.direction} at {r.from_phase} "
                        f"-> {r.to_phase}: {percent(r.rate)} against {percent(r.typical_rate)} for the "
                        f"typical {r.attribute}"),
            "evidence": (f"n={r.n}; odds ratio {r.odds_ratio:.2f} (95% CI {r.or_ci_low:.2f} to "
                         f"{r.or_ci_high:.2f}) "
                         + (f"holding {held_fixed(r)} fixed" if held_fixed(r) else "judged on its own")
                         + f"; adjusted p = {r.p_adjusted:.2g}"),
            "extra_orders": sized[0], "extra_orders_low": sized[1], "extra_orders_high": sized[2],
            "action_hint": _hint_for_segment(r.attribute, r.segment, r.direction, action),
            "_p": r.p_adjusted, "_order": 2 if r.direction == "better" else 1,
            "from_phase": r.from_phase, "to_phase": r.to_phase, "attribute": r.attribute,
            "segment": r.segment, "rate": r.rate, "reference_rate": r.typical_rate,
            "reference": "typical segment", "n": r.n, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "p_adjusted": r.p_adjusted})
    # Worse segments compete on their sized gain, better ones (not sized) on their p-value.
    worse = sorted((s for s in segment_rows if s["_order"] == 1),
                   key=lambda s: -np.nan_to_num(s["extra_orders"], nan=-np.inf))
    better = [s for s in segment_rows if s["_order"] == 2]
    rows = [{**item, "_order": 0} for item in items] + worse[:max_segments] + better[:max_segments]

    all_mixes, kept = mix_findings(fun, min_n=min_n, alpha=alpha)
    for mix in kept:
        top = mix.by_segment.loc[mix.by_segment["weight_change"].abs().idxmax()]
        p_within = (mix.stratified_test.p_value if mix.stratified_test is not None else np.nan)
        rows.append({
            "area": "mix", "step": np.nan, "finding": mix.headline.split(". ")[0] + ".",
            "evidence": (f"rate effect {points(mix.rate_effect)}, mix effect "
                         f"{points(mix.mix_effect)}; pooled p = {mix.overall_test.p_value:.2g}"
                         + (f", within-segment (CMH) p = {mix.stratified_test.p_value:.2g}"
                            if mix.stratified_test is not None else "")),
            "extra_orders": np.nan, "extra_orders_low": np.nan, "extra_orders_high": np.nan,
            "action_hint": (f"Judge each {mix.attribute} by its own rate; the share of "
                            f"{top['segment']} moved from {percent(top['weight_a'])} to "
                            f"{percent(top['weight_b'])}"),
            "_p": mix.overall_test.p_value, "_order": 1, "from_phase": mix.from_phase,
            "to_phase": mix.to_phase, "attribute": mix.attribute, "segment": top["segment"],
            "period_a": mix.period_a, "period_b": mix.period_b, "rate_a": mix.rate_a,
            "rate_b": mix.rate_b, "share_a": top["weight_a"], "share_b": top["weight_b"],
            "rate_effect": mix.rate_effect, "mix_effect": mix.mix_effect,
            "p_pooled": mix.overall_test.p_value, "p_within": p_within})

    for t in leaks.thresholds.itertuples(index=False):
        if t.stalled == 0:
            continue
        worth = f", together {number0(t.stalled_value)} in value" if t.stalled_value > 0 else ""
        rows.append({
            "area": "stalled", "step": np.nan,
            "finding": (f"{t.stalled} open records at {t.phase} have not moved for longer than "
                        f"{number0(t.threshold_days)} days{worth}"),
            "evidence": (f"threshold = {round(100 * stall_quantile)}th percentile of the time to "
                         f"the next phase among {t.moved} records that moved on; {t.open} open "
                         f"at {t.phase}"),
            "extra_orders": np.nan, "extra_orders_low": np.nan, "extra_orders_high": np.nan,
            "action_hint": "Follow up each stalled record or close it as lost (see leak_detail)",
            "_p": np.nan, "_order": 3, "from_phase": t.phase, "n": t.stalled,
            "threshold_days": t.threshold_days, "stall_quantile": stall_quantile,
            "moved_n": t.moved, "open_n": t.open, "stalled_value": t.stalled_value})

    table = pd.DataFrame(rows, columns=["area", "step", "finding", "evidence", "extra_orders",
                                        "extra_orders_low", "extra_orders_high", "action_hint",
                                        "_p", "_order", *FRUIT_FIELDS])
    table["extra_revenue"] = table["extra_orders"] * avg_value
    # the lead volume is the early side's gain, whatever step it is filed under
    early = np.where(table["area"] == "volume", True, table["step"].astype(float) < lead)
    first = {"shortage": early, "leak": ~early & table["step"].notna().to_numpy()}
    table["_side"] = np.where(first.get(verdict.case, True), 0, 1)
    sized_rows = table["extra_orders"].notna()
    ranked = pd.concat([
        # a callable, not a Series: assigning a Series to an empty frame adopts its index and
        # would turn every unsized item into a row of NaN
        table[sized_rows].assign(_key=lambda d: d["extra_orders_low"].fillna(d["extra_orders"]))
        .sort_values(["_side", "_key", "extra_orders"], ascending=[True, False, False],
                     kind="stable"),
        table[~sized_rows].sort_values(["_order", "_p"], kind="stable", na_position="last"),
    ], ignore_index=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    if verdict.case == "no clear low-hanging fruit" and ranked["extra_orders"].notna().any():
        # "no clear fruit" beside sized actions would contradict them: say where the gains are
        headline = verdict.headline
        if isinstance(headline, Finding):
            headline = Finding(headline.code, {**headline.values, "gains_in_segments": True})
        verdict = replace(verdict, gains_in_segments=True, headline=headline)
    ranked = ranked[["rank", "area", "finding", "evidence", "extra_orders", "extra_orders_low",
                     "extra_orders_high", "extra_revenue", "action_hint", *FRUIT_FIELDS]]
    orders = fun.entries_per_day(len(fun.keys) - 1) * scale
    today_values: dict[str, Any] = {"orders": float(orders), "horizon": horizon}
    if np.isfinite(avg_value):
        today_values.update(revenue=float(orders * avg_value), avg_value=float(avg_value))
    goals = engagement.config.targets if targets is None else targets
    if (goals or {}).get("revenue_per_year") is not None:
        today_values.update(revenue_target=float(goals["revenue_per_year"]),
                            revenue_per_year=float(orders * avg_value * PERIOD_DAYS["year"]
                                                   / scale))
    today = Finding("fruit_today", today_values)  # written by toolkit.present.findings
    return LowHangingFruit(table=ranked, verdict=verdict, sizing=sizing, scan=scan, mixes=kept,
                           leaks=leaks, horizon=horizon, today=today, all_mixes=all_mixes,
                           steps=tests)


