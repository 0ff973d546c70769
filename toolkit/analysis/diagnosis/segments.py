"""The segment scan: every segment against the typical segment of its attribute, per transition,
in a penalised logistic model; what it cannot judge says why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.diagnosis.common import (
    check_count,
    check_fraction,
    codes_for,
    leaking,
    percent,
    scan_attributes,
)
from toolkit.analysis.leakage import value_leaks
from toolkit.analysis.segment_model import (
    PenalisedFit,
    dependent_blocks,
    functions_of,
    penalised_logistic,
)
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import (
    OptionError,
)
from toolkit.base.vocabulary import MIN_N, MISSING, Reason, check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import Cohorts
from toolkit.stats import ADJUST_METHODS, adjust_p, diff_ci, rate_ci


def transition_list(fun: Cohorts, transitions: Sequence[tuple[str, str]] | None) -> list[tuple[int, int]]:
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
            raise OptionError(f"`to_phase` must come after `from_phase` in the phase model "
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
    known = cast("dict[tuple[str, ...], dict[str, set[str]]]", fun.memo.setdefault("nesting", {}))
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
        found = codes_for(fun, name)
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
    year_in = year if year is not None and len(year[1]) > 1 else None
    with_year = year_in is not None
    keys = [codes[mature] for _, codes, _ in factors]
    sizes = [len(labels) for _, _, labels in factors]
    if year_in is not None:
        keys.append(year_in[0][mature])
        sizes.append(len(year_in[1]))
    cell = np.ravel_multi_index(keys, sizes) if keys else np.zeros(int(mature.sum()), np.int64)
    uniq, inverse = np.unique(cell, return_inverse=True)
    n_cell = np.bincount(inverse).astype(float)
    x_cell = np.bincount(inverse, weights=converted[mature].astype(float))
    cell_codes = [np.asarray(codes) for codes in np.unravel_index(uniq, sizes)]
    labels_of = [labels for _, _, labels in factors] + ([year_in[1]] if year_in is not None else [])
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
                     labels: list[str], order: list[int], fit: PenalisedFit, cols: slice, min_n: int, *,
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
        se = float(np.sqrt(max(float(contrast @ cov @ contrast), 0.0))) if present else np.nan
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


def scan_segments(fun: Cohorts, *, attributes: Sequence[str] | None,
                  transitions: Sequence[tuple[str, str]] | None, min_n: int, alpha: float, adjust: str
          ) -> pd.DataFrame:
    min_n = check_count("min_n", min_n, minimum=1)
    alpha = check_fraction("alpha", alpha)
    check_option("adjust", adjust, ADJUST_METHODS)
    names = scan_attributes(fun, attributes)
    refused: dict[str, str] = {}
    if attributes is None:
        # Leakage guards (toolkit.analysis.leakage): never scan what the outcome itself fills in; bands
        # of the deal value only when the engagement declares them and the value is not a
        # close value.
        refused = leaking(fun, names)
        names = [n for n in names if n not in refused]
        why = value_leaks(fun.records)
        if why and fun.engagement.config.value_bands:
            refused["value_band"] = why
        elif fun.engagement.config.value_bands and "value_band" not in names:
            names.append("value_band")
    pairs = transition_list(fun, transitions)
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
            coded = codes_for(fun, name)
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


def _judgement(row: Any, min_n: int) -> str:
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


def held_fixed(row: Any) -> str:  # a row of the scan (`itertuples`)
    """What a segment's model held fixed, in words: the other attributes and the cohort year."""
    parts = [a for a in str(row.held_fixed).split(";") if a] + (
        ["the cohort year"] if row.year_held else [])
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def _finding(row: Any, min_n: int, alpha: float) -> str:
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
        return f"{who} is the typical {row.attribute} at {step} ({percent(row.rate)})."
    if row.judgement == "no_comparison":
        return (f"{who}: no other {row.attribute} with at least {min_n} records at {step} to "
                f"compare it with.")
    base = (f"{who} converts {percent(row.rate)} at {step} (n={row.n}) against "
            f"{percent(row.typical_rate)} for the typical {row.attribute}")
    held = held_fixed(row)
    if row.flagged:
        word = "better" if row.direction == "better" else "worse"
        also = f"also holding {held} fixed" if held else "judged on its own"
        return (f"{base}: {word}, {also} "
                f"(odds ratio {row.odds_ratio:.2f}, 95% CI {row.or_ci_low:.2f} to "
                f"{row.or_ci_high:.2f}; adjusted p = {row.p_adjusted:.2g}).")
    once = f"once {held} are held fixed and " if held else "once "
    return (f"{base}: no clear difference {once}the scan is adjusted for multiple testing "
            f"(adjusted p = {row.p_adjusted:.2g}, not below {alpha:g}).")


@shared_docs
def segment_scan(engagement: Engagement, *, attributes: Sequence[str] | None = None,
                 transitions: Sequence[tuple[str, str]] | None = None,
                 window_days: int | None = None, min_n: int = MIN_N, alpha: float = 0.05,
                 adjust: str = "fdr_bh") -> pd.DataFrame:
    """Every segment of every attribute against the typical segment of that attribute, per
    transition, jointly with the other attributes and the cohort year.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
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
    return scan_segments(fun, attributes=attributes, transitions=transitions, min_n=min_n, alpha=alpha,
                 adjust=adjust)


