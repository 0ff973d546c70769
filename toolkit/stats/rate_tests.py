"""Are rates different between two or more segments: the two-rate, k-rate and pairwise
tests, their result object, and multiple-testing control."""

from __future__ import annotations

import html
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from toolkit.base.exceptions import SmallSampleWarning
from toolkit.base.vocabulary import check_option
from toolkit.stats.checks import CountError, check_counts, scalar_counts, where_text
from toolkit.stats.intervals import DIFF_CI_METHODS, diff_ci

__all__ = [
    "two_rate_test",
    "k_rate_test",
    "pairwise_rate_tests",
    "adjust_p",
    "RateTestResult",
    "TWO_RATE_TEST_METHODS",
    "ADJUST_METHODS",
    "MIN_EXPECTED",
]


TWO_RATE_TEST_METHODS = ("score", "fisher", "boschloo")
#: Names understood by :func:`adjust_p` (those of ``statsmodels.stats.multitest.multipletests``).
ADJUST_METHODS = ("holm", "fdr_bh", "bonferroni", "hommel", "fdr_by", "holm-sidak", "sidak")

#: Smallest expected cell count for which the pooled z / chi-square approximation is trusted
#: (Cochran's classic rule of thumb).
MIN_EXPECTED = 5.0


# ------------------------------------------------------------------------------ test results
@dataclass(frozen=True, eq=False, repr=False)
class RateTestResult:
    """Result of a test on rates: ``statistic``, ``p_value`` and what was done.

    Attributes
    ----------
    test
        Which test, in words (e.g. ``"two-rate test"``).
    method
        The method actually used (``"score"``, ``"fisher"``, ...). It differs from
        ``requested_method`` when small counts forced an exact test.
    statistic, statistic_name
        The test statistic and what it is (``"z"``, ``"odds_ratio"``, ``"chi2"``, ...).
    p_value
        Two-sided p-value.
    dof
        Degrees of freedom for chi-square statistics, else ``None``.
    estimate, estimate_name, ci_low, ci_high
        An effect size with its interval where the test has one (the difference of rates, the
        common odds ratio, the trend slope).
    groups
        Per-group ``n``, ``successes`` and ``rate`` (a tidy frame), where relevant.
    extra
        Further named numbers shown in :attr:`summary` (e.g. the Breslow-Day p-value).
    notes
        Plain-language remarks (fallbacks, dropped strata).
    """

    test: str
    method: str
    statistic: float
    p_value: float
    statistic_name: str
    dof: int | None = None
    requested_method: str | None = None
    estimate: float | None = None
    estimate_name: str | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    groups: pd.DataFrame | None = None
    extra: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """One-row tidy frame: test, method, statistic, dof, p_value and the effect size."""
        row: dict[str, Any] = {
            "test": self.test,
            "method": self.method,
            "statistic_name": self.statistic_name,
            "statistic": self.statistic,
        }
        if self.requested_method is not None and self.requested_method != self.method:
            row["requested_method"] = self.requested_method
        if self.dof is not None:
            row["dof"] = self.dof
        row["p_value"] = self.p_value
        if self.estimate_name is not None:
            row["estimate_name"] = self.estimate_name
            row["estimate"] = self.estimate
            row["ci_low"] = self.ci_low
            row["ci_high"] = self.ci_high
        row.update(self.extra)
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        parts = [f"<p><b>{html.escape(self.test)}</b> ({html.escape(self.method)})</p>",
                 self.summary.to_html(index=False)]
        if self.groups is not None:
            parts.append(self.groups.to_html(index=False))
        parts += [f"<p>{html.escape(note)}</p>" for note in self.notes]
        return "\n".join(parts)

    def __repr__(self) -> str:
        dof = f", dof={self.dof}" if self.dof is not None else ""
        return (f"<RateTestResult {self.test} ({self.method}): {self.statistic_name}="
                f"{self.statistic:.4g}{dof}, p_value={self.p_value:.4g}>")


