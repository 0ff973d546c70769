"""Bottleneck sizing: the extra orders and revenue per transition if its conversion rose to a
reference (a target, a benchmark, the best period or segment), with a seeded Monte Carlo range;
and the steps demonstrably below their reference, sized for the verdict and the ranked list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.analysis.diagnosis.common import (
    REFERENCE_KINDS,
    ShrunkReference,
    benchmark_rates,
    best_period,
    best_segment,
    check_count,
    check_fraction,
    conversion_targets,
    lead_index,
    leaking,
    number1,
    percent,
    scan_attributes,
)
from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import (
    MIN_N,
    PERIOD_DAYS,
    Seed,
    check_option,
    child_sequence,
    seed_sequence,
)
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import Cohorts
from toolkit.stats import rate_ci


def size_bottlenecks(fun: Cohorts, *, benchmarks: pd.DataFrame | None,
                     targets: Mapping[str, float] | None, period: str, horizon: str, draws: int,
            seed: Seed, min_n: int, best_quantile: float, shrink: bool, confidence: float,
            attributes: Sequence[str] | None) -> pd.DataFrame:
    check_option("period", period, list(PERIOD_DAYS))
    check_option("horizon", horizon, list(PERIOD_DAYS))
    seed = seed_sequence(seed)
    draws = check_count("draws", draws)
    min_n = check_count("min_n", min_n, minimum=1)
    best_quantile = check_fraction("best_quantile", best_quantile)
    confidence = check_fraction("confidence", confidence)
    pairs = fun.transitions
    n = np.zeros(len(pairs))
    x = np.zeros(len(pairs))
    for t, (i, j) in enumerate(pairs):
        n_t, x_t = fun.counts(i, j)
        n[t], x[t] = n_t[0], x_t[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(x, n, method="wilson")
    low, high = np.asarray(low), np.asarray(high)  # arrays in, arrays out
    # later[t] = product of the rates after transition t (1 for the last one)
    later = np.append(np.cumprod(rate[::-1])[::-1][1:], 1.0)
    scale = PERIOD_DAYS[horizon]
    avg_value = fun.won_value()
    goal = conversion_targets(fun, targets)
    bench = benchmark_rates(fun, benchmarks)
    names = [a for a in scan_attributes(fun, attributes) if a != "value_band"]
    if attributes is None:  # a leaking attribute is no reference for a best segment either
        refused = leaking(fun, names)
        names = [a for a in names if a not in refused]

    rng = np.random.default_rng(seed)
    rate_draws = (rng.beta(1 + x, 1 + n - x, size=(draws, len(pairs))) if draws
                  else np.zeros((0, len(pairs))))
    later_draws = np.concatenate(
        [np.cumprod(rate_draws[:, ::-1], axis=1)[:, ::-1][:, 1:], np.ones((draws, 1))], axis=1)
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2

    rows = []
    for t, (i, j) in enumerate(pairs):
        refs: list[ShrunkReference] = []
        if (i, j) in goal:
            refs.append(ShrunkReference("target", goal[(i, j)],
                                   f"conversion_{fun.keys[i]}_{fun.keys[j]} in targets"))
        if (i, j) in bench:
            typical, source = bench[(i, j)]
            refs.append(ShrunkReference("benchmark", typical,
                                        f"typical rate{', ' + source if source else ''}"))
        overall = float(rate[t]) if n[t] > 0 else float("nan")
        if n[t] > 0:
            refs.append(best_period(fun, i, j, period=period, min_n=min_n, quantile=best_quantile,
                                     shrink=shrink, overall=overall))
            refs.append(best_segment(fun, i, j, attributes=names, min_n=min_n, shrink=shrink,
                                      overall=overall))
        else:
            refs += [ShrunkReference(kind, float("nan"), "no mature records at this transition")
                     for kind in ("best_period", "best_segment")]
        entries = fun.entries_per_day(i)
        for ref in refs:
            extra = entries * scale * (ref.rate - rate[t]) * later[t]
            row = {"from_phase": fun.keys[i], "to_phase": fun.keys[j], "reference": ref.kind,
                   "reference_rate": ref.rate, "reference_detail": ref.detail, "n": int(n[t]),
                   "successes": int(x[t]), "rate": rate[t], "ci_low": low[t], "ci_high": high[t],
                   "entries_per_period": entries * PERIOD_DAYS[period],
                   "later_rate": later[t], "extra_orders": extra,
                   "extra_orders_low": np.nan, "extra_orders_high": np.nan}
            if draws and np.isfinite(extra):
                sim = (entries * scale * (ref.draw(rng, rate_draws[:, t]) - rate_draws[:, t])
                       * later_draws[:, t])
                row["extra_orders_low"] = float(np.quantile(sim, lo_q))
                row["extra_orders_high"] = float(np.quantile(sim, hi_q))
            rows.append(row)
    out = pd.DataFrame(rows, columns=_SIZING_COLUMNS[:15])
    for col in ("extra_orders", "extra_orders_low", "extra_orders_high"):
        out[col.replace("orders", "revenue")] = out[col] * avg_value
    out["average_won_value"] = avg_value
    out["period"], out["horizon"], out["confidence"] = period, horizon, confidence
    out["reference"] = pd.Categorical(out["reference"], categories=list(REFERENCE_KINDS))
    out["rank"] = (out.groupby("reference", observed=True)["extra_orders"]
                   .rank(ascending=False, method="first"))
    out = out.sort_values(["reference", "rank"], kind="stable", na_position="last")
    out["reference"] = out["reference"].astype(str)
    out["rank"] = out["rank"].astype("Int64")
    return out[_SIZING_COLUMNS].reset_index(drop=True)


_SIZING_COLUMNS = [
    "from_phase", "to_phase", "reference", "reference_rate", "reference_detail", "n", "successes",
    "rate", "ci_low", "ci_high", "entries_per_period", "later_rate", "extra_orders",
    "extra_orders_low", "extra_orders_high", "extra_revenue", "extra_revenue_low",
    "extra_revenue_high", "average_won_value", "rank", "period", "horizon", "confidence",
]


@shared_docs
def bottleneck_sizing(engagement: Engagement, *, window_days: int | None = None,
                      benchmarks: pd.DataFrame | None = None,
                      targets: Mapping[str, float] | None = None, period: str = "month",
                      horizon: str = "year", draws: int = 4000, seed: Seed = 0,
                      min_n: int = MIN_N, best_quantile: float = 0.8, shrink: bool = True,
                      confidence: float = 0.9,
                      attributes: Sequence[str] | None = None) -> pd.DataFrame:
    """How many extra orders (and how much revenue) each transition would bring if its conversion
    rose to a reference, the other transitions staying as they are.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    {shared.benchmarks}
    {shared.targets}
        Only the ``conversion_<from>_<to>`` entries are used here.
    period : {'week', 'month', 'quarter', 'year'}
        Cohort period for the ``best_period`` reference and the unit of ``entries_per_period``.
    horizon : {'week', 'month', 'quarter', 'year'}
        The time span the extra orders and revenue are expressed in (default: per year).
    {shared.draws}
        0: no ranges.
    {shared.seed}
    min_n
        Smallest mature cohort for a period or a segment to serve as a reference.
    best_quantile
        Which quantile of the period rates is the "best period" (default the 80th percentile).
    shrink
        Shrink period and segment rates towards the overall rate before picking the best (see
        Notes). Default True.
    confidence
        Level of the Monte Carlo range (default 0.9: a 90% planning range, 5th to 95th
        percentile). The rate's own ``ci_low``/``ci_high`` stay the 95% Wilson interval.
    attributes
        Attributes searched for the ``best_segment`` reference; default the engagement's
        declared segments.

    Returns
    -------
    DataFrame, one row per transition and reference kind: ``from_phase, to_phase, reference,
    reference_rate, reference_detail, n, successes, rate, ci_low, ci_high, entries_per_period,
    later_rate, extra_orders, extra_orders_low, extra_orders_high, extra_revenue,
    extra_revenue_low, extra_revenue_high, average_won_value, rank, period, horizon,
    confidence``. Sorted by reference kind (target, benchmark, best_period, best_segment), then
    ``rank``. ``rank`` ranks the transitions *within* one reference kind (1 = largest gain): the
    kinds answer different questions ("reach the target" vs "do as well as your best month")
    and are not ranked against each other. Target and benchmark rows appear only for
    transitions that have one; a ``best_*`` row whose reference could not be formed has a
    missing ``reference_rate`` and the reason in ``reference_detail``.

    Notes
    -----
    For transition k with pooled cohort rate :math:`r_k` (``n``, ``successes``) and reference
    :math:`r^*_k`: ``extra_orders`` :math:`= E_k \\cdot (r^*_k - r_k) \\cdot \\prod_{j>k} r_j`
    per horizon, where :math:`E_k` is the number of records that reached phase k per horizon
    (records that reached k in the observed span, first entry to the as-of date, divided by its
    length; ``entries_per_period`` is the same per ``period``). Negative values mean the
    transition already does better than the reference. ``extra_revenue`` = extra orders x the
    average value of won deals (``average_won_value``; missing without values).

    References:

    - ``target``: ``conversion_<from>_<to>`` from the targets;
    - ``benchmark``: the benchmark's ``typical`` rate;
    - ``best_period``: the ``best_quantile`` of the client's own cohort rates per ``period``,
      among periods with ``n >= min_n``; with fewer than 4 such periods the next coarser period
      is used (month -> quarter -> year). A quantile instead of the maximum, and shrinkage, so
      that the reference is not simply the luckiest month;
    - ``best_segment``: the segment with the highest (shrunk) rate among the segments of the
      declared attributes with ``n >= min_n`` (value bands and '(missing)' excluded). Reaching it
      for everyone is often a change of mix (more of the best channel), not of process.

    Shrinkage (empirical Bayes, method of moments): with overall rate p, noise variance
    :math:`v_g = p(1-p)/n_g` and between-group variance
    :math:`\\tau^2 = \\max(0, \\mathrm{var}(r_g) - \\bar v)`, each group's rate becomes
    :math:`p + B_g (r_g - p)` with :math:`B_g = \\tau^2/(\\tau^2 + v_g)`. When the spread of the
    period rates is no more than binomial noise, the best period is the overall rate and the
    gain is about zero: the client's own history then shows no better level to return to.

    Ranges: every transition's rate is drawn from its Beta(1 + x, 1 + n - x) posterior; an own
    reference is re-formed in each draw from its groups' posterior draws (shrunk with the same
    weights towards that draw's overall rate); targets and benchmarks are fixed; volumes and
    the average value are taken as known. The range is the central ``confidence`` share of the
    simulated gains.

    Do not add the gains of several transitions: each assumes the others stay as they are.
    Do not use the sizing when the pooled rate hides a trend: it compares against the whole
    history.
    """
    engagement.require_dates("Bottleneck sizing (cohort conversions per month)")
    fun = Cohorts(engagement, window_days)
    return size_bottlenecks(fun, benchmarks=benchmarks, targets=targets, period=period, horizon=horizon,
                   draws=draws, seed=seed, min_n=min_n, best_quantile=best_quantile,
                   shrink=shrink, confidence=confidence, attributes=attributes)


def bottleneck_items(fun: Cohorts, tests: pd.DataFrame, *, seed: Seed, draws: int, horizon: str,
                      confidence: float, period: str) -> tuple[list[dict], dict[int, float]]:
    """Each step demonstrably below a reference, sized with the uncertainty of the step's rate,
    the later rates and the reference; a gap whose range includes zero is dropped."""
    rng = np.random.default_rng(child_sequence(seed_sequence(seed), 1))
    scale = PERIOD_DAYS[horizon]
    pairs = fun.transitions
    n = np.array([fun.counts(i, j)[0][0] for i, j in pairs], dtype=float)
    x = np.array([fun.counts(i, j)[1][0] for i, j in pairs], dtype=float)
    rate = np.divide(x, n, out=np.full(len(n), np.nan), where=n > 0)
    draws = max(int(draws), 200)
    post = rng.beta(1 + x, 1 + n - x, size=(draws, len(pairs)))
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    lead = lead_index(fun)
    items, gains = [], {}
    order = {"target": 0, "benchmark": 1, "history": 2}
    below = tests[tests["below"]].assign(_o=lambda d: d["reference"].map(order))
    for t, rows in below.sort_values("_o").groupby("step", sort=True):
        r = rows.iloc[0]
        i, j = pairs[int(t)]
        later = float(np.prod(rate[t + 1:])) if t + 1 < len(pairs) else 1.0
        later_draws = (np.prod(post[:, t + 1:], axis=1) if t + 1 < len(pairs)
                       else np.ones(draws))
        entries = fun.entries_per_day(i) * scale
        own = float(r["rate"])
        if r["reference"] == "history":
            own_draws = rng.beta(1 + r["successes"], 1 + r["n"] - r["successes"], draws)
            ref_draws = rng.beta(1 + r["earlier_successes"],
                                 1 + r["earlier_n"] - r["earlier_successes"], draws)
        else:
            own_draws = post[:, t]
            if r["reference"] == "benchmark":
                ref_draws = rng.uniform(r["test_rate"], 2 * r["reference_rate"] - r["test_rate"],
                                        draws)
            else:
                ref_draws = np.full(draws, r["reference_rate"])
        sim = entries * (ref_draws - own_draws) * later_draws
        point = entries * (float(r["reference_rate"]) - own) * later
        low, high = float(np.quantile(sim, lo_q)), float(np.quantile(sim, hi_q))
        if not low > 0:
            continue
        gains[int(t)] = point
        label_a, label_b = fun.model.label(r["from_phase"]), fun.model.label(r["to_phase"])
        hint = (f"Build the early phases: raise {label_a} -> {label_b} (better targeting and "
                f"qualification of leads)" if t < lead else
                f"Stop records dropping out between {label_a} and {label_b} (qualify earlier, "
                f"follow up faster)")
        ref_words = ("its own earlier level" if r["reference"] == "history"
                     else f"the {r['reference']}")
        items.append({
            "area": "bottleneck", "step": int(t),
            "finding": (f"{r['from_phase']} -> {r['to_phase']} converts {percent(own)} against "
                        f"{percent(r['reference_rate'])} for {ref_words}"),
            "evidence": (f"n={int(r['n'])}, 95% CI {percent(r['ci_low'])} to {percent(r['ci_high'])}; "
                         f"reference: {r['detail']}; adjusted p = {r['p_adjusted']:.2g}; "
                         f"{number1(fun.entries_per_day(i) * PERIOD_DAYS[period])} records reach "
                         f"{r['from_phase']} per {period}"),
            "extra_orders": point, "extra_orders_low": low, "extra_orders_high": high,
            "action_hint": hint, "_p": float(r["p_adjusted"]),
            "side": "early" if t < lead else "late", "from_phase": r["from_phase"],
            "to_phase": r["to_phase"], "rate": own,
            "reference_rate": float(r["reference_rate"]), "reference": r["reference"],
            "n": r["n"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "p_adjusted": r["p_adjusted"]})
    return items, gains


