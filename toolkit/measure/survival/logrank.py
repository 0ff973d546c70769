"""Whether time to convert differs between segments: the log-rank test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2
from statsmodels.duration.survfunc import survdiff

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.measure.survival.checks import as_durations, as_observed


class LogrankResult:
    """Log-rank test of equal time-to-event curves across groups. Build it with `logrank_test`.

    Attributes: `statistic` (chi-square), `dof`, `p_value`, `groups_` (tidy: segment, n,
    observed, expected events), `summary` (one row).
    """

    def __init__(self, statistic: float, dof: int, p_value: float, groups: pd.DataFrame) -> None:
        self.statistic = statistic
        self.dof = dof
        self.p_value = p_value
        self.groups_ = groups

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"test": "log-rank", "statistic": self.statistic, "dof": self.dof,
                              "p_value": self.p_value}])

    def __repr__(self) -> str:
        return (f"LogrankResult(statistic={self.statistic:.4f}, dof={self.dof}, "
                f"p_value={self.p_value:.4g})")

    def _repr_html_(self) -> str:
        return ("<p><b>Log-rank test</b></p>" + self.summary.to_html(index=False)
                + self.groups_.to_html(index=False))


@shared_docs
def logrank_test(durations: Any, observed: Any, groups: Any) -> LogrankResult:
    """Log-rank (Mantel-Cox) test that the time-to-event curves of all groups are equal.

    Parameters
    ----------
    {shared.durations}
    {shared.observed}
    groups : per record its segment label; at least two distinct labels, no missing values.

    Returns
    -------
    LogrankResult with `statistic`, `dof` (= groups - 1), `p_value`, `groups_` and `summary`.

    Notes
    -----
    At each event time t_j, group g expects E_gj = d_j n_gj / n_j of the d_j events;
    U = sum_j (O_gj - E_gj) over groups 2..G, statistic = U' V^-1 U ~ chi2(G - 1), V the
    hypergeometric covariance (statsmodels' `survdiff`, the same test as R's
    `survival::survdiff` with rho = 0). It weighs all times equally and has little power when
    the curves cross (one segment converts faster early, the other catches up); look at the
    curves before reading the p-value. With lost records censored it compares conversion
    hazards, not final conversion rates.
    """
    time = as_durations(durations)
    status = as_observed(observed, time.size)
    labels = pd.Series(np.asarray(groups, dtype=object))
    if labels.size != time.size:
        raise OptionError(
            f"The value for `groups` must have one entry per duration ({time.size}), but "
            f"{labels.size} entries were passed."
        )
    if labels.isna().any():
        raise DataError(
            f"`groups` has {int(labels.isna().sum())} missing label(s)",
            fix="fill them (e.g. 'unknown') or drop those records first",
        )
    codes, uniques = pd.factorize(labels, sort=True)
    if uniques.size < 2:
        raise DataError(
            f"the log-rank test needs at least two groups, but only {list(uniques)} is present",
            fix="pass a segment column with two or more values",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic, _ = survdiff(time, status.astype(np.float64), codes)
    dof = int(uniques.size - 1)
    statistic = float(statistic)

    utime, inverse = np.unique(time, return_inverse=True)
    m = utime.size
    d = np.bincount(inverse, weights=status, minlength=m)
    n_all = np.cumsum(np.bincount(inverse, minlength=m)[::-1])[::-1]
    rows = []
    for g, label in enumerate(uniques):
        mine = codes == g
        n_g = np.cumsum(np.bincount(inverse[mine], minlength=m)[::-1])[::-1]
        rows.append({"segment": label, "n": int(mine.sum()),
                     "observed": int(status[mine].sum()),
                     "expected": float(np.sum(d * n_g / n_all))})
    return LogrankResult(statistic, dof, float(chi2.sf(statistic, dof)), pd.DataFrame(rows))
