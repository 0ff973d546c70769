"""What the parts of the diagnosis share: argument checks, the funnel's arrays and attributes, the
targets and benchmarks, and the shrunk references a rate is compared with."""

from __future__ import annotations

import functools
import html
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from toolkit.analysis.leakage import leaking_attributes
from toolkit.base.exceptions import (
    DataError,
    NoteWarning,
    OptionError,
)
from toolkit.base.findings import shown
from toolkit.base.vocabulary import MISSING
from toolkit.io.engagement import BASE_RECORD_COLUMNS
from toolkit.measure.cohorts import Cohorts

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


def check_fraction(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
        raise OptionError(f"The value for `{name}` must be a number strictly between {low:g} and "
                           f"{high:g}, but {value!r} was passed.")
    return float(value)


def check_count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise OptionError(f"The value for `{name}` must be a whole number >= {minimum}, but "
                           f"{value!r} was passed.")
    return int(value)


# every number of the English sentences below through the one formatter (toolkit.present.format)
percent, points, number1, number0 = (functools.partial(shown, kind) for kind in (
    "percent", "points_words", "number1", "number0"))


def html_of(title: str, lines: Sequence[str], tables: Sequence[pd.DataFrame]) -> str:
    parts = [f"<p><b>{html.escape(title)}</b></p>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in lines if line]
    parts += [t.to_html(index=False, na_rep="") for t in tables]
    return "\n".join(parts)


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
            labels.append(f"< {number0(hi)}")
        elif not np.isfinite(hi):
            labels.append(f">= {number0(lo)}")
        else:
            labels.append(f"{number0(lo)} - {number0(hi)}")
    codes = np.searchsorted(np.asarray(inner), value, side="right").astype(np.int64)
    if (~known).any():
        codes = np.where(known, codes, len(labels))
        labels.append(MISSING)
    return codes, labels


def scan_attributes(fun: Cohorts, attributes: Sequence[str] | None) -> list[str]:
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


def leaking(fun: Cohorts, names: list[str]) -> dict[str, str]:
    """`leaking_attributes` of `names`, each attribute judged once per Cohorts (its verdict does
    not depend on the other names)."""
    known = cast("dict[str, str | None]", fun.memo.setdefault("leaking", {}))
    todo = [name for name in names if name not in known]
    if todo:
        found = leaking_attributes(fun.records, todo)
        known.update({name: found.get(name) for name in todo})
    return {name: reason for name in names if (reason := known[name]) is not None}


def codes_for(fun: Cohorts, name: str) -> tuple[np.ndarray, list[str]] | None:
    if name == "value_band" and "value_band" not in fun.records.columns:
        return _value_band(fun, fun.engagement.config.value_bands)
    return fun.attribute(name)


def conversion_targets(fun: Cohorts, targets: Mapping[str, float] | None) -> dict[tuple, float]:
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


def benchmark_rates(fun: Cohorts, benchmarks: pd.DataFrame | None) -> dict[tuple, tuple]:
    if benchmarks is None:
        return {}
    if not isinstance(benchmarks, pd.DataFrame):
        raise OptionError(f"The value for `benchmarks` must be a DataFrame with columns "
                           f"from_phase, to_phase, low, typical, high, source, but a "
                           f"{type(benchmarks).__name__} was passed.")
    missing = [c for c in ("from_phase", "to_phase", "typical") if c not in benchmarks.columns]
    if missing:
        raise DataError(f"`benchmarks` lacks the column(s) {missing}; it has "
                        f"{list(benchmarks.columns)}",
                        fix="give at least from_phase, to_phase and typical (a rate between 0 "
                            "and 1)")
    out, unknown = {}, []
    pairs = {(fun.keys[i], fun.keys[j]): (i, j) for i, j in fun.transitions}
    for row in benchmarks.to_dict("records"):
        key = (str(row["from_phase"]), str(row["to_phase"]))
        typical = pd.to_numeric(row["typical"], errors="coerce")
        if key not in pairs:
            unknown.append(f"{key[0]} -> {key[1]}")
            continue
        if not (np.isfinite(typical) and 0 < typical <= 1):
            raise DataError(f"the benchmark `typical` for {key[0]} -> {key[1]} is no rate "
                            "between 0 and 1", column="typical", value=row["typical"],
                            fix="write the typical rate as a fraction, e.g. 0.35 for 35%")
        source = row.get("source")
        out[pairs[key]] = (float(typical), "" if pd.isna(source) else str(source))
    if unknown:
        warnings.warn(NoteWarning(
            f"{len(unknown)} benchmark row(s) are not transitions of this engagement's phase "
            f"model {fun.keys} and were ignored: {', '.join(unknown[:5])}. Fix: rename their "
            f"from_phase/to_phase to the engagement's phase keys.", "benchmarks_ignored",
            {"count": len(unknown), "rows": ", ".join(unknown[:5])}), stacklevel=3)
    return out


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
class ShrunkReference:
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
        assert self.x is not None and self.weights is not None  # given with n, or none of them
        groups = rng.beta(1 + self.x, 1 + self.n - self.x, size=(len(overall), len(self.n)))
        shrunk = overall[:, None] + self.weights * (groups - overall[:, None])
        if self.quantile is None:
            return shrunk[:, 0]
        return np.quantile(shrunk, self.quantile, axis=1)


def best_period(fun: Cohorts, i: int, j: int, *, period: str, min_n: int, quantile: float,
                 shrink: bool, overall: float) -> ShrunkReference:
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
            return ShrunkReference("best_period", rate, detail, n, x, weights, quantile)
        level = _COARSER[level]
    return ShrunkReference("best_period", float("nan"),
                      f"fewer than {_MIN_PERIODS} periods with n >= {min_n}, even by year")


def best_segment(fun: Cohorts, i: int, j: int, *, attributes: list[str], min_n: int,
                  shrink: bool, overall: float) -> ShrunkReference:
    best: tuple | None = None
    for name in attributes:
        coded = codes_for(fun, name)
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
        return ShrunkReference("best_segment", float("nan"),
                          f"no attribute with two or more segments of n >= {min_n}")
    rate, name, label, n_g, x_g, w_g = best
    how = f", shrunk to the overall rate from {percent(x_g / n_g)}" if shrink else ""
    return ShrunkReference("best_segment", rate, f"{name} = {label} (n={int(n_g)}{how})",
                      np.array([n_g]), np.array([x_g]), np.array([w_g]), None)


def lead_index(fun: Cohorts) -> int:
    """Where the leads are counted: the lead phase's position (DESIGN.md "The lead phase"). The
    transitions before it are the early phases (the work that produces qualified leads)."""
    return fun.keys.index(fun.engagement.config.lead_phase_key())


