"""Step 5 of the method, *Analyse en prioriteren*: where the low-hanging fruit of the funnel is.

Phases are rarely at the same level. The method starts with the low-hanging fruit: "too few
qualified leads -> build the early phases first; plenty of leads but low conversion to orders ->
stop opportunities from dropping out". This module sizes and ranks those opportunities:

- :func:`bottleneck_sizing`: extra orders and revenue per transition if its conversion rose to a
  reference (a target, a benchmark, the client's own best period or best segment), with a seeded
  Monte Carlo range;
- :func:`shortage_or_leak`: the method's two cases decided by tests against stated references
  (target, benchmark, the step's own earlier level, lead volume against the order target), or
  "no clear low-hanging fruit", as a :class:`Verdict`;
- :func:`segment_scan`: every segment against the typical segment of its attribute, per
  transition, in a penalised logistic model with the other attributes and the cohort year
  (never with an attribute it is nested with), adjusted across the scan; what it cannot judge
  says why;
- :func:`action_yield`: which actions (channels) produce qualified leads, and at what cost;
- :func:`mix_vs_rate`: a change in conversion between two periods (by period of reaching the phase
  or by creation cohort) split into a rate effect and a mix effect, with Simpson's paradox flagged;
- :func:`leak_detail`: where lost records were lost and which open records have stalled;
- :func:`low_hanging_fruit`: all of the above as the ranked list a consultant presents.

Shared vocabulary of the docstrings
-----------------------------------
engagement
    A loaded :class:`~toolkit.io.engagement.Engagement`. Every rate here is the cohort conversion of
    :func:`toolkit.measure.funnel.cohort_conversion` (skip = passed, a window of ``window_days``, immature
    records left out), pooled over all mature cohorts unless a period is named.
window_days
    The cohort window; default the engagement's ``cohort_window_days``.
seed, draws
    Randomness only through ``seed``, a whole number >= 0 (numpy ``default_rng``; None is
    refused, as everywhere in the toolkit); ``draws`` Monte Carlo draws.

Targets naming convention
-------------------------
``engagement.config.targets`` is a dict of name -> number. This module reads:

- ``conversion_<from>_<to>``: the target rate (0-1) of one consecutive transition, e.g.
  ``conversion_lead_opportunity`` or ``conversion_opportunity_proposal``;
- ``orders_per_month``: the order target, used by :func:`shortage_or_leak` to work out how many
  qualified leads are needed;
- ``revenue_per_year``: the revenue target, set against today's revenue in the headline of
  :func:`low_hanging_fruit`.

Other names are left alone (other modules may use them).

Benchmarks
----------
A benchmark table is a DataFrame with columns ``from_phase, to_phase, low, typical, high, source``
(rates 0-1; ``low``, ``high`` and ``source`` may be missing). ``typical`` is the reference rate.
Rows whose phases are not a consecutive transition of the engagement are ignored with a warning.
"""

from __future__ import annotations

import functools
import html
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.leakage import leaking_attributes, value_leaks
from toolkit.analysis.segment_model import dependent_blocks, functions_of, penalised_logistic
from toolkit.base.drawing import draw
from toolkit.base.exceptions import (
    ConfigError,
    DataError,
    NoteWarning,
    OptionError,
    SmallSampleWarning,
    ToolkitError,
)
from toolkit.base.findings import Finding, shown
from toolkit.base.vocabulary import MIN_N, MISSING, PERIOD_DAYS, Reason, check_option, check_seed
from toolkit.io.engagement import BASE_RECORD_COLUMNS
from toolkit.measure.actions import in_period, parse_period
from toolkit.measure.cohorts import NAT, NS_DAY, Cohorts
from toolkit.stats import ADJUST_METHODS, adjust_p, cmh_test, diff_ci, rate_ci, two_rate_test

__all__ = [
    "bottleneck_sizing",
    "shortage_or_leak",
    "segment_scan",
    "mix_vs_rate",
    "leak_detail",
    "low_hanging_fruit",
    "Verdict",
    "MixRateResult",
    "LeakDetail",
    "LowHangingFruit",
    "REFERENCE_KINDS",
    "CASES",
]

#: Reference kinds of :func:`bottleneck_sizing`, in the order they are listed.
REFERENCE_KINDS = ("target", "benchmark", "best_period", "best_segment")
#: The cases :func:`shortage_or_leak` can decide.
CASES = ("shortage", "leak", "no clear low-hanging fruit", "one transition", "insufficient data")

# A transition's "own" reference for the verdict and the ranked list: a management target first,
# then an outside benchmark, then the client's own history. The best segment is left out there:
# raising everyone to the best segment's rate is usually a change of mix, not of process.
_PREFERRED = ("target", "benchmark", "best_period")
_COARSER = {"week": "month", "month": "quarter", "quarter": "year", "year": None}
_MIN_PERIODS = 4          # fewer periods than this say nothing about a "best" one
_MAX_LEVELS = 50          # an attribute with more values is an identifier or free text