def expected_counts(table: NDArray[np.float64]) -> NDArray[np.float64]:
    total = table.sum()
    if total == 0:
        return np.zeros_like(table, dtype=float)
    return np.outer(table.sum(axis=1), table.sum(axis=0)) / total


def groups_frame(successes: ArrayLike, trials: ArrayLike,
                  labels: Sequence[Any] | None = None) -> pd.DataFrame:
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = x / n
    names = list(labels) if labels is not None else list(range(1, len(x) + 1))
    return pd.DataFrame({"group": names, "n": n, "successes": x, "rate": rate})


# -------------------------------------------------------------------------------- two rates
def two_rate_test(x1: int, n1: int, x2: int, n2: int, *,
                  method: str = "score") -> RateTestResult:
    """Test whether two independent rates differ (two-sided).

    Parameters
    ----------
    x1, n1, x2, n2
        Successes and trials of group 1 and group 2 (whole numbers, trials >= 1).
    method
        ``"score"`` (default), ``"fisher"`` or ``"boschloo"``.

    Returns
    -------
    RateTestResult
        ``statistic`` (z for score, the sample odds ratio for fisher, the one-sided Fisher
        p-value for boschloo), ``p_value``, ``method`` (the one used), the difference ``x1/n1 - x2/n2`` with
        its Newcombe 95% interval as ``estimate``/``ci_low``/``ci_high`` and ``groups``.

    Warns
    -----
    SmallSampleWarning
        With ``method="score"`` when an expected cell count of the 2x2 table is below 5; Fisher's
        exact test is then used instead and ``result.method`` says ``"fisher"``.

    Notes
    -----
    - **score** (pooled z test):
      :math:`z = (\\hat p_1 - \\hat p_2) / \\sqrt{\\bar p(1-\\bar p)(1/n_1 + 1/n_2)}` with
      :math:`\\bar p = (x_1+x_2)/(n_1+n_2)`, p-value :math:`2\\,\\Phi(-|z|)`. :math:`z^2` is the
      Pearson chi-square without continuity correction (R ``prop.test(..., correct = FALSE)``).
      Not for small expected counts (< 5), hence the automatic switch.
    - **fisher**: ``scipy.stats.fisher_exact`` on ``[[x1, n1-x1], [x2, n2-x2]]``, two-sided.
      The statistic is the *sample* odds ratio :math:`x_1(n_2-x_2)/((n_1-x_1)x_2)` (may be 0
      or inf), not R's conditional maximum likelihood estimate. Conservative (conditions on
      both margins); fine for small counts.
    - **boschloo**: ``scipy.stats.boschloo_exact``, an unconditional exact test, uniformly more
      powerful than Fisher's. Two-sided by scipy's convention: twice the smaller one-sided
      p-value (capped at 1); the statistic is the one-sided Fisher p-value of that side. Slow
      for large groups (thousands of trials); use the score test there.

    When neither group has a success (or neither a failure) there is nothing to compare: the
    p-value is 1.0 and the statistic is NaN (the odds ratio is undefined), whatever the method.
    Groups must be independent (different records).
    """
    check_option("method", method, TWO_RATE_TEST_METHODS)
    a1, m1 = scalar_counts(x1, n1, ("x1", "n1"))
    a2, m2 = scalar_counts(x2, n2, ("x2", "n2"))
    table = np.array([[a1, m1 - a1], [a2, m2 - a2]], dtype=float)
    expected = expected_counts(table)
    used, notes = method, []
    if method == "score" and expected.min() < MIN_EXPECTED:
        used = "fisher"
        note = (f"The smallest expected count is {expected.min():.3g} (< {MIN_EXPECTED:g}), too "
                "small for the pooled z test; Fisher's exact test was used instead. Pass "
                "method='fisher' (or 'boschloo') to choose an exact test explicitly.")
        notes.append(note)
        warnings.warn(note, SmallSampleWarning, stacklevel=2)
    nothing_to_compare = table[:, 0].sum() == 0 or table[:, 1].sum() == 0
    if nothing_to_compare:
        statistic, p_value = math.nan, 1.0
        notes.append("Neither group has a success (or neither a failure): p_value is 1.0 and "
                     "the statistic is undefined (NaN).")
    elif used == "score":
        pooled = (a1 + a2) / (m1 + m2)
        se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / m1 + 1.0 / m2))
        statistic = (a1 / m1 - a2 / m2) / se
        p_value = float(2.0 * stats.norm.sf(abs(statistic)))
    elif used == "fisher":
        res = stats.fisher_exact(table.astype(int), alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    else:
        # scipy wants one binomial sample per *column*: [[x1, x2], [n1 - x1, n2 - x2]].
        res = stats.boschloo_exact(table.T.astype(int), alternative="two-sided")
        statistic, p_value = float(res.statistic), float(min(res.pvalue, 1.0))
    statistic_name = {"score": "z", "fisher": "odds_ratio", "boschloo": "fisher_p_value"}[used]
    low, high = diff_ci(a1, m1, a2, m2, method="newcombe", confidence=0.95)
    return RateTestResult(
        test="two-rate test", method=used, statistic=float(statistic), p_value=p_value,
        statistic_name=statistic_name, requested_method=method,
        estimate=a1 / m1 - a2 / m2, estimate_name="diff", ci_low=float(low), ci_high=float(high),
        groups=groups_frame([a1, a2], [m1, m2]), notes=tuple(notes),
    )


def count_vectors(successes: ArrayLike, trials: ArrayLike, *, minimum_groups: int = 2
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, n, _ = check_counts(successes, trials, ("successes", "trials"))
    x, n = np.atleast_1d(x), np.atleast_1d(n)
    if x.ndim != 1 or len(x) < minimum_groups:
        raise CountError(f"`successes` and `trials` must be 1-D with at least {minimum_groups} "
                          f"groups, but shape {x.shape} was passed.")
    bad = np.isnan(x) | np.isnan(n)
    if bad.any():
        raise CountError(f"`successes` and `trials` must not be missing, but NaN was passed"
                          f"{where_text(x, bad)}. Fix: fill or drop the group.")
    bad = n < 1
    if bad.any():
        raise CountError(f"Every group needs at least one trial, but `trials` is "
                          f"{n[bad][0]:g}{where_text(n, bad)}. Fix: drop empty groups first.")
    return x, n


def k_rate_test(successes: ArrayLike, trials: ArrayLike) -> RateTestResult:
    """Test whether k >= 2 independent rates are all equal (Pearson chi-square).

    Parameters
    ----------
    successes, trials
        One count per group (1-D, same length, every group at least one trial).

    Returns
    -------
    RateTestResult
        ``statistic`` (Pearson chi-square), ``dof`` (k - 1), ``p_value`` and ``groups``.

    Warns
    -----
    SmallSampleWarning
        When an expected count is below 5: the chi-square p-value is then unreliable. No exact
        fallback is made for k > 2; pool small groups, or compare pairs with an exact test
        (:func:`pairwise_rate_tests` with ``method="fisher"``).

    Notes
    -----
    On the 2 x k table of successes and failures with expected counts
    :math:`E_{ij} = r_i c_j / N`, :math:`X^2 = \\sum (O_{ij} - E_{ij})^2 / E_{ij}` with k - 1
    degrees of freedom, no continuity correction (``scipy.stats.chi2_contingency(...,
    correction=False)``; R ``prop.test(successes, trials)`` for k > 2). For k = 2 it equals the
    square of the pooled z of :func:`two_rate_test`. It says *that* rates differ, not *which*:
    follow up with :func:`pairwise_rate_tests`. For ordered groups (periods) :func:`trend_test`
    is more powerful. When no group has a success (or none a failure) the statistic is NaN and
    the p-value 1.0.
    """
    x, n = count_vectors(successes, trials)
    table = np.vstack([x, n - x])
    expected = expected_counts(table)
    notes: list[str] = []
    if expected.min() < MIN_EXPECTED:
        note = (f"The smallest expected count is {expected.min():.3g} (< {MIN_EXPECTED:g}); the "
                "chi-square p-value is unreliable. Pool small groups, or compare pairs with an "
                "exact test (pairwise_rate_tests(..., method='fisher')).")
        notes.append(note)
        warnings.warn(note, SmallSampleWarning, stacklevel=2)
    dof = len(x) - 1
    if table.sum(axis=1).min() == 0:
        statistic, p_value = math.nan, 1.0
        notes.append("No group has a success (or none a failure): nothing to compare.")
    else:
        res = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return RateTestResult(test="k-rate test", method="pearson-chi2", statistic=statistic,
                          p_value=p_value, statistic_name="chi2", dof=dof,
                          groups=groups_frame(x, n), notes=tuple(notes))


# ------------------------------------------------------------------- multiple testing, pairs
def adjust_p(p_values: ArrayLike, *, method: str = "holm") -> NDArray[np.float64] | pd.Series:
    """Adjust p-values for multiple testing.

    Parameters
    ----------
    p_values
        1-D p-values in [0, 1]; NaN entries are left out of the adjustment and stay NaN.
    method
        One of :data:`ADJUST_METHODS`: ``"holm"`` (default; controls the family-wise error rate),
        ``"fdr_bh"`` (Benjamini-Hochberg false discovery rate), ``"bonferroni"``, ...

    Returns
    -------
    numpy array, or a Series with the same index when a Series was passed.

    Notes
    -----
    A thin wrapper of ``statsmodels.stats.multitest.multipletests``. Holm: sort the m p-values,
    :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m - j + 1) p_{(j)})`. Benjamini-Hochberg:
    :math:`\\tilde p_{(i)} = \\min_{j \\ge i} \\min(1, m\\, p_{(j)} / j)`. Use Holm when any false
    alarm is costly (a claim to the board), BH when scanning many segments for candidates to
    look into. Adjust over the whole family of tests you looked at, not only the ones you
    report.
    """
    from statsmodels.stats.multitest import multipletests

    check_option("method", method, ADJUST_METHODS)
    p = np.atleast_1d(np.asarray(p_values, dtype=float))
    if p.ndim != 1:
        raise CountError(f"`p_values` must be 1-D, but shape {p.shape} was passed.")
    present = ~np.isnan(p)
    bad = present & ((p < 0) | (p > 1))
    if bad.any():
        raise CountError(f"Every p-value must be between 0 and 1, but {p[bad][0]:g} was passed"
                          f"{where_text(p, bad)}.")
    adjusted = np.full_like(p, np.nan)
    if present.any():
        adjusted[present] = multipletests(p[present], method=method)[1]
    if isinstance(p_values, pd.Series):
        return pd.Series(adjusted, index=p_values.index, name=p_values.name)
    return adjusted


def _adjust_column(method: str) -> str:
    return "p_" + method.replace("-", "_")


def pairwise_rate_tests(data: pd.DataFrame, *, successes: str = "successes", trials: str = "n",
                        group: str = "segment", method: str = "score",
                        adjust: str | Sequence[str] = ("holm", "fdr_bh"),
                        ci_method: str = "newcombe", confidence: float = 0.95) -> pd.DataFrame:
    """Compare every pair of groups' rates: difference, interval, test and adjusted p-values.

    Parameters
    ----------
    data
        Tidy frame with one row per group: the ``group`` label and its ``successes`` and
        ``trials`` counts. Not modified.
    successes, trials, group
        Column names in ``data``.
    method
        Test per pair, as in :func:`two_rate_test` (``"score"`` falls back to Fisher for small
        expected counts; one summarising SmallSampleWarning is given).
    adjust
        One or more of :data:`ADJUST_METHODS`; each adds a column ``p_<method>`` (``-`` becomes
        ``_``), adjusted over all pairs.
    ci_method, confidence
        Interval for the difference, as in :func:`diff_ci`.

    Returns
    -------
    DataFrame
        One row per pair (in the groups' order: categorical order, else first appearance):
        ``group_1, group_2, n_1, successes_1, n_2, successes_2, diff, ci_low, ci_high,
        statistic, p_value, p_holm, p_fdr_bh, method`` where ``diff = rate_1 - rate_2`` and
        ``method`` is the test actually used for that pair (so ``statistic`` is a z for
        ``"score"`` rows and an odds ratio for ``"fisher"`` rows).

    Notes
    -----
    k groups give k(k-1)/2 pairs; with 10 segments that is 45 tests, and about 2 will be
    "significant" at 5% by chance alone, which is why the adjusted columns exist. Look at the
    adjusted p-value and at the interval (is the difference big enough to matter?), not at the
    raw p-value. Do not use it for many tiny segments: pool them first.
    """
    if not isinstance(data, pd.DataFrame):
        raise CountError(f"`data` must be a pandas DataFrame, not {type(data).__name__}.")
    check_option("method", method, TWO_RATE_TEST_METHODS)
    check_option("ci_method", ci_method, DIFF_CI_METHODS)
    methods = [adjust] if isinstance(adjust, str) else list(adjust)
    for name in methods:
        check_option("adjust", name, ADJUST_METHODS)
    missing = [c for c in (group, successes, trials) if c not in data.columns]
    if missing:
        raise CountError(f"`data` has no column(s) {missing}; it has {list(data.columns)}. Fix: "
                          "pass the column names with group=, successes=, trials=.")
    frame = data[[group, successes, trials]]
    if frame[group].isna().any():
        raise CountError(f"Column {group!r} has missing group labels. Fix: label or drop them.")
    duplicated = frame[group][frame[group].duplicated()]
    if len(duplicated):
        raise CountError(f"Group {duplicated.iloc[0]!r} appears in more than one row of column "
                          f"{group!r}. Fix: aggregate to one row per group first "
                          "(e.g. data.groupby(group)[[successes, trials]].sum()).")
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        order = [c for c in frame[group].cat.categories if c in set(frame[group])]
        frame = frame.set_index(group).loc[order].reset_index()
    if len(frame) < 2:
        raise CountError(f"Pairwise tests need at least two groups, but {len(frame)} was passed.")
    labels = frame[group].tolist()
    x = frame[successes].to_numpy(dtype=float)
    n = frame[trials].to_numpy(dtype=float)
    check_counts(x, n, (successes, trials))
    empty = n < 1
    if empty.any():
        raise CountError(f"Group {labels[int(np.argmax(empty))]!r} has no trials (column "
                          f"{trials!r} is 0). Fix: drop empty groups before comparing.")

    rows, fallbacks = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallSampleWarning)
            result = two_rate_test(x[i], n[i], x[j], n[j], method=method)
        if result.method != method:
            fallbacks.append(f"{labels[i]} vs {labels[j]}")
        rows.append({"group_1": labels[i], "group_2": labels[j], "n_1": n[i],
                     "successes_1": x[i], "n_2": n[j], "successes_2": x[j],
                     "statistic": result.statistic, "p_value": result.p_value,
                     "method": result.method})
    table = pd.DataFrame(rows)
    low, high = diff_ci(table["successes_1"].to_numpy(), table["n_1"].to_numpy(),
                        table["successes_2"].to_numpy(), table["n_2"].to_numpy(),
                        method=ci_method, confidence=confidence)
    table["diff"] = table["successes_1"] / table["n_1"] - table["successes_2"] / table["n_2"]
    table["ci_low"], table["ci_high"] = low, high
    for name in methods:
        table[_adjust_column(name)] = adjust_p(table["p_value"].to_numpy(), method=name)
    columns = ["group_1", "group_2", "n_1", "successes_1", "n_2", "successes_2", "diff",
               "ci_low", "ci_high", "statistic", "p_value",
               *[_adjust_column(name) for name in methods], "method"]
    if fallbacks:
        shown = ", ".join(fallbacks[:5]) + (" ..." if len(fallbacks) > 5 else "")
        warnings.warn(f"{len(fallbacks)} of {len(table)} pairs had an expected count below "
                      f"{MIN_EXPECTED:g} and were tested with Fisher's exact test instead of the "
                      f"pooled z test ({shown}); see the `method` column.",
                      SmallSampleWarning, stacklevel=2)
    return table[columns]
