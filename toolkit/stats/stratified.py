"""Tests with structure: a difference between two groups within strata (Cochran-Mantel-
Haenszel) and a drift of a rate over ordered periods (Cochran-Armitage trend)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from toolkit.base.exceptions import OptionError
from toolkit.stats.checks import CountError, as_float_array, check_counts, where_text, z_value
from toolkit.stats.rate_tests import RateTestResult, count_vectors, groups_frame

__all__ = [
    "cmh_test",
    "trend_test",
]


# ------------------------------------------------------------------- strata: Mantel-Haenszel
def _tables_from_frame(data: pd.DataFrame, stratum: str, group: str, successes: str,
                       trials: str) -> tuple[NDArray[np.float64], list[Any], list[Any], list[str]]:
    missing = [c for c in (stratum, group, successes, trials) if c not in data.columns]
    if missing:
        raise CountError(f"`data` has no column(s) {missing}; it has {list(data.columns)}. Fix: "
                          "pass the column names with stratum=, group=, successes=, trials=.")
    frame = data[[stratum, group, successes, trials]]
    summed = frame.groupby([stratum, group], sort=False, observed=True)[[successes, trials]].sum()
    levels = list(pd.unique(frame[group]))
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        levels = [c for c in frame[group].cat.categories if c in set(levels)]
    if len(levels) != 2:
        raise CountError(f"Column {group!r} must hold exactly two groups to compare, but it has "
                          f"{len(levels)}: {levels[:10]}. Fix: filter to two groups.")
    strata = list(pd.unique(frame[stratum]))
    tables, kept, notes = [], [], []
    for s in strata:
        if not all((s, g) in summed.index for g in levels):
            notes.append(f"Stratum {s!r} has only one group and carries no information; it was "
                         "left out.")
            continue
        rows = []
        for g in levels:
            x_, n_ = summed.loc[(s, g)]
            rows.append([float(x_), float(n_) - float(x_)])
        tables.append(rows)
        kept.append(s)
    return np.asarray(tables, dtype=float), kept, levels, notes


def cmh_test(data: pd.DataFrame | ArrayLike, *, stratum: str | None = None,
             group: str | None = None, successes: str = "successes", trials: str = "n",
             correction: bool = True, confidence: float = 0.95) -> RateTestResult:
    """Cochran-Mantel-Haenszel test that two groups have the same odds within every stratum.

    Answers "is channel A better than channel B once we compare within each region?", which a
    test on the pooled counts cannot when the mix over regions differs (Simpson's paradox).

    Parameters
    ----------
    data
        Either a tidy frame with the columns named by ``stratum``, ``group``, ``successes``,
        ``trials`` (``group`` must hold exactly two levels; rows are summed per stratum and
        group), or a sequence of 2x2 tables, shape (K, 2, 2): per stratum, rows are the two groups
        and columns are (successes, failures). For an R-style 2 x 2 x K array use
        ``np.moveaxis(array, -1, 0)``.
    stratum, group, successes, trials
        Column names when ``data`` is a frame.
    correction
        Apply the continuity correction (default ``True``, as R ``mantelhaen.test``).
    confidence
        Level of the interval for the common odds ratio.

    Returns
    -------
    RateTestResult
        ``statistic`` (MH chi-square), ``dof`` (1), ``p_value``, the Mantel-Haenszel common odds
        ratio (group 1 vs group 2) as ``estimate`` with ``ci_low``/``ci_high``, and in
        ``extra`` the Breslow-Day test of equal odds ratios over strata
        (``breslow_day_statistic``, ``breslow_day_p_value``).

    Notes
    -----
    With per-stratum table :math:`[[a_k, b_k], [c_k, d_k]]`, total :math:`n_k`,
    :math:`E_k = (a_k + b_k)(a_k + c_k)/n_k` and
    :math:`V_k = (a_k+b_k)(c_k+d_k)(a_k+c_k)(b_k+d_k) / (n_k^2 (n_k-1))`:
    :math:`X^2_{MH} = (|\\sum_k (a_k - E_k)| - 1/2)^2 / \\sum_k V_k` (without the 1/2 when
    ``correction=False``), 1 degree of freedom. Common odds ratio
    :math:`\\hat\\psi_{MH} = \\sum a_k d_k / n_k \\big/ \\sum b_k c_k / n_k` with the
    Robins-Breslow-Greenland interval (``statsmodels.stats.contingency_tables.StratifiedTable``).
    Do not rely on it when the odds ratios clearly differ between strata (small Breslow-Day
    p-value): report per stratum instead. Strata in which one group is absent carry no
    information and are left out (noted).
    """
    from statsmodels.stats.contingency_tables import StratifiedTable

    z_value(confidence)
    if not isinstance(correction, (bool, np.bool_)):
        raise OptionError(f"The value for `correction` must be True or False, but "
                           f"{correction!r} was passed.")
    notes: list[str] = []
    labels: list[Any] = ["group_1", "group_2"]
    if isinstance(data, pd.DataFrame):
        if stratum is None or group is None:
            raise OptionError("With a DataFrame, `stratum` and `group` must name its columns, "
                               f"but stratum={stratum!r} and group={group!r} were passed.")
        tables, _, labels, notes = _tables_from_frame(data, stratum, group, successes, trials)
        check_counts(tables[:, :, 0], tables.sum(axis=2), (successes, trials))
    else:
        tables = as_float_array(data, "tables")
        if tables.ndim == 2 and tables.shape == (2, 2):
            tables = tables[np.newaxis]
        if tables.ndim != 3 or tables.shape[1:] != (2, 2):
            raise CountError(f"`tables` must be a sequence of 2x2 tables, shape (K, 2, 2), but "
                              f"shape {tables.shape} was passed. Fix: for an R-style 2 x 2 x K "
                              "array pass np.moveaxis(array, -1, 0).")
        bad = ~np.isfinite(tables) | (tables < 0)
        if bad.any():
            raise CountError(f"Every cell of `tables` must be a finite count >= 0, but "
                              f"{tables[bad][0]:g} was passed{where_text(tables, bad)}.")
    informative = (tables.sum(axis=(1, 2)) > 1) & (tables.sum(axis=2) > 0).all(axis=1)
    if not informative.all():
        notes.append(f"{int((~informative).sum())} stratum table(s) with an empty group were "
                         "left out: they carry no information.")
        tables = tables[informative]
    if len(tables) == 0:
        raise CountError("No stratum has both groups present, so there is nothing to compare. "
                          "Fix: check the `stratum` and `group` columns.")
    stratified = StratifiedTable(np.moveaxis(tables, 0, -1))
    null = stratified.test_null_odds(correction=bool(correction))
    low, high = stratified.oddsratio_pooled_confint(alpha=1.0 - float(confidence))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        equal = stratified.test_equal_odds()
    x = tables[:, :, 0].sum(axis=0)
    n = tables.sum(axis=(0, 2))
    return RateTestResult(
        test="Cochran-Mantel-Haenszel test",
        method="mantel-haenszel" + (" (continuity-corrected)" if correction else ""),
        statistic=float(null.statistic), p_value=float(null.pvalue), statistic_name="chi2",
        dof=1, estimate=float(stratified.oddsratio_pooled), estimate_name="common_odds_ratio",
        ci_low=float(low), ci_high=float(high), groups=groups_frame(x, n, labels),
        extra={"strata": int(len(tables)), "breslow_day_statistic": float(equal.statistic),
               "breslow_day_p_value": float(equal.pvalue)},
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- trend in time
def trend_test(successes: ArrayLike, trials: ArrayLike, *,
               scores: ArrayLike | None = None) -> RateTestResult:
    """Cochran-Armitage test for a linear trend in rates over ordered groups (e.g. periods).

    Parameters
    ----------
    successes, trials
        One count per ordered group (1-D, same length, at least two groups).
    scores
        Numeric score per group (default 1, 2, ..., k, as R). Use real spacing when periods
        are uneven (e.g. month numbers with a gap).

    Returns
    -------
    RateTestResult
        ``statistic`` (chi-square, 1 dof), ``p_value``, ``estimate`` = the slope of the rate per
        unit of score (weighted least squares) and ``extra["z"]``, the signed statistic
        (positive: rising rates).

    Notes
    -----
    With :math:`\\bar p = \\sum x_i / \\sum n_i` and :math:`\\bar s = \\sum n_i s_i / \\sum n_i`:
    :math:`T = \\sum x_i (s_i - \\bar s)`,
    :math:`X^2 = T^2 / [\\bar p(1-\\bar p) \\sum n_i (s_i - \\bar s)^2]`, identical to R
    ``prop.trend.test`` (no N/(N-1) factor). It detects a steady drift only: a rate that dips
    and recovers may show no trend; compare with :func:`k_rate_test` (the difference of the two
    statistics tests departure from linearity). Periods must hold different records
    (independent groups); a seasonal pattern is not a trend.
    """
    x, n = count_vectors(successes, trials)
    if scores is None:
        s = np.arange(1.0, len(x) + 1.0)
    else:
        s = np.atleast_1d(np.asarray(scores, dtype=float))
        if s.shape != x.shape or not np.isfinite(s).all():
            raise CountError(f"`scores` must be {len(x)} finite numbers (one per group), but "
                              f"{scores!r} was passed.")
    if np.ptp(s) == 0:
        raise CountError(f"`scores` must not all be equal, but {s.tolist()} was passed.")
    pooled = x.sum() / n.sum()
    s_bar = (n * s).sum() / n.sum()
    spread = (n * (s - s_bar) ** 2).sum()
    t = (x * (s - s_bar)).sum()
    notes: list[str] = []
    if pooled in (0.0, 1.0):
        statistic, z, p_value = math.nan, math.nan, 1.0
        notes.append("Every rate is 0 (or every rate is 1): there is no trend to test.")
    else:
        variance = pooled * (1.0 - pooled) * spread
        z = t / math.sqrt(variance)
        statistic = z * z
        p_value = float(stats.chi2.sf(statistic, 1))
    return RateTestResult(test="trend test", method="cochran-armitage", statistic=statistic,
                          p_value=p_value, statistic_name="chi2", dof=1, estimate=t / spread,
                          estimate_name="slope", groups=groups_frame(x, n).assign(score=s),
                          extra={"z": z}, notes=tuple(notes))