# ---------------------------------------------------------------------------------- checks
def _check_fraction(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
        raise OptionError(f"The value for `{name}` must be a number strictly between {low:g} and "
                           f"{high:g}, but {value!r} was passed.")
    return float(value)


def _check_count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise OptionError(f"The value for `{name}` must be a whole number >= {minimum}, but "
                           f"{value!r} was passed.")
    return int(value)


# ---------------------------------------------------------------------------- formatting
# every number of the English sentences below through the one formatter (toolkit.present.format)
_percent, _points, _number1, _number0 = (functools.partial(shown, kind) for kind in (
    "percent", "points_words", "number1", "number0"))


def _html(title: str, lines: Sequence[str], tables: Sequence[pd.DataFrame]) -> str:
    parts = [f"<p><b>{html.escape(title)}</b></p>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in lines if line]
    parts += [t.to_html(index=False, na_rep="") for t in tables]
    return "\n".join(parts)


# ------------------------------------------------------------------------ the funnel arrays


def _value_band(fun: Cohorts, edges: Sequence[float] | None) -> tuple[np.ndarray, list[str]] | None:
    """Codes of the deal-value band (config edges, else quartiles); None without values."""
    if "value" not in fun.records.columns:
        return None
    value = pd.to_numeric(fun.records["value"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(value)
    if known.sum() < 2:
        return None
    if edges:
        inner = sorted(float(e) for e in edges if np.isfinite(e))
    else:
        inner = list(np.unique(np.quantile(value[known], [0.25, 0.5, 0.75])))
    bounds = [-np.inf, *inner, np.inf]
    labels = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if not np.isfinite(lo):
            labels.append(f"< {_number0(hi)}")
        elif not np.isfinite(hi):
            labels.append(f">= {_number0(lo)}")
        else:
            labels.append(f"{_number0(lo)} - {_number0(hi)}")
    codes = np.searchsorted(np.asarray(inner), value, side="right").astype(np.int64)
    if (~known).any():
        codes = np.where(known, codes, len(labels))
        labels.append(MISSING)
    return codes, labels


def _scan_attributes(fun: Cohorts, attributes: Sequence[str] | None) -> list[str]:
    if attributes is not None:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        for name in names:
            if name != "value_band":
                fun.attribute(name)
        return names
    names = []
    for name in fun.engagement.segments:
        if name in BASE_RECORD_COLUMNS:
            continue
        levels = fun.records[name].nunique(dropna=True)
        if levels > _MAX_LEVELS:
            warnings.warn(NoteWarning(
                f"Attribute {name!r} has {levels} distinct values (more than {_MAX_LEVELS}), so "
                f"it looks like an identifier or free text and was left out of the scan. Pass "
                f"`attributes=[{name!r}, ...]` to scan it anyway.", "attribute_left_out",
                {"attribute": name, "count": int(levels), "n": _MAX_LEVELS}), stacklevel=3)
            continue
        names.append(name)
    return names


def _leaking(fun: Cohorts, names: list[str]) -> dict[str, str]:
    """`leaking_attributes` of `names`, each attribute judged once per Cohorts (its verdict does
    not depend on the other names)."""
    known = fun.memo.setdefault("leaking", {})
    todo = [name for name in names if name not in known]
    if todo:
        found = leaking_attributes(fun.records, todo)
        known.update({name: found.get(name) for name in todo})
    return {name: known[name] for name in names if known[name] is not None}


def _codes_for(fun: Cohorts, name: str) -> tuple[np.ndarray, list[str]] | None:
    if name == "value_band" and "value_band" not in fun.records.columns:
        return _value_band(fun, fun.engagement.config.value_bands)
    return fun.attribute(name)


# ----------------------------------------------------------------- targets and benchmarks
def _conversion_targets(fun: Cohorts, targets: Mapping[str, float] | None) -> dict[tuple, float]:
    source = fun.engagement.config.targets if targets is None else targets
    out = {}
    for i, j in fun.transitions:
        name = f"conversion_{fun.keys[i]}_{fun.keys[j]}"
        if name in (source or {}):
            value = source[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise OptionError(f"The value for target `{name}` must be a rate between 0 and 1 "
                                  f"(e.g. 0.35 for 35%), but {value!r} was passed.",
                                  key=f"targets.{name}")
            out[(i, j)] = float(value)
    return out


def _benchmark_rates(fun: Cohorts, benchmarks: pd.DataFrame | None) -> dict[tuple, tuple]:
    if benchmarks is None:
        return {}
    if not isinstance(benchmarks, pd.DataFrame):
        raise OptionError(f"The value for `benchmarks` must be a DataFrame with columns "
                           f"from_phase, to_phase, low, typical, high, source, but a "
                           f"{type(benchmarks).__name__} was passed.")
    missing = [c for c in ("from_phase", "to_phase", "typical") if c not in benchmarks.columns]
    if missing:
        raise ToolkitError(f"`benchmarks` lacks the column(s) {missing}; it has "
                           f"{list(benchmarks.columns)}. Fix: give at least from_phase, to_phase "
                           f"and typical (a rate between 0 and 1).")
    out, unknown = {}, []
    pairs = {(fun.keys[i], fun.keys[j]): (i, j) for i, j in fun.transitions}
    for row in benchmarks.to_dict("records"):
        key = (str(row["from_phase"]), str(row["to_phase"]))
        typical = pd.to_numeric(row["typical"], errors="coerce")
        if key not in pairs:
            unknown.append(f"{key[0]} -> {key[1]}")
            continue
        if not (np.isfinite(typical) and 0 < typical <= 1):
            raise ToolkitError(f"The benchmark `typical` for {key[0]} -> {key[1]} must be a rate "
                               f"between 0 and 1, but {row['typical']!r} was passed.")
        source = row.get("source")
        out[pairs[key]] = (float(typical), "" if pd.isna(source) else str(source))
    if unknown:
        warnings.warn(NoteWarning(
            f"{len(unknown)} benchmark row(s) are not transitions of this engagement's phase "
            f"model {fun.keys} and were ignored: {', '.join(unknown[:5])}. Fix: rename their "
            f"from_phase/to_phase to the engagement's phase keys.", "benchmarks_ignored",
            {"count": len(unknown), "rows": ", ".join(unknown[:5])}), stacklevel=3)
    return out


# --------------------------------------------------------------------- shrunk references
def _shrink_weights(n: np.ndarray, x: np.ndarray, overall: float, shrink: bool) -> np.ndarray:
    """Empirical-Bayes weights B_g = tau^2 / (tau^2 + p(1-p)/n_g) by the method of moments."""
    if not shrink:
        return np.ones(len(n))
    rates = x / n
    noise = overall * (1 - overall) / n
    tau2 = max(float(np.var(rates, ddof=1)) - float(noise.mean()), 0.0) if len(n) > 1 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = np.where(tau2 + noise > 0, tau2 / (tau2 + noise), 0.0)
    return weights


@dataclass
class _Reference:
    kind: str
    rate: float
    detail: str
    # for the Monte Carlo: the client's own groups behind the reference (None: fixed rate)
    n: np.ndarray | None = None
    x: np.ndarray | None = None
    weights: np.ndarray | None = None
    quantile: float | None = None

    def draw(self, rng: np.random.Generator, overall: np.ndarray) -> np.ndarray:
        if self.n is None:
            return np.full(len(overall), self.rate)
        groups = rng.beta(1 + self.x, 1 + self.n - self.x, size=(len(overall), len(self.n)))
        shrunk = overall[:, None] + self.weights * (groups - overall[:, None])
        if self.quantile is None:
            return shrunk[:, 0]
        return np.quantile(shrunk, self.quantile, axis=1)


def _best_period(fun: Cohorts, i: int, j: int, *, period: str, min_n: int, quantile: float,
                 shrink: bool, overall: float) -> _Reference:
    level: str | None = period
    while level is not None:
        codes, labels = fun.period_codes(i, level)
        n, x = fun.counts(i, j, codes, len(labels))
        keep = n >= min_n
        if keep.sum() >= _MIN_PERIODS:
            n, x = n[keep].astype(float), x[keep].astype(float)
            weights = _shrink_weights(n, x, overall, shrink)
            shrunk = overall + weights * (x / n - overall)
            rate = float(np.quantile(shrunk, quantile))
            how = "shrunk to the overall rate, " if shrink else ""
            if shrink and not weights.any():
                how = "no more spread than chance, so shrunk to the overall rate: no better period; "
            detail = (f"{round(100 * quantile)}th percentile of {int(keep.sum())} {level}ly cohort "
                      f"rates with n >= {min_n} ({how}{labels[int(np.flatnonzero(keep)[0])]} to "
                      f"{labels[int(np.flatnonzero(keep)[-1])]})")
            return _Reference("best_period", rate, detail, n, x, weights, quantile)
        level = _COARSER[level]
    return _Reference("best_period", float("nan"),
                      f"fewer than {_MIN_PERIODS} periods with n >= {min_n}, even by year")


def _best_segment(fun: Cohorts, i: int, j: int, *, attributes: list[str], min_n: int,
                  shrink: bool, overall: float) -> _Reference:
    best: tuple | None = None
    for name in attributes:
        coded = _codes_for(fun, name)
        if coded is None:
            continue
        codes, labels = coded
        n, x = fun.counts(i, j, codes, len(labels))
        keep = np.flatnonzero((n >= min_n) & (np.asarray(labels) != MISSING))
        if len(keep) < 2:
            continue
        nk, xk = n[keep].astype(float), x[keep].astype(float)
        weights = _shrink_weights(nk, xk, overall, shrink)
        shrunk = overall + weights * (xk / nk - overall)
        g = int(np.argmax(shrunk))
        if best is None or shrunk[g] > best[0]:
            best = (float(shrunk[g]), name, labels[keep[g]], nk[g], xk[g], weights[g])
    if best is None:
        return _Reference("best_segment", float("nan"),
                          f"no attribute with two or more segments of n >= {min_n}")
    rate, name, label, n_g, x_g, w_g = best
    how = f", shrunk to the overall rate from {_percent(x_g / n_g)}" if shrink else ""
    return _Reference("best_segment", rate, f"{name} = {label} (n={int(n_g)}{how})",
                      np.array([n_g]), np.array([x_g]), np.array([w_g]), None)


# ------------------------------------------------------------------------- bottleneck sizing
def _sizing(fun: Cohorts, *, benchmarks, targets, period: str, horizon: str, draws: int,
            seed: int, min_n: int, best_quantile: float, shrink: bool, confidence: float,
            attributes: list[str] | None) -> pd.DataFrame:
    check_option("period", period, list(PERIOD_DAYS))
    check_option("horizon", horizon, list(PERIOD_DAYS))
    seed = check_seed(seed)
    draws = _check_count("draws", draws)
    min_n = _check_count("min_n", min_n, minimum=1)
    best_quantile = _check_fraction("best_quantile", best_quantile)
    confidence = _check_fraction("confidence", confidence)
    pairs = fun.transitions
    n = np.zeros(len(pairs))
    x = np.zeros(len(pairs))
    for t, (i, j) in enumerate(pairs):
        n_t, x_t = fun.counts(i, j)
        n[t], x[t] = n_t[0], x_t[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(x, n, method="wilson")
    # later[t] = product of the rates after transition t (1 for the last one)
    later = np.append(np.cumprod(rate[::-1])[::-1][1:], 1.0)
    scale = PERIOD_DAYS[horizon]
    avg_value = fun.won_value()
    goal = _conversion_targets(fun, targets)
    bench = _benchmark_rates(fun, benchmarks)
    names = [a for a in _scan_attributes(fun, attributes) if a != "value_band"]
    if attributes is None:  # a leaking attribute is no reference for a best segment either
        refused = _leaking(fun, names)
        names = [a for a in names if a not in refused]

    rng = np.random.default_rng(seed)
    rate_draws = (rng.beta(1 + x, 1 + n - x, size=(draws, len(pairs))) if draws
                  else np.zeros((0, len(pairs))))
    later_draws = np.concatenate(
        [np.cumprod(rate_draws[:, ::-1], axis=1)[:, ::-1][:, 1:], np.ones((draws, 1))], axis=1)
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2

    rows = []
    for t, (i, j) in enumerate(pairs):
        refs: list[_Reference] = []
        if (i, j) in goal:
            refs.append(_Reference("target", goal[(i, j)],
                                   f"conversion_{fun.keys[i]}_{fun.keys[j]} in targets"))
        if (i, j) in bench:
            typical, source = bench[(i, j)]
            refs.append(_Reference("benchmark", typical, f"typical rate{', ' + source if source else ''}"))
        overall = float(rate[t]) if n[t] > 0 else float("nan")
        if n[t] > 0:
            refs.append(_best_period(fun, i, j, period=period, min_n=min_n, quantile=best_quantile,
                                     shrink=shrink, overall=overall))
            refs.append(_best_segment(fun, i, j, attributes=names, min_n=min_n, shrink=shrink,
                                      overall=overall))
        else:
            refs += [_Reference(kind, float("nan"), "no mature records at this transition")
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


def bottleneck_sizing(engagement, *, window_days: int | None = None,
                      benchmarks: pd.DataFrame | None = None,
                      targets: Mapping[str, float] | None = None, period: str = "month",
                      horizon: str = "year", draws: int = 4000, seed: int = 0,
                      min_n: int = MIN_N, best_quantile: float = 0.8, shrink: bool = True,
                      confidence: float = 0.9,
                      attributes: Sequence[str] | None = None) -> pd.DataFrame:
    """How many extra orders (and how much revenue) each transition would bring if its conversion
    rose to a reference, the other transitions staying as they are.

    Parameters
    ----------
    engagement, window_days
        See the module docstring.
    benchmarks
        Optional benchmark table (module docstring); its ``typical`` rate is the reference.
    targets
        Target dict (module docstring); default ``engagement.config.targets``. Only the
        ``conversion_<from>_<to>`` entries are used here.
    period : {'week', 'month', 'quarter', 'year'}
        Cohort period for the ``best_period`` reference and the unit of ``entries_per_period``.
    horizon : {'week', 'month', 'quarter', 'year'}
        The time span the extra orders and revenue are expressed in (default: per year).
    draws, seed
        Monte Carlo draws for the ranges (0: no ranges) and the seed (a whole number >= 0).
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
    return _sizing(fun, benchmarks=benchmarks, targets=targets, period=period, horizon=horizon,
                   draws=draws, seed=seed, min_n=min_n, best_quantile=best_quantile,
                   shrink=shrink, confidence=confidence, attributes=attributes)


# ------------------------------------------------------------------------------ the verdict
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
        return _html(f"Verdict: {self.case}", [self.headline, self.advice], [self.evidence])

    def __repr__(self) -> str:
        return f"<Verdict {self.case}: {self.headline}>"


# ------------------------------------------------------------------- step tests (the verdict)
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


def _lead_index(fun: Cohorts) -> int:
    """Where the leads are counted: the lead phase's position (DESIGN.md "The lead phase"). The
    transitions before it are the early phases (the work that produces qualified leads)."""
    return fun.keys.index(fun.engagement.config.lead_phase_key())


def _step_tests(fun: Cohorts, *, benchmarks, targets, min_n: int) -> pd.DataFrame:
    """Per transition, each stated reference and whether the step is demonstrably below it.

    References: the management target (``conversion_<from>_<to>``), the low end of the benchmark
    range (its typical rate when no range is given), and the step's own earlier level (the last
    year of mature cohorts against the years before). Each is a one-sided test; the family of all
    of them is Holm-adjusted, and a fall against the own history must also be material (10%).
    """
    goal = _conversion_targets(fun, targets)
    bench = _benchmark_ranges(fun, benchmarks)
    cut = fun.as_of.value - (fun.window + _HISTORY_DAYS) * NS_DAY
    lead = _lead_index(fun)
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
                         "detail": f"conversion_{fun.keys[i]}_{fun.keys[j]} in targets"})
        if (i, j) in bench:
            low, typical, high, source = bench[(i, j)]
            rows.append({**common, "reference": "benchmark", "reference_rate": typical,
                         "test_rate": low, "earlier_n": np.nan, "earlier_successes": np.nan,
                         "p_value": _below_p(x, n, low) if n >= min_n else np.nan,
                         "detail": (f"benchmark typical {_percent(typical)} (range {_percent(low)} to "
                                    f"{_percent(high)}{', ' + source if source else ''})")})
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
                     "detail": (f"its own last year of mature cohorts (n={int(n_r)}) against the "
                                f"cohorts before (n={int(n_b)})" if usable else
                                f"fewer than {min_n} mature records in the last year or before")})
    out = pd.DataFrame(rows, columns=["step", "side", "from_phase", "to_phase", "reference",
                                      "reference_rate", "test_rate", "n", "successes", "rate",
                                      "earlier_n", "earlier_successes", "p_value", "detail"])
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


def _benchmark_ranges(fun: Cohorts, benchmarks) -> dict[tuple, tuple]:
    typical = _benchmark_rates(fun, benchmarks)
    if not typical:
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


def _volume_rule(fun: Cohorts, tests: pd.DataFrame, targets, boundary: int) -> dict | None:
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


def _verdict(fun: Cohorts, tests: pd.DataFrame, volume: dict | None, min_n: int,
             gains: Mapping[int, float]) -> Verdict:
    pairs = fun.transitions
    lead_phase = fun.keys[_lead_index(fun)]
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
                     "note": (f"{r.detail}; one-sided p = {r.p_value:.2g}, Holm-adjusted "
                              f"{r.p_adjusted:.2g}" if tested else r.detail)})
    if volume is not None:
        rows.append({"rule": "volume vs order target",
                     "quantity": f"qualified leads ({volume['phase']}) per month",
                     "value": volume["leads"], "reference_value": volume["need_now"],
                     "points_to": ("short" if volume["short"] else "enough" if volume["plenty"]
                                   else "not demonstrably short"),
                     "note": (f"{_number1(volume['goal'])} orders per month need "
                              f"{_number1(volume['need_now'])} leads at today's conversion and "
                              f"{_number1(volume['need_ref'])} at the reference conversion; 95% "
                              f"interval of the volume {_number1(volume['ci_low'])} to "
                              f"{_number1(volume['ci_high'])}")})
    evidence = pd.DataFrame(rows, columns=_EVIDENCE_COLUMNS)
    if first_n < min_n:
        headline = (f"Too few records to conclude: only {first_n} mature records at {names[0]} "
                    f"(at least {min_n} are needed), so shortage or leak cannot be decided yet.")
        return Verdict("insufficient data", headline, evidence, _ADVICE["insufficient data"],
                           lead_phase=lead_phase)
    small = [names[t] for t, (i, j) in enumerate(pairs) if fun.counts(i, j)[0][0] < min_n]
    if tests["p_value"].isna().all() and volume is None and small:
        headline = (f"Too few records to conclude: no step could be tested against a reference, "
                    f"and {', '.join(small)} {'has' if len(small) == 1 else 'have'} fewer than "
                    f"{min_n} mature records.")
        return Verdict("insufficient data", headline, evidence, _ADVICE["insufficient data"],
                           lead_phase=lead_phase)
    below = tests[tests["below"]]
    if len(pairs) == 1:
        step = (f"{names[0]} converts {_percent(below['rate'].iloc[0])}, demonstrably below its "
                f"{below['reference'].iloc[0]} ({_percent(below['test_rate'].iloc[0])})"
                if len(below) else f"{names[0]} is not demonstrably below a stated reference")
        volume_text = ""
        if volume is not None:
            volume_text = (f"; {_number1(volume['leads'])} entries into {volume['phase']} per month "
                           f"against {_number1(volume['need_now'])} needed for the order target")
        return Verdict("one transition", f"A funnel of one transition has no shortage/leak "
                       f"split: {step}{volume_text}.", evidence, _ADVICE["one transition"],
                       lead_phase=lead_phase)
    early = below[below["side"] == "early"]
    late = below[below["side"] == "late"]
    shortage = len(early) > 0 or bool(volume and volume["short_at_reference"])
    leak = len(late) > 0

    def describe(rows: pd.DataFrame) -> str:
        parts = []
        for r in rows.drop_duplicates("step").itertuples(index=False):
            ref = ("its own earlier level" if r.reference == "history" else
                   f"the {r.reference}")
            parts.append(f"{r.from_phase} -> {r.to_phase} converts {_percent(r.rate)} against "
                         f"{_percent(r.reference_rate)} for {ref} (95% CI {_percent(r.ci_low)} to "
                         f"{_percent(r.ci_high)})")
        return "; ".join(parts)

    volume_note = ""
    if volume is not None:
        volume_note = (f"{_number1(volume['leads'])} entries into {volume['phase']} per month against "
                       f"{_number1(volume['need_now'])} needed for {_number1(volume['goal'])} orders at "
                       f"today's conversion")
    if shortage and leak:
        early_gain = sum(gains.get(t, 0.0) for t in early["step"].unique())
        late_gain = sum(gains.get(t, 0.0) for t in late["step"].unique())
        case = "leak" if late_gain >= early_gain else "shortage"
        headline = (f"{'Leak' if case == 'leak' else 'Shortage'} first, though both sides are "
                    f"off: {describe(late if case == 'leak' else early)}; also "
                    f"{describe(early if case == 'leak' else late) or volume_note}.")
    elif leak:
        case = "leak"
        tail = (f"; {volume_note}" if volume_note else "; the early phases are not demonstrably "
                                                        "below their references")
        headline = f"Leak: {describe(late)}{tail}."
    elif shortage:
        case = "shortage"
        what = describe(early) or "the lead volume falls short even at the reference conversion"
        headline = f"Shortage: {what}" + (f"; {volume_note}." if volume_note else ".")
    else:
        case = "no clear low-hanging fruit"
        kinds = set(tests.loc[tests["p_value"].notna(), "reference"])
        missing = []
        if "target" not in kinds:
            missing.append("conversion targets per step (`conversion_<from>_<to>` under "
                           "`targets:`)")
        if "benchmark" not in kinds:
            missing.append("market benchmarks per step (`benchmark_stages:`)")
        if volume is None:
            missing.append("an order target (`orders_per_month`) to test the lead volume against")
        if "history" not in kinds:
            missing.append("two years of history, so each step can be set against its own "
                           "earlier level")
        decide = ("; ".join(missing) if missing else
                  "more history: with these volumes a gap smaller than the intervals cannot be "
                  "told from chance")
        headline = ("No clear low-hanging fruit: no step is demonstrably below its reference "
                    "(target, benchmark or its own earlier level)"
                    + (f" and {volume_note}" if volume_note else "")
                    + f". What would decide it: {decide}.")
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
_FRUIT_FIELDS = ["side", "from_phase", "to_phase", "attribute", "segment", "rate", "reference_rate",
                 "reference", "n", "ci_low", "ci_high", "p_adjusted", "entries_ci_low",
                 "entries_ci_high", "orders_target", "order_rate", "rate_effect", "mix_effect",
                 "p_pooled", "p_within", "period_a", "period_b", "rate_a", "rate_b", "share_a",
                 "share_b", "threshold_days", "stall_quantile", "moved_n", "open_n",
                 "stalled_value"]


def shortage_or_leak(engagement, *, window_days: int | None = None,
                     benchmarks: pd.DataFrame | None = None,
                     targets: Mapping[str, float] | None = None, min_n: int = MIN_N,
                     period: str = "month", horizon: str = "year") -> Verdict:
    """Decide the method's two cases from tests against stated references: too few qualified
    leads (shortage) or plenty of leads that drop out before the order (leak), or neither.

    Parameters
    ----------
    engagement, window_days
        See the module docstring.
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
    min_n = _check_count("min_n", min_n, minimum=1)
    check_option("period", period, list(PERIOD_DAYS))
    check_option("horizon", horizon, list(PERIOD_DAYS))
    tests = _step_tests(fun, benchmarks=benchmarks, targets=targets, min_n=min_n)
    volume = _volume_rule(fun, tests, targets, _lead_index(fun))
    _, gains = _bottleneck_items(fun, tests, seed=0, draws=1000, horizon=horizon,
                                 confidence=0.9, period=period)
    return _verdict(fun, tests, volume, min_n, gains)


# ----------------------------------------------------------------------------- segment scan
def _transition_list(fun: Cohorts, transitions) -> list[tuple[int, int]]:
    if transitions is None:
        return fun.transitions
    out = []
    for pair in transitions:
        if not (isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2):
            raise OptionError(f"The value for `transitions` must be a list of (from_phase, "
                               f"to_phase) pairs such as [('lead', 'opportunity')], but {pair!r} "
                               f"was passed.")
        i, j = fun.index(pair[0]), fun.index(pair[1])
        if j <= i:
            raise ToolkitError(f"`to_phase` must come after `from_phase` in the phase model "
                               f"{fun.keys}, but {pair[0]!r} -> {pair[1]!r} was passed.")
        out.append((i, j))
    return out


def _design(blocks: list[tuple[np.ndarray, list[int]]], rows: int) -> tuple[np.ndarray, list[slice]]:
    """Treatment-coded columns (intercept first) for integer-coded factors given as (codes per
    row, the levels in canonical order: the first is the reference), and each factor's slice."""
    cols = [np.ones(rows)]
    slices = []
    for codes, order in blocks:
        start = len(cols)
        cols += [(codes == level).astype(float) for level in order[1:]]
        slices.append(slice(start, len(cols)))
    return np.column_stack(cols), slices


def _canonical_levels(n_lv: np.ndarray, x_lv: np.ndarray, labels: Sequence[str]) -> list[int]:
    """The levels present at a step, largest first: the reference is the largest segment and the
    order follows the counts, not the labels (a keyed owner's pseudonym decides no column). The
    label breaks a tie only between segments with the same counts."""
    present = [lv for lv in range(len(n_lv)) if n_lv[lv] > 0]
    return sorted(present, key=lambda lv: (-n_lv[lv], -x_lv[lv], str(labels[lv])))


def _scan_models(names: list[str], parents: Mapping[str, set[str]]
                 ) -> list[tuple[tuple[str, ...], list[str]]]:
    """Which attributes each model holds and which it judges. An attribute is judged with every
    attribute it is not nested with (team of owner, office of region: never together, so each
    is judged at its own level); of the others, one that a finer one determines is left out
    (holding owner fixed holds team fixed). Without nesting this is one model for all."""
    def related(a: str, b: str) -> bool:
        return b in parents[a] or a in parents[b]

    def determined(b: str, model: list[str]) -> bool:
        return any(c != b and c in parents[b] and (b not in parents[c]
                                                   or names.index(c) < names.index(b))
                   for c in model)

    groups: dict[tuple[str, ...], list[str]] = {}
    for a in names:
        model = [b for b in names if b == a or not related(a, b)]
        kept = tuple(b for b in model if b == a or not determined(b, model))
        groups.setdefault(kept, []).append(a)
    return list(groups.items())


def _nesting(fun: Cohorts, coded: Mapping[str, tuple[np.ndarray, list[str]]]
             ) -> dict[str, set[str]]:
    """`functions_of` the scanned attributes over every record, once per Cohorts: a structural
    fact of the data (a lookup), not of one step's records."""
    known = fun.memo.setdefault("nesting", {})
    key = tuple(coded)
    if key not in known:
        known[key] = functions_of({name: codes for name, (codes, _) in coded.items()})
    return known[key]


def _joint_effects(fun: Cohorts, names: list[str], i: int, j: int, min_n: int) -> list[dict]:
    """The segment model of transition i -> j: per attribute its segments against the typical
    segment, holding the other attributes and the cohort year fixed (see `_scan_models` for
    nested attributes).

    Returns per attribute the Wald p-value of its (non-missing) segments jointly and per segment
    the log odds ratio against the attribute's typical segment (the median of the segments'
    coefficients) with its standard error; `converged` False when the fit did not converge (its
    numbers are then not given).
    """
    _, mature, converted = fun.cohort(i, j)
    if mature.sum() < min_n:
        return []
    # Without dates (a lead list) there is no cohort year to hold fixed.
    year = (fun.period_codes(i, "year") if fun.dated
            else (np.zeros(len(mature), dtype=np.int64), []))
    coded = {}
    for name in names:
        found = _codes_for(fun, name)
        if found is not None:
            coded[name] = found
    if not coded:
        return []
    return _pooled_effects(fun, i, j, coded, list(coded), _nesting(fun, coded),
                           year if fun.dated else None, min_n)


def _pooled_effects(fun: Cohorts, i: int, j: int, coded: Mapping[str, tuple[np.ndarray, list[str]]],
                    pool: list[str], parents: Mapping[str, set[str]],
                    year: tuple[np.ndarray, list[str]] | None, min_n: int,
                    judge: Sequence[str] | None = None) -> list[dict]:
    """The effects of the attributes in `judge` (default: all of `pool`), each in its model of
    the attributes in `pool`."""
    out = []
    for model, judged in _scan_models(pool, parents):
        judged = [name for name in judged if judge is None or name in judge]
        if judged:
            out += _model_effects(fun, i, j, coded, pool, parents, list(model), judged, year,
                                  min_n)
    return out


def _model_effects(fun: Cohorts, i: int, j: int, coded: Mapping[str, tuple[np.ndarray, list[str]]],
                   pool: list[str], parents: Mapping[str, set[str]], model: list[str],
                   judged: list[str], year: tuple[np.ndarray, list[str]] | None, min_n: int
                   ) -> list[dict]:
    """One penalised binomial model of i -> j on the `model` attributes (and the cohort year), on
    the counts of each combination; the effects of the `judged` attributes. An attribute whose
    columns the others reproduce at this step (a product sold by one owner only) is judged in a
    model of its own, and the others without it; a cohort year the attributes reproduce is left
    out."""
    factors = [(name, *coded[name]) for name in model]
    _, mature, converted = fun.cohort(i, j)
    with_year = year is not None and len(year[1]) > 1
    keys = [codes[mature] for _, codes, _ in factors]
    sizes = [len(labels) for _, _, labels in factors]
    if with_year:
        keys.append(year[0][mature])
        sizes.append(len(year[1]))
    cell = np.ravel_multi_index(keys, sizes) if keys else np.zeros(int(mature.sum()), np.int64)
    uniq, inverse = np.unique(cell, return_inverse=True)
    n_cell = np.bincount(inverse).astype(float)
    x_cell = np.bincount(inverse, weights=converted[mature].astype(float))
    cell_codes = np.unravel_index(uniq, sizes)
    labels_of = [labels for _, _, labels in factors] + ([year[1]] if with_year else [])
    blocks = []
    for codes, labels in zip(cell_codes, labels_of, strict=True):
        n_lv = np.bincount(codes, weights=n_cell, minlength=len(labels))
        x_lv = np.bincount(codes, weights=x_cell, minlength=len(labels))
        blocks.append((codes, _canonical_levels(n_lv, x_lv, labels)))
    design, slices = _design(blocks, len(uniq))
    dependent = dependent_blocks(design, slices)
    if dependent:
        if with_year and len(factors) in dependent:
            return _model_effects(fun, i, j, coded, pool, parents, model, judged, None, min_n)
        alone = [factors[b][0] for b in dependent]
        out = []
        rest = [name for name in judged if name not in alone]
        if rest:  # the others in their models without the ones that coincide
            out += _pooled_effects(fun, i, j, coded, [n for n in pool if n not in alone],
                                   parents, year, min_n, judge=rest)
        for name in alone:
            if name in judged and len(factors) > 1:
                out += _model_effects(fun, i, j, coded, [name], parents, [name], [name], year,
                                      min_n)
        return out
    fit = penalised_logistic(x_cell, n_cell, design)
    out = []
    for (name, codes, labels), (_, order), cols in zip(factors, blocks[:len(factors)],
                                                       slices[:len(factors)], strict=True):
        if name not in judged:
            continue
        held = [other for other, _, _ in factors if other != name]
        out += _segment_effects(fun, i, j, name, codes, labels, order, fit, cols, min_n,
                                held=held, year_held=with_year)
    return out


def _segment_effects(fun: Cohorts, i: int, j: int, name: str, codes: np.ndarray,
                     labels: list[str], order: list[int], fit, cols: slice, min_n: int, *,
                     held: list[str], year_held: bool) -> list[dict]:
    """Per segment of one attribute its log odds ratio against the typical segment."""
    levels = len(labels)
    beta = np.zeros(levels)
    cov = np.zeros((levels, levels))
    idx = order[1:]
    beta[idx] = fit.params[cols]
    cov[np.ix_(idx, idx)] = fit.cov[cols, cols]
    n_lv, x_lv = fun.counts(i, j, codes, levels)
    # the attribute's joint Wald test: are its segments alike? '(missing)' is left out, so a blank
    # that is all lost cannot make the attribute "matter" (it is a data-quality line)
    tested = [lv for lv in order if labels[lv] != MISSING]
    p_attr = float("nan")
    if fit.converged and len(tested) >= 2:
        contrasts = np.zeros((len(tested) - 1, levels))
        contrasts[:, tested[1:]] = np.eye(len(tested) - 1)
        contrasts[:, tested[0]] -= 1.0
        b, v = contrasts @ beta, contrasts @ cov @ contrasts.T
        wald = float(b @ np.linalg.solve(v, b))
        p_attr = float(stats.chi2.sf(wald, len(tested) - 1))
    eligible = [lv for lv in order if n_lv[lv] >= min_n and labels[lv] != MISSING]
    typical = np.zeros(levels)
    middle: list[int] = []
    if len(eligible) >= 2:
        # ties (segments with the same counts) resolved by their counts, not their labels
        ranked = sorted(eligible, key=lambda lv: (round(float(beta[lv]), 9), -n_lv[lv],
                                                  -x_lv[lv], str(labels[lv])))
        mid = len(ranked) // 2
        middle = ranked[mid:mid + 1] if len(ranked) % 2 else ranked[mid - 1:mid + 1]
        typical[middle] = 1.0 / len(middle)
    method = ("joint logistic model, penalised (Wald)" if held
              else "logistic model of the attribute alone, penalised (Wald)")
    out = []
    for lv in range(levels):
        contrast = -typical.copy()
        contrast[lv] += 1.0
        present = n_lv[lv] > 0 and fit.converged
        est = float(contrast @ beta) if present else np.nan
        se = float(np.sqrt(max(contrast @ cov @ contrast, 0.0))) if present else np.nan
        testable = present and lv in eligible and len(eligible) >= 2 and typical[lv] < 1.0 \
            and se > 0
        p = float(2 * stats.norm.sf(abs(est / se))) if testable else np.nan
        out.append({"attribute": name, "level": lv, "segment": labels[lv],
                    "log_odds_ratio": est, "se": se, "p_segment": p,
                    "attribute_p_value": p_attr, "typical": typical[lv] > 0,
                    "typical_n": float(typical @ n_lv) * len(middle),
                    "typical_successes": float(typical @ x_lv) * len(middle),
                    "converged": fit.converged, "method": method,
                    "held_fixed": ";".join(held), "year_held": year_held})
    return out


def _scan(fun: Cohorts, *, attributes, transitions, min_n: int, alpha: float, adjust: str
          ) -> pd.DataFrame:
    min_n = _check_count("min_n", min_n, minimum=1)
    alpha = _check_fraction("alpha", alpha)
    check_option("adjust", adjust, ADJUST_METHODS)
    names = _scan_attributes(fun, attributes)
    refused: dict[str, str] = {}
    if attributes is None:
        # Leakage guards (toolkit.analysis.leakage): never scan what the outcome itself fills in; bands
        # of the deal value only when the engagement declares them and the value is not a
        # close value.
        refused = _leaking(fun, names)
        names = [n for n in names if n not in refused]
        why = value_leaks(fun.records)
        if why and fun.engagement.config.value_bands:
            refused["value_band"] = why
        elif fun.engagement.config.value_bands and "value_band" not in names:
            names.append("value_band")
    pairs = _transition_list(fun, transitions)
    rows = []
    not_scanned: dict[tuple[str, str], Reason] = {}
    for i, j in pairs:
        n_all, x_all = fun.counts(i, j)
        if n_all[0] > 0 and x_all[0] in (0, n_all[0]):
            # every record converts here (or none does), often by construction (the undated
            # prospects were set aside): no segment can differ, so nothing is scanned
            not_scanned[(fun.keys[i], fun.keys[j])] = _no_variation(fun, i, j, int(n_all[0]),
                                                                     int(x_all[0]))
            continue
        effects = {(e["attribute"], e["level"]): e for e in _joint_effects(fun, names, i, j, min_n)}
        for name in names:
            coded = _codes_for(fun, name)
            if coded is None:
                continue
            codes, labels = coded
            n, x = fun.counts(i, j, codes, len(labels))
            total_n, total_x = int(n.sum()), int(x.sum())
            for g, label in enumerate(labels):
                e = effects.get((name, g), {})
                rows.append({"attribute": name, "segment": label, "from_phase": fun.keys[i],
                             "to_phase": fun.keys[j], "n": int(n[g]), "successes": int(x[g]),
                             "rest_n": total_n - int(n[g]),
                             "rest_successes": total_x - int(x[g]),
                             "typical_n": e.get("typical_n", np.nan),
                             "typical_successes": e.get("typical_successes", np.nan),
                             "log_odds_ratio": e.get("log_odds_ratio", np.nan),
                             "se": e.get("se", np.nan), "p_value": e.get("p_segment", np.nan),
                             "attribute_p_value": e.get("attribute_p_value", np.nan),
                             "is_typical": bool(e.get("typical", False)),
                             "converged": bool(e.get("converged", True)),
                             "method": e.get("method", ""),
                             "held_fixed": e.get("held_fixed", ""),
                             "year_held": bool(e.get("year_held", False))})
    out = pd.DataFrame(rows, columns=["attribute", "segment", "from_phase", "to_phase", "n",
                                      "successes", "rest_n", "rest_successes", "typical_n",
                                      "typical_successes", "log_odds_ratio", "se", "p_value",
                                      "attribute_p_value", "is_typical", "converged", "method",
                                      "held_fixed", "year_held"])
    n, x = out["n"].to_numpy(float), out["successes"].to_numpy(float)
    rn, rx = out["rest_n"].to_numpy(float), out["rest_successes"].to_numpy(float)
    tn, tx = out["typical_n"].to_numpy(float), out["typical_successes"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        out["rest_rate"] = np.where(rn > 0, rx / np.where(rn > 0, rn, 1), np.nan)
        out["typical_rate"] = np.where(tn > 0, tx / np.where(tn > 0, tn, 1), np.nan)
    out["ci_low"], out["ci_high"] = rate_ci(x, n, method="wilson")
    out["diff"] = out["rate"] - out["typical_rate"]
    ok = (tn > 0) & (n > 0)
    low, high = np.full(len(out), np.nan), np.full(len(out), np.nan)
    if ok.any():
        low[ok], high[ok] = diff_ci(x[ok], n[ok], tx[ok], tn[ok], method="newcombe")
    out["diff_ci_low"], out["diff_ci_high"] = low, high
    z = stats.norm.ppf(0.975)
    # The penalised fit keeps a separated segment (one that always or never converts) finite:
    # its interval is wide, never 0 or infinity.
    with np.errstate(over="ignore"):
        out["odds_ratio"] = np.exp(out["log_odds_ratio"])
        out["or_ci_low"] = np.exp(out["log_odds_ratio"] - z * out["se"])
        out["or_ci_high"] = np.exp(out["log_odds_ratio"] + z * out["se"])
    out["test_method"] = out["method"].where(out["p_value"].notna(), "")
    # Two stages, both adjusted: does the attribute matter at this step (joint Wald test,
    # `adjust` across every attribute and step of the scan), and does the segment differ from
    # the attribute's typical segment (Bonferroni within the attribute and step).
    family = out.drop_duplicates(["attribute", "from_phase", "to_phase"])
    family = family[family["attribute_p_value"].notna()]
    attr_adj = pd.Series(np.nan, index=out.index)
    if len(family):
        adjusted = pd.Series(adjust_p(family["attribute_p_value"].to_numpy(float), method=adjust),
                             index=pd.MultiIndex.from_frame(family[["attribute", "from_phase",
                                                                    "to_phase"]]))
        attr_adj = pd.Series(adjusted.reindex(pd.MultiIndex.from_frame(
            out[["attribute", "from_phase", "to_phase"]])).to_numpy(), index=out.index)
    # Bonferroni within the attribute and step (a handful of segments each)
    tested = out["p_value"].notna()
    per_family = tested.groupby([out["attribute"], out["from_phase"], out["to_phase"]]
                                ).transform("sum")
    seg_adj = (out["p_value"] * per_family).clip(upper=1.0).where(tested)
    out["p_adjusted"] = np.fmax(attr_adj.to_numpy(float), seg_adj.to_numpy(float))
    out.loc[out["p_value"].isna(), "p_adjusted"] = np.nan
    out["flagged"] = (out["p_adjusted"] < alpha) & (out["n"] >= min_n) & (
        out["segment"] != MISSING)
    out["direction"] = np.select([out["log_odds_ratio"] > 0, out["log_odds_ratio"] < 0],
                                 ["better", "worse"], "same")
    out["judgement"] = [_judgement(row, min_n) for row in out.itertuples(index=False)]
    out["finding"] = [_finding(row, min_n, alpha) for row in out.itertuples(index=False)]
    out["adjust"] = adjust
    # one order whatever the order of rows and labels: flagged first, then by adjusted p; ties
    # by the step, the attribute and the counts (a label, which may be a pseudonym, last)
    out["_step"] = [fun.keys.index(k) for k in out["from_phase"]]
    out = out.sort_values(["flagged", "p_adjusted", "p_value", "_step", "attribute", "n",
                           "successes", "segment"],
                          ascending=[False, True, True, True, True, False, False, True],
                          kind="stable", na_position="last")
    out = out[_SCAN_COLUMNS].reset_index(drop=True)
    out.attrs["refused"] = refused
    out.attrs["not_scanned"] = not_scanned
    return out


def _no_variation(fun: Cohorts, i: int, j: int, n: int, x: int) -> Reason:
    start, end = fun.keys[i], fun.keys[j]
    if x == n:
        return Reason(f"every one of the {n} records that reached {start} reached {end}, so no "
                      f"segment can convert differently there", "scan_everyone_converts",
                      {"from_phase": start, "to_phase": end, "n": n})
    return Reason(f"none of the {n} records that reached {start} reached {end}, so no segment "
                  f"can convert differently there", "scan_nobody_converts",
                  {"from_phase": start, "to_phase": end, "n": n})


def _judgement(row, min_n: int) -> str:
    """The code of a scan row's judgement (`toolkit.base.vocabulary.JUDGEMENTS`)."""
    if row.rest_n == 0:
        return "only_segment"
    if row.segment == MISSING:
        return "data_quality"
    if row.n < min_n:
        return "too_few_records"
    if not row.converged:
        return "model_not_converged"
    if not np.isfinite(row.p_value):
        if row.is_typical or (np.isfinite(row.typical_rate) and row.diff == 0):
            return "typical"
        return "no_comparison"
    return "flagged" if row.flagged else "no_clear_difference"


_SCAN_COLUMNS = [
    "attribute", "segment", "from_phase", "to_phase", "n", "successes", "rate", "ci_low",
    "ci_high", "typical_rate", "typical_n", "typical_successes", "rest_n", "rest_successes",
    "rest_rate", "diff", "diff_ci_low",
    "diff_ci_high", "odds_ratio", "or_ci_low", "or_ci_high", "attribute_p_value", "p_value",
    "test_method", "p_adjusted", "adjust", "flagged", "direction", "judgement", "held_fixed",
    "year_held", "finding",
]


def _held(row) -> str:
    """What a segment's model held fixed, in words: the other attributes and the cohort year."""
    parts = [a for a in str(row.held_fixed).split(";") if a] + (
        ["the cohort year"] if row.year_held else [])
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _finding(row, min_n: int, alpha: float) -> str:
    who = f"{row.attribute} = {row.segment}"
    step = f"{row.from_phase} -> {row.to_phase}"
    if row.judgement == "only_segment":
        return (f"{who}: every record at {step} has this {row.attribute}, so there is no other "
                f"segment to compare it with.")
    if row.judgement == "data_quality":
        return (f"{who}: {row.n} records at {step} have no {row.attribute}; a data-quality "
                f"finding (fill the field in the CRM), not a fruit.")
    if row.judgement == "too_few_records":
        return (f"{who}: too few records to judge at {step} (only {row.n}; at least {min_n} "
                f"needed).")
    if row.judgement == "model_not_converged":
        return (f"{who}: not judged at {step}: the model of {row.attribute} did not converge, so "
                f"it gives no p-value.")
    if row.judgement == "typical":
        return f"{who} is the typical {row.attribute} at {step} ({_percent(row.rate)})."
    if row.judgement == "no_comparison":
        return (f"{who}: no other {row.attribute} with at least {min_n} records at {step} to "
                f"compare it with.")
    base = (f"{who} converts {_percent(row.rate)} at {step} (n={row.n}) against "
            f"{_percent(row.typical_rate)} for the typical {row.attribute}")
    held = _held(row)
    if row.flagged:
        word = "better" if row.direction == "better" else "worse"
        also = f"also holding {held} fixed" if held else "judged on its own"
        return (f"{base}: {word}, {also} "
                f"(odds ratio {row.odds_ratio:.2f}, 95% CI {row.or_ci_low:.2f} to "
                f"{row.or_ci_high:.2f}; adjusted p = {row.p_adjusted:.2g}).")
    once = f"once {held} are held fixed and " if held else "once "
    return (f"{base}: no clear difference {once}the scan is adjusted for multiple testing "
            f"(adjusted p = {row.p_adjusted:.2g}, not below {alpha:g}).")


def segment_scan(engagement, *, attributes: Sequence[str] | None = None,
                 transitions: Sequence[tuple[str, str]] | None = None,
                 window_days: int | None = None, min_n: int = MIN_N, alpha: float = 0.05,
                 adjust: str = "fdr_bh") -> pd.DataFrame:
    """Every segment of every attribute against the typical segment of that attribute, per
    transition, jointly with the other attributes and the cohort year.

    Parameters
    ----------
    engagement, window_days
        See the module docstring.
    attributes
        Record attributes to scan. Default: the engagement's declared segments (attributes with
        more than 50 values are skipped with a warning; attributes that leak the outcome are
        refused, see ``toolkit.analysis.leakage`` and ``scan.attrs['refused']``) plus ``value_band`` when
        ``config.value_bands`` declares its edges. Name ``'value_band'`` in a list to include it.
    transitions
        (from_phase, to_phase) pairs; default every consecutive transition.
    min_n
        Fewest mature records in a segment for it to be tested or to serve as the typical one.
    alpha
        Level for ``flagged``, applied to the adjusted p-value.
    adjust
        Multiple-testing method of :func:`toolkit.stats.adjust_p` across the scan (default
        Benjamini-Hochberg).

    Returns
    -------
    DataFrame, one row per attribute, segment and transition: ``attribute, segment, from_phase,
    to_phase, n, successes, rate, ci_low, ci_high, typical_rate, typical_n, typical_successes,
    rest_n, rest_successes, rest_rate, diff, diff_ci_low, diff_ci_high, odds_ratio, or_ci_low, or_ci_high,
    attribute_p_value, p_value, test_method, p_adjusted, adjust, flagged, direction, judgement,
    held_fixed, year_held, finding``; flagged rows first, then by adjusted p-value (ties by step,
    attribute and counts, never by a label alone). ``judgement`` is a code of
    :data:`toolkit.base.vocabulary.JUDGEMENTS` (``flagged``, ``no_clear_difference``,
    ``typical``, ``data_quality``, or a "not judged" reason); ``held_fixed`` the attributes the
    segment's model held (``;``-separated), ``year_held`` whether it held the cohort year.
    ``scan.attrs['not_scanned']`` maps each transition left out because every record converts
    there (or none does) to its reason (codes ``scan_everyone_converts``,
    ``scan_nobody_converts``).

    Notes
    -----
    Per transition a binomial model on the counts of every combination of the scanned attributes
    and the calendar year of reaching the phase, with every attribute treatment-coded: each
    segment's effect is its log odds holding the other attributes and the cohort year fixed. The
    fit is Firth-penalised (``toolkit.analysis.segment_model``): finite when a segment always or
    never converts, the same whatever the reference level or the order of the columns (which
    would otherwise follow the labels, pseudonyms included); a fit that does not converge gives
    no p-value (``model_not_converged``). An attribute that is a function of another (team of
    owner, office of region: every owner has one team) is never in one model with it: each is
    judged at its own level, and where a finer attribute is held a coarser one it determines is
    left out. Attributes whose columns the others reproduce at a step (a product sold by one
    owner only) are judged there in a model of their own; a cohort year the attributes
    reproduce is left out. The *typical* segment of an attribute is the one with the median effect
    among its segments with at least ``min_n`` records (the middle two, averaged, for an even
    count; '(missing)' never); ``odds_ratio`` is a segment's effect against it (Wald interval),
    ``typical_rate`` and ``diff`` (Newcombe interval) the raw rates behind it. Two stages, both
    adjusted: ``attribute_p_value`` is the joint Wald test of the attribute at that step,
    adjusted across every attribute and step of the scan with ``adjust``; ``p_value`` the
    segment against the typical one, Bonferroni-adjusted within the attribute and step;
    ``p_adjusted`` is the larger of the two adjusted values, and ``flagged`` = p_adjusted <
    alpha. So a normal segment beside a bad one is not "better" (against "the rest" it would be),
    and a segment that only looks different because it goes with another attribute's segment is
    not flagged. '(missing)' is a data-quality line, never flagged. ``rest_*`` are kept as a
    description. A flag says "look here", not "this causes that".

    A lead list without dates (``dated: false``) is scanned on every record that reached the
    from-phase (no window, no cohort year): records still open count as not converted.
    """
    fun = Cohorts(engagement, window_days)
    return _scan(fun, attributes=attributes, transitions=transitions, min_n=min_n, alpha=alpha,
                 adjust=adjust)


# ------------------------------------------------------------------------------ mix vs rate
@dataclass(frozen=True, eq=False)
class MixRateResult:
    """A change in conversion between two periods, split into rate and mix effects.

    Attributes
    ----------
    attribute, from_phase, to_phase, period_a, period_b : what was compared.
    rate_a, rate_b : the overall cohort rates; ``total_change`` = rate_b - rate_a.
    rate_effect, mix_effect : the two components; they add up to ``total_change``.
    by_segment : per segment ``segment, n_a, successes_a, rate_a, weight_a, n_b, successes_b,
        rate_b, weight_b, rate_change, weight_change, rate_effect, mix_effect, contribution``.
    simpsons_paradox : True when the overall change has the opposite sign to the change of the
        segment rates (all of them, or the segments holding most of the records).
    headline : the finding in one plain sentence.
    overall_test : two-rate test of rate_a vs rate_b (pooled).
    stratified_test : Cochran-Mantel-Haenszel test of period a vs b within segments (None when it
        could not be formed).
    """

    attribute: str
    from_phase: str
    to_phase: str
    period_a: str
    period_b: str
    rate_a: float
    rate_b: float
    total_change: float
    rate_effect: float
    mix_effect: float
    by_segment: pd.DataFrame
    simpsons_paradox: bool
    headline: str
    overall_test: Any = None
    stratified_test: Any = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    cohort: str = "reached"

    @property
    def summary(self) -> pd.DataFrame:
        """Components: total, rate, mix, with the periods and the tests' p-values."""
        p_overall = self.overall_test.p_value if self.overall_test is not None else np.nan
        p_strat = self.stratified_test.p_value if self.stratified_test is not None else np.nan
        return pd.DataFrame({
            "component": ["total", "rate", "mix"],
            "value": [self.total_change, self.rate_effect, self.mix_effect],
            "from_phase": self.from_phase, "to_phase": self.to_phase,
            "attribute": self.attribute, "period_a": self.period_a, "period_b": self.period_b,
            "p_value": [p_overall, p_strat, np.nan],
            "test": ["two-rate (pooled)", "Cochran-Mantel-Haenszel (within segments)", ""],
        })

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The rate and mix effect per segment: ``toolkit.present.plotting.plot_mix_vs_rate``."""
        return draw("plot_mix_vs_rate", self.by_segment, ax=ax, **options)

    def _repr_html_(self) -> str:
        return _html(f"Mix vs rate: {self.attribute}, {self.from_phase} -> {self.to_phase}, "
                     f"{self.period_a} vs {self.period_b}", [self.headline, *self.notes],
                     [self.summary, self.by_segment])

    def __repr__(self) -> str:
        return (f"<MixRateResult total={self.total_change:+.4f} rate={self.rate_effect:+.4f} "
                f"mix={self.mix_effect:+.4f} simpsons_paradox={self.simpsons_paradox}>")


def _mix(fun: Cohorts, attribute: str, i: int, j: int, period_a, period_b, *,
         start: np.ndarray | None = None, cohort: str = "reached") -> MixRateResult:
    pa, pb = parse_period(period_a, "period_a"), parse_period(period_b, "period_b")
    if pa.start_time <= pb.end_time and pb.start_time <= pa.end_time:
        raise ToolkitError(f"The periods `period_a` ({pa}) and `period_b` ({pb}) overlap; the two "
                           f"groups must be different records. Fix: pass non-overlapping periods "
                           f"such as '2024' and '2025'.")
    coded = _codes_for(fun, attribute)
    if coded is None:
        raise ToolkitError("`value_band` needs deal values in `records.value`, but none are known.")
    codes, labels = coded
    start = fun.reached[:, i] if start is None else start
    frames = {}
    immature = {}
    has, mature, _ = fun.cohort(i, j)
    for tag, p in (("a", pa), ("b", pb)):
        within = in_period(start, p)
        n, x = fun.counts(i, j, codes, len(labels), within=within)
        frames[tag] = (n.astype(float), x.astype(float))
        immature[tag] = int((within & has & ~mature).sum())
    (na, xa), (nb, xb) = frames["a"], frames["b"]
    if na.sum() == 0 or nb.sum() == 0:
        empty = pa if na.sum() == 0 else pb
        raise DataError(f"No mature records reached {fun.keys[i]} in period {empty}, so there "
                        f"is nothing to compare", fix="choose periods with records whose "
                        f"{fun.window}-day window has closed before the as-of date "
                        f"{fun.as_of:%Y-%m-%d}")
    keep = (na > 0) | (nb > 0)
    seg = [label for label, k in zip(labels, keep, strict=True) if k]
    na, xa, nb, xb = na[keep], xa[keep], nb[keep], xb[keep]
    wa, wb = na / na.sum(), nb / nb.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        ra, rb = xa / na, xb / nb
    # A segment present in one period only: its rate there is undefined. Its weight there is 0,
    # so any value keeps the identity; taking the other period's rate puts its whole
    # contribution in the mix effect.
    ra_f = np.where(na > 0, ra, rb)
    rb_f = np.where(nb > 0, rb, ra)
    rate_eff = (wa + wb) / 2 * (rb_f - ra_f)
    mix_eff = (ra_f + rb_f) / 2 * (wb - wa)
    total_a, total_b = xa.sum() / na.sum(), xb.sum() / nb.sum()
    total = total_b - total_a
    by = pd.DataFrame({"segment": seg, "n_a": na.astype(int), "successes_a": xa.astype(int),
                       "rate_a": ra, "weight_a": wa, "n_b": nb.astype(int),
                       "successes_b": xb.astype(int), "rate_b": rb, "weight_b": wb,
                       "rate_change": rb - ra, "weight_change": wb - wa,
                       "rate_effect": rate_eff, "mix_effect": mix_eff,
                       "contribution": rate_eff + mix_eff})

    both = (na > 0) & (nb > 0)
    avg_w = ((wa + wb) / 2)[both]
    change = (rb - ra)[both]
    up, down = avg_w[change > 0].sum(), avg_w[change < 0].sum()
    compared = avg_w.sum()
    seg_sign = 1 if up > compared / 2 else -1 if down > compared / 2 else 0
    paradox = bool(seg_sign != 0 and total != 0 and np.sign(total) == -seg_sign)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        overall = two_rate_test(int(xb.sum()), int(nb.sum()), int(xa.sum()), int(na.sum()),
                                method="score")
    notes = []
    stratified = None
    table = pd.DataFrame({"segment": seg * 2, "period": [str(pb)] * len(seg) + [str(pa)] * len(seg),
                          "successes": np.concatenate([xb, xa]), "n": np.concatenate([nb, na])})
    table = table[table["n"] > 0]
    try:
        stratified = cmh_test(table, stratum="segment", group="period", successes="successes",
                              trials="n")
    except (DataError, ConfigError, ValueError) as error:
        notes.append(f"The stratified test could not be formed: {error}")
    if immature["a"] or immature["b"]:
        notes.append(f"Immature records left out (window {fun.window} days): {immature['a']} in "
                     f"{pa}, {immature['b']} in {pb}.")

    values = {"from_phase": fun.keys[i], "to_phase": fun.keys[j], "by_creation": cohort == "created",
              "word": "rose" if total > 0 else "fell" if total < 0 else "stayed",
              "rate_a": float(total_a), "rate_b": float(total_b), "period_a": str(pa),
              "period_b": str(pb), "total": float(total), "rate_effect": float(rate_eff.sum()),
              "mix_effect": float(mix_eff.sum())}
    head = Finding("mix_decomposition", values)  # written by toolkit.present.findings
    if paradox:
        share = up if seg_sign > 0 else down
        mover = int(np.argmax(np.abs(wb - wa)))
        head = Finding("simpsons_paradox", {
            **values, "attribute": attribute, "share": float(share / compared),
            "direction": "better" if seg_sign > 0 else "worse", "segment": seg[mover],
            "share_a": float(wa[mover]), "share_b": float(wb[mover])})
    return MixRateResult(
        attribute=attribute, from_phase=fun.keys[i], to_phase=fun.keys[j], period_a=str(pa),
        period_b=str(pb), rate_a=float(total_a), rate_b=float(total_b), total_change=float(total),
        rate_effect=float(rate_eff.sum()), mix_effect=float(mix_eff.sum()), by_segment=by,
        simpsons_paradox=paradox, headline=head, overall_test=overall,
        stratified_test=stratified, notes=tuple(notes), cohort=cohort)


def mix_vs_rate(engagement, *, attribute: str, from_phase: str, to_phase: str,
                period_a: str | int | pd.Period, period_b: str | int | pd.Period,
                window_days: int | None = None, by: str = "reached") -> MixRateResult:
    """Split the change in a cohort conversion between two periods into a rate and a mix effect.

    Parameters
    ----------
    engagement, window_days
        See the module docstring.
    attribute
        The segment attribute whose mix may have moved (e.g. ``'action'``), or ``'value_band'``.
    from_phase, to_phase
        The transition.
    period_a, period_b
        The earlier and later period, as labels pandas reads as a period: ``'2024'`` or ``2024``
        (a year), ``'2024Q3'`` (a quarter), ``'2024-03'`` (a month), or ``pd.Period`` objects.
        Records belong to the period in which they reached ``from_phase`` (``by='reached'``)
        or were created (``by='created'``: the creation cohort). The periods must not overlap.
    by : {'reached', 'created'}
        Which date puts a record in a period.

    Returns
    -------
    MixRateResult

    Notes
    -----
    Kitagawa's shift-share decomposition with averaged weights. With segment weights
    :math:`w_{s}` (share of the period's mature records) and rates :math:`r_s` in periods a
    and b, the overall rate is :math:`R = \\sum_s w_s r_s` and

    .. math:: R_b - R_a = \\underbrace{\\sum_s \\tfrac{w_{a,s}+w_{b,s}}{2}(r_{b,s}-r_{a,s})}_
              {\\text{rate effect}} + \\underbrace{\\sum_s \\tfrac{r_{a,s}+r_{b,s}}{2}
              (w_{b,s}-w_{a,s})}_{\\text{mix effect}}

    exactly (expand the products). A segment present in one period only gets the other period's
    rate, so it contributes to the mix effect only. ``simpsons_paradox``: the segments with a
    rate in both periods are split by the sign of their rate change; if those going one way hold
    more than half of the averaged weight, and the overall change has the opposite sign, the
    paradox is flagged. The flag reads signs, not significance: look at ``overall_test`` (pooled
    two-rate score test, b vs a) and ``stratified_test`` (CMH, "do the periods differ within
    segments?") before telling the client. Do not use it with periods whose cohorts are still
    largely immature.
    """
    engagement.require_dates("Mix versus rate (by creation cohort)")
    fun = Cohorts(engagement, window_days)
    i, j = _transition_list(fun, [(from_phase, to_phase)])[0]
    if attribute != "value_band":
        fun.attribute(attribute)
    check_option("by", by, ["reached", "created"])
    start = (fun.records["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
             if by == "created" else None)
    return _mix(fun, attribute, i, j, period_a, period_b, start=start, cohort=by)


# ------------------------------------------------------------------------------- leak detail
@dataclass(frozen=True, eq=False)
class LeakDetail:
    """Where the lost records were lost, and which open records have stalled.

    Attributes
    ----------
    lost_by_phase : per phase ``phase, n`` (records that reached it), ``lost`` (lost there),
        ``rate`` (lost / n) with ``ci_low, ci_high``, ``share_of_lost``, ``median_days`` (median
        time from reaching the phase to the loss).
    stalled : open records sitting in their phase longer than the phase's threshold:
        ``record_id, phase, days_in_phase, threshold_days, value`` (+ ``owner`` when recorded),
        largest value first.
    thresholds : per phase ``phase, moved, threshold_days, open, stalled, stalled_value``.
    headline : one sentence.
    """

    lost_by_phase: pd.DataFrame
    stalled: pd.DataFrame
    thresholds: pd.DataFrame
    headline: str
    stall_quantile: float
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Per phase: reached, lost, loss rate, open, stalled, threshold and stalled value."""
        return self.lost_by_phase.merge(self.thresholds, on="phase", how="left")

    def _repr_html_(self) -> str:
        return _html("Leak detail", [self.headline, *self.notes],
                     [self.summary, self.stalled.head(20)])

    def __repr__(self) -> str:
        return f"<LeakDetail {self.headline}>"


def _leak(fun: Cohorts, stall_quantile: float, min_moves: int) -> LeakDetail:
    stall_quantile = _check_fraction("stall_quantile", stall_quantile)
    min_moves = _check_count("min_moves", min_moves, minimum=1)
    rec = fun.records
    reached = fun.reached
    keys = fun.keys
    known = reached != NAT
    highest = np.where(known.any(axis=1), known.shape[1] - 1 - np.argmax(known[:, ::-1], axis=1),
                       -1)
    outcome = rec["outcome"].astype(str)
    lost = (outcome == "lost").to_numpy(dtype=bool)
    if "lost_at_phase" in rec.columns:
        lost_at = pd.Categorical(rec["lost_at_phase"].astype(object).where(
            rec["lost_at_phase"].notna()), categories=keys).codes.astype(np.int64)
    else:
        lost_at = np.full(len(rec), -1, dtype=np.int64)
    # DESIGN: the phase where a record was lost = the highest phase reached before
    lost_at = np.where(lost & (lost_at < 0), highest, lost_at)
    closed = rec["closed_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    as_of = fun.as_of.value
    value = (pd.to_numeric(rec["value"], errors="coerce").to_numpy(dtype=float)
             if "value" in rec.columns else np.full(len(rec), np.nan))

    rows, thresholds, stalled_parts = [], [], []
    total_lost = int((lost & (lost_at >= 0)).sum())
    is_open = (outcome == "open").to_numpy(dtype=bool)
    for k, phase in enumerate(keys[:-1]):
        n = int(known[:, k].sum())
        here = lost & (lost_at == k)
        start = reached[here, k]
        end = closed[here]
        ok = (start != NAT) & (end != NAT)
        days = (end[ok] - start[ok]) / NS_DAY
        # every loss at the instant the phase was entered (one bulk stamp): no days to tell
        instant = len(days) > 0 and not (days > 0).any()
        rows.append({"phase": phase, "n": n, "lost": int(here.sum()),
                     "share_of_lost": here.sum() / total_lost if total_lost else np.nan,
                     "median_days": (float(np.median(days)) if len(days) and not instant
                                     else np.nan),
                     "missing_reason": "no_distinct_times" if instant else None})
        moved = known[:, k] & known[:, k + 1]
        gaps = (reached[moved, k + 1] - reached[moved, k]) / NS_DAY
        gaps = gaps[gaps > 0]  # entering at a later phase "passes" k in zero time
        threshold = float(np.quantile(gaps, stall_quantile)) if len(gaps) >= min_moves else np.nan
        sitting = is_open & (highest == k)
        in_phase = (as_of - reached[sitting, k]) / NS_DAY
        flag = in_phase > threshold if np.isfinite(threshold) else np.zeros(len(in_phase), bool)
        idx = np.flatnonzero(sitting)[flag]
        # the few stalled rows, not the whole column, leave the Arrow strings
        part = pd.DataFrame({"record_id": rec["record_id"].iloc[idx].to_numpy(), "phase": phase,
                             "days_in_phase": in_phase[flag], "threshold_days": threshold,
                             "value": value[idx]})
        if "owner" in rec.columns:
            part["owner"] = rec["owner"].iloc[idx].to_numpy()
        stalled_parts.append(part)
        thresholds.append({"phase": phase, "moved": len(gaps), "threshold_days": threshold,
                           "open": int(sitting.sum()), "stalled": int(flag.sum()),
                           "stalled_value": float(np.nansum(value[idx]))})
    lost_by = pd.DataFrame(rows)
    lost_by["rate"] = lost_by["lost"] / lost_by["n"].where(lost_by["n"] > 0)
    lost_by["ci_low"], lost_by["ci_high"] = rate_ci(lost_by["lost"].to_numpy(float),
                                                    lost_by["n"].to_numpy(float), method="wilson")
    lost_by = lost_by[["phase", "n", "lost", "rate", "ci_low", "ci_high", "share_of_lost",
                       "median_days", "missing_reason"]]
    stalled = pd.concat(stalled_parts, ignore_index=True)
    stalled = stalled.sort_values(["value", "days_in_phase"], ascending=False, kind="stable",
                                  na_position="last").reset_index(drop=True)
    thresholds_frame = pd.DataFrame(thresholds)
    notes = []
    unplaced = int((lost & (lost_at < 0)).sum())
    if unplaced:
        notes.append(f"{unplaced} lost record(s) reached no phase and are not placed.")
    short = thresholds_frame.loc[thresholds_frame["threshold_days"].isna(), "phase"].tolist()
    if short:
        notes.append(f"No stall threshold for {short}: fewer than {min_moves} records moved on.")
    quantile = round(100 * stall_quantile)
    if thresholds_frame.empty or thresholds_frame["threshold_days"].isna().all():
        # Without a threshold nothing can be called stalled: say so rather than "0 stalled".
        stall_text = (f"too few records moved on (fewer than {min_moves} per phase) to tell "
                      f"which open records have stalled")
    else:
        stall_text = (f"{len(stalled)} open records are stalled beyond the {quantile}th-percentile "
                      f"time in their phase")
    most = lost_by["lost"].max() if len(lost_by) else 0
    if total_lost and (lost_by["lost"] == most).sum() > 1:
        tied = lost_by.loc[lost_by["lost"] == most, "phase"].astype(str).tolist()
        headline = (f"{total_lost} lost records, spread evenly: {int(most)} each at "
                    f"{', '.join(tied)}, so no phase stands out; {stall_text}.")
    elif total_lost:
        top = lost_by.loc[lost_by["lost"].idxmax()]
        lead = ("Most lost records were lost at" if top["lost"] > total_lost / 2
                else f"The largest share of lost records ({_percent(top['lost'] / total_lost)}) was "
                     f"lost at")
        headline = (f"{lead} {top['phase']} ({int(top['lost'])} of {int(top['n'])} that reached "
                    f"it, {_percent(top['rate'])}; median {_number0(top['median_days'])} days there "
                    f"before the loss); {stall_text}.")
    else:
        headline = f"No lost records; {stall_text}."
    return LeakDetail(lost_by, stalled, thresholds_frame, headline, stall_quantile, tuple(notes))


def leak_detail(engagement, *, stall_quantile: float = 0.9, min_moves: int = 10) -> LeakDetail:
    """Where lost records were lost, and which open records have stalled.

    Parameters
    ----------
    engagement
        See the module docstring.
    stall_quantile
        The quantile of the time to the next phase (among records that moved on) beyond which an
        open record counts as stalled (default 0.9).
    min_moves
        Fewest records that moved on from a phase for its threshold to be set.

    Returns
    -------
    LeakDetail

    Notes
    -----
    A lost record's phase is ``lost_at_phase``, or else the highest phase it reached. Its time
    there = ``closed_at - reached_at[phase]`` in days. A phase's stall threshold is the
    ``stall_quantile`` of ``reached_at[k+1] - reached_at[k]`` over records that reached both
    (zero gaps, from records that entered at a later phase, left out; numpy's linear quantile).
    An open record whose highest phase is k is stalled when ``as_of - reached_at[k]`` exceeds
    it. The threshold is conditional on moving on: slow converters beyond it exist, but they
    are the exception worth a phone call. Not for phases with very few movers (no threshold).
    """
    engagement.require_dates("The leak detail (stall times)")
    return _leak(Cohorts(engagement, None), stall_quantile, min_moves)


# ------------------------------------------------------------------------- low-hanging fruit
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
        return _html("Low-hanging fruit", [self.verdict.headline, self.verdict.advice, self.today,
                                           f"Extra orders and revenue per {self.horizon}; the "
                                           f"gains overlap, do not add them up."],
                     [self.table])

    def __repr__(self) -> str:
        return f"<LowHangingFruit {len(self.table)} items; {self.verdict.case}>"


def _segment_gain(fun: Cohorts, row, codes: np.ndarray, labels: list[str], rng, draws: int,
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


def _bottleneck_items(fun: Cohorts, tests: pd.DataFrame, *, seed, draws: int, horizon: str,
                      confidence: float, period: str) -> tuple[list[dict], dict[int, float]]:
    """Each step demonstrably below a reference, sized with the uncertainty of the step's rate,
    the later rates and the reference; a gap whose range includes zero is dropped."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    scale = PERIOD_DAYS[horizon]
    pairs = fun.transitions
    n = np.array([fun.counts(i, j)[0][0] for i, j in pairs], dtype=float)
    x = np.array([fun.counts(i, j)[1][0] for i, j in pairs], dtype=float)
    rate = np.divide(x, n, out=np.full(len(n), np.nan), where=n > 0)
    draws = max(int(draws), 200)
    post = rng.beta(1 + x, 1 + n - x, size=(draws, len(pairs)))
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    lead = _lead_index(fun)
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
            "finding": (f"{r['from_phase']} -> {r['to_phase']} converts {_percent(own)} against "
                        f"{_percent(r['reference_rate'])} for {ref_words}"),
            "evidence": (f"n={int(r['n'])}, 95% CI {_percent(r['ci_low'])} to {_percent(r['ci_high'])}; "
                         f"reference: {r['detail']}; adjusted p = {r['p_adjusted']:.2g}; "
                         f"{_number1(fun.entries_per_day(i) * PERIOD_DAYS[period])} records reach "
                         f"{r['from_phase']} per {period}"),
            "extra_orders": point, "extra_orders_low": low, "extra_orders_high": high,
            "action_hint": hint, "_p": float(r["p_adjusted"]),
            "side": "early" if t < lead else "late", "from_phase": r["from_phase"],
            "to_phase": r["to_phase"], "rate": own,
            "reference_rate": float(r["reference_rate"]), "reference": r["reference"],
            "n": r["n"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "p_adjusted": r["p_adjusted"]})
    return items, gains


def _volume_item(volume: dict | None, horizon: str) -> list[dict]:
    if volume is None or not volume["short"]:
        return []
    per = PERIOD_DAYS[horizon] / PERIOD_DAYS["month"]
    conv = volume["conversion_now"]
    gap = [(volume["need_now"] - v) * conv * per for v in (volume["leads"], volume["ci_high"],
                                                           volume["ci_low"])]
    return [{"area": "volume", "step": 0,
             "finding": (f"{_number1(volume['leads'])} entries into {volume['phase']} per month "
                         f"against {_number1(volume['need_now'])} needed for the order target"),
             "evidence": (f"95% interval {_number1(volume['ci_low'])} to {_number1(volume['ci_high'])} per "
                          f"month; {_number1(volume['goal'])} orders per month at today's "
                          f"conversion of {_percent(conv)} from {volume['phase']}"),
             "extra_orders": gap[0], "extra_orders_low": gap[1], "extra_orders_high": gap[2],
             "action_hint": "Build the early phases: more qualified leads (targeting, actions)",
             "_p": np.nan, "from_phase": volume["phase"], "rate": volume["leads"],
             "reference_rate": volume["need_now"], "reference": "order target",
             "entries_ci_low": volume["ci_low"], "entries_ci_high": volume["ci_high"],
             "orders_target": volume["goal"], "order_rate": conv}]


def low_hanging_fruit(engagement, *, seed: int = 0, window_days: int | None = None,
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
    engagement, window_days, seed, draws
        See the module docstring.
    benchmarks, targets, period, horizon, confidence, min_n
        As in :func:`bottleneck_sizing`; ``targets['orders_per_month']`` tests the lead volume.
    alpha, adjust
        Level and scan-wide adjustment of the segment scan and the mix checks. The default 0.01
        keeps the report's claims on companies where nothing is wrong under 5% in total (see the
        calibration table in README.md).
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
    seed = check_seed(seed)
    fun = Cohorts(engagement, window_days)
    max_segments = _check_count("max_segments", max_segments)
    confidence = _check_fraction("confidence", confidence)
    min_n = _check_count("min_n", min_n, minimum=1)
    sizing = _sizing(fun, benchmarks=benchmarks, targets=targets, period=period, horizon=horizon,
                     draws=draws, seed=seed, min_n=min_n, best_quantile=0.8, shrink=True,
                     confidence=confidence, attributes=None)
    tests = _step_tests(fun, benchmarks=benchmarks, targets=targets, min_n=min_n)
    pairs = fun.transitions
    lead = _lead_index(fun)
    volume = _volume_rule(fun, tests, targets, lead)
    items, gains = _bottleneck_items(fun, tests, seed=seed, draws=draws, horizon=horizon,
                                     confidence=confidence, period=period)
    items += _volume_item(volume, horizon)
    verdict = _verdict(fun, tests, volume, min_n, gains)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the scan already warned via sizing
        scan = _scan(fun, attributes=None, transitions=None, min_n=min_n, alpha=alpha,
                     adjust=adjust)
    leaks = _leak(fun, stall_quantile, 10)
    scale = PERIOD_DAYS[horizon]
    avg_value = fun.won_value()
    rates = {(fun.keys[i], fun.keys[j]): fun.counts(i, j) for i, j in pairs}

    # a stream of its own, so the bottleneck rows equal bottleneck_sizing(seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    segment_rows = []
    for r in scan[scan["flagged"]].itertuples(index=False):
        codes, labels = _codes_for(fun, r.attribute)
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
                        f"-> {r.to_phase}: {_percent(r.rate)} against {_percent(r.typical_rate)} for the "
                        f"typical {r.attribute}"),
            "evidence": (f"n={r.n}; odds ratio {r.odds_ratio:.2f} (95% CI {r.or_ci_low:.2f} to "
                         f"{r.or_ci_high:.2f}) "
                         + (f"holding {_held(r)} fixed" if _held(r) else "judged on its own")
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

    all_mixes, kept = _mix_findings(fun, min_n=min_n, alpha=alpha)
    for mix in kept:
        top = mix.by_segment.loc[mix.by_segment["weight_change"].abs().idxmax()]
        p_within = (mix.stratified_test.p_value if mix.stratified_test is not None else np.nan)
        rows.append({
            "area": "mix", "step": np.nan, "finding": mix.headline.split(". ")[0] + ".",
            "evidence": (f"rate effect {_points(mix.rate_effect)}, mix effect "
                         f"{_points(mix.mix_effect)}; pooled p = {mix.overall_test.p_value:.2g}"
                         + (f", within-segment (CMH) p = {mix.stratified_test.p_value:.2g}"
                            if mix.stratified_test is not None else "")),
            "extra_orders": np.nan, "extra_orders_low": np.nan, "extra_orders_high": np.nan,
            "action_hint": (f"Judge each {mix.attribute} by its own rate; the share of "
                            f"{top['segment']} moved from {_percent(top['weight_a'])} to "
                            f"{_percent(top['weight_b'])}"),
            "_p": mix.overall_test.p_value, "_order": 1, "from_phase": mix.from_phase,
            "to_phase": mix.to_phase, "attribute": mix.attribute, "segment": top["segment"],
            "period_a": mix.period_a, "period_b": mix.period_b, "rate_a": mix.rate_a,
            "rate_b": mix.rate_b, "share_a": top["weight_a"], "share_b": top["weight_b"],
            "rate_effect": mix.rate_effect, "mix_effect": mix.mix_effect,
            "p_pooled": mix.overall_test.p_value, "p_within": p_within})

    for t in leaks.thresholds.itertuples(index=False):
        if t.stalled == 0:
            continue
        worth = f", together {_number0(t.stalled_value)} in value" if t.stalled_value > 0 else ""
        rows.append({
            "area": "stalled", "step": np.nan,
            "finding": (f"{t.stalled} open records at {t.phase} have not moved for longer than "
                        f"{_number0(t.threshold_days)} days{worth}"),
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
                                        "_p", "_order", *_FRUIT_FIELDS])
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
        verdict = replace(verdict, gains_in_segments=True, headline=verdict.headline.replace(
            "No clear low-hanging fruit: no step", "No side of the funnel is the obvious place "
            "to start, but segments of a step are (ranked below): no step", 1))
    ranked = ranked[["rank", "area", "finding", "evidence", "extra_orders", "extra_orders_low",
                     "extra_orders_high", "extra_revenue", "action_hint", *_FRUIT_FIELDS]]
    orders = fun.entries_per_day(len(fun.keys) - 1) * scale
    today = f"Today: {_number1(orders)} orders per {horizon}"
    if np.isfinite(avg_value):
        today += f", about {_number0(orders * avg_value)} in revenue (average won deal {_number0(avg_value)})"
    goals = engagement.config.targets if targets is None else targets
    if (goals or {}).get("revenue_per_year") is not None:
        per_year = orders * avg_value * PERIOD_DAYS["year"] / scale
        today += (f"; revenue target {_number0(goals['revenue_per_year'])} per year against "
                  f"{_number0(per_year)} today")
    return LowHangingFruit(table=ranked, verdict=verdict, sizing=sizing, scan=scan, mixes=kept,
                           leaks=leaks, horizon=horizon, today=today + ".", all_mixes=all_mixes,
                           steps=tests)


def _by_year(fun: Cohorts, codes: np.ndarray, size: int, i: int, j: int,
             year_codes: np.ndarray, years: int) -> tuple[np.ndarray, np.ndarray]:
    """Mature n and successes per (segment code, year code): one count for every pair of years
    the screen compares (year code < 0: no year, left out)."""
    joint = np.where(year_codes >= 0, codes * years + year_codes, -1)
    n, x = fun.counts(i, j, joint, size * years)
    return n.reshape(size, years), x.reshape(size, years)


def _mix_screen(counted: tuple[np.ndarray, np.ndarray], size: int, a: int, b: int) -> bool:
    """Cheap first look (counts only): could this attribute show a Simpson's paradox between the
    years with codes a and b? `counted`: `_by_year` of the attribute."""
    na, xa = (v[:, a].astype(float) for v in counted)
    nb, xb = (v[:, b].astype(float) for v in counted)
    if na.sum() == 0 or nb.sum() == 0:
        return False
    both = (na > 0) & (nb > 0)
    wa, wb = na / na.sum(), nb / nb.sum()
    change = np.divide(xb, nb, out=np.zeros(size), where=nb > 0) - np.divide(
        xa, na, out=np.zeros(size), where=na > 0)
    total = xb.sum() / nb.sum() - xa.sum() / na.sum()
    rate_effect = float(((wa + wb) / 2 * change)[both].sum())
    # the overall change does not show the change within the segments (hidden or reversed)
    return rate_effect != 0 and np.sign(total) != np.sign(rate_effect)


def _years(start: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The calendar years of int64-nanosecond times (sorted) and each time's position among them
    (-1: no time)."""
    has = start != NAT
    years = np.full(len(start), -1, dtype=np.int64)
    years[has] = start[has].view("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970
    labels = np.unique(years[has]).tolist()
    return labels, np.where(has, np.searchsorted(np.asarray(labels), years), -1)


def _mix_findings(fun: Cohorts, *, min_n: int, alpha: float
                  ) -> tuple[list[MixRateResult], list[MixRateResult]]:
    """Simpson's paradoxes between consecutive calendar years, by creation cohort and by period
    of reaching the phase, and those that hold.

    Every (step, pair of years, cohort definition) is screened on counts for every attribute;
    the full decomposition (:func:`mix_vs_rate`, with its CMH test) is made where the overall
    change does not show the rate effect (it hides or reverses it). A paradox holds (DESIGN.md
    "Mix") when the rate effect and the mix effect have opposite signs and the mix effect is at
    least as large (the overall change does not go the rate effect's way), the within-segment
    change is demonstrated in the rate effect's direction (CMH), and the mix shift itself is
    demonstrated (chi-square of the segment shares between the years): both p-values
    Holm-adjusted across the decompositions made, under `alpha`. Whether the overall change is
    significant does not matter: a paradox that cancels the change hides it. It also holds when
    a demonstrated overall change is the mix's doing (see :func:`_paradox_by_mix`), though the
    change within the segments is too small to demonstrate. Returns (the decompositions made,
    those that hold).
    """
    results: list[MixRateResult] = []
    names = list(_scan_attributes(fun, None))
    created = fun.records["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    overall: dict[tuple, float] = {}
    by_year: dict[tuple, tuple] = {}  # the creation years serve every transition
    for i, j in fun.transitions:
        for cohort in ("created", "reached"):
            start = created if cohort == "created" else fun.reached[:, i]
            key = ("created",) if cohort == "created" else ("reached", i)
            if key not in by_year:
                by_year[key] = _years(start)
            labels, codes = by_year[key]
            if not labels:
                continue
            counted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            n, x = fun.counts(i, j, codes, len(labels))
            usable = [k for k, m in enumerate(n) if m >= min_n]
            for a, b in zip(usable[:-1], usable[1:], strict=True):
                if labels[b] != labels[a] + 1:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SmallSampleWarning)
                    test = two_rate_test(int(x[b]), int(n[b]), int(x[a]), int(n[a]),
                                         method="score")
                overall[(cohort, i, j, labels[a])] = test.p_value
                for name in names:
                    coded = _codes_for(fun, name)
                    if coded is None:
                        continue
                    if name not in counted:  # every pair of years from one count
                        counted[name] = _by_year(fun, coded[0], len(coded[1]), i, j, codes,
                                                 len(labels))
                    if not _mix_screen(counted[name], len(coded[1]), a, b):
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        results.append(_mix(fun, name, i, j, str(labels[a]), str(labels[b]),
                                            start=start, cohort=cohort))
    holds = {id(r) for r in _paradox_by_mix(fun, results, overall, alpha)}
    candidates = [r for r in results if _mix_masks_rate(r)]
    if candidates:
        within = adjust_p(np.array([r.stratified_test.p_value for r in candidates]),
                          method="holm")
        shift = adjust_p(np.array([_mix_shift_p(r.by_segment) for r in candidates]),
                         method="holm")
        holds |= {id(r) for r, p_w, p_s in zip(candidates, within, shift, strict=True)
                  if p_w < alpha and p_s < alpha}
    kept: dict[tuple, MixRateResult] = {}
    for r in results:
        if id(r) not in holds:
            continue
        # the same paradox seen by both cohort definitions is reported once
        slot = (r.attribute, r.from_phase, r.to_phase, r.period_a)
        if slot not in kept or r.overall_test.p_value < kept[slot].overall_test.p_value:
            kept[slot] = r
    return results, list(kept.values())


def _paradox_by_mix(fun: Cohorts, results: list[MixRateResult], overall: dict[tuple, float],
                    alpha: float) -> list[MixRateResult]:
    """The demonstrated overall change that the mix made: the overall change significant (Holm
    across every pair of years, step and cohort definition compared), the mix effect larger
    than it, the segments holding most records moved against it, and no significant change in
    its direction within the segments (CMH)."""
    if not overall:
        return []
    keys = list(overall)
    adjusted = dict(zip(keys, adjust_p(np.array([overall[k] for k in keys]), method="holm"),
                        strict=True))
    out = []
    for r in results:
        key = (r.cohort, fun.index(r.from_phase), fun.index(r.to_phase), int(r.period_a))
        if not (r.simpsons_paradox and adjusted[key] < alpha):
            continue
        if not abs(r.mix_effect) > abs(r.total_change):
            continue
        test = r.stratified_test
        if test is not None and test.estimate and test.estimate > 0:
            same_way = np.sign(np.log(test.estimate)) == np.sign(r.total_change)
            if same_way and test.p_value < alpha:
                continue
        out.append(r)
    return out


def _mix_masks_rate(r: MixRateResult) -> bool:
    """The mix effect opposes the rate effect and is at least as large, and the within-segment
    (CMH) change goes the rate effect's way: the Mantel-Haenszel odds ratio of b against a,
    above 1 when the segments converted better in b."""
    if r.stratified_test is None or not np.isfinite(r.stratified_test.p_value):
        return False
    if not (r.rate_effect * r.mix_effect < 0 and abs(r.mix_effect) >= abs(r.rate_effect)):
        return False
    by = r.by_segment
    total = (by["n_a"] + by["n_b"]).to_numpy(float)
    xa, xb = by["successes_a"].to_numpy(float), by["successes_b"].to_numpy(float)
    fa, fb = by["n_a"].to_numpy(float) - xa, by["n_b"].to_numpy(float) - xb
    up = float(np.sum(np.divide(xb * fa, total, out=np.zeros(len(total)), where=total > 0)))
    down = float(np.sum(np.divide(xa * fb, total, out=np.zeros(len(total)), where=total > 0)))
    return (up > down) if r.rate_effect > 0 else (up < down)


def _mix_shift_p(by_segment: pd.DataFrame) -> float:
    """Pearson chi-square p-value of 'the segments' shares are the same in both periods'."""
    counts = by_segment[["n_a", "n_b"]].to_numpy(float)
    counts = counts[counts.sum(axis=1) > 0]
    if len(counts) < 2:
        return 1.0
    return float(stats.chi2_contingency(counts, correction=False)[1])
