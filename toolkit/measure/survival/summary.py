"""The time-to-convert table a consultant reports: per segment n, outcomes, the converters' median
and percentiles read off the cumulative incidence, with intervals."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import check_option
from toolkit.measure.survival.checks import EVENTS, LEVEL_TOL, as_durations, as_labels, z_value
from toolkit.measure.survival.incidence import Incidence, loglog_interval
from toolkit.measure.survival.kaplan_meier import kaplan_meier


def _converter_quantile(inc: Incidence, q: float, z: float) -> tuple[float, float, float, float]:
    """(days, ci_low, ci_high, plateau) of the q-quantile among records that convert."""
    if inc.times.size == 0 or inc.events[0].sum() == 0:
        return np.nan, np.nan, np.nan, 0.0
    conv = inc.cif[0]
    plateau = float(conv[-1])
    share, se = _normalised_incidence(inc)

    def first(curve: np.ndarray) -> float:
        hit = np.flatnonzero(curve >= q - LEVEL_TOL)
        return float(inc.times[hit[0]]) if hit.size else np.nan

    # Brookmeyer-Crowley: the days t whose share G(t) the data cannot tell from q,
    # |G(t) - q| <= z se(G(t)); G steps up, so the set runs from the first t with
    # G + z se >= q to the first with G - z se >= q.
    return first(share), first(share + z * se), first(share - z * se), plateau


def _normalised_incidence(inc: Incidence) -> tuple[np.ndarray, np.ndarray]:
    """G(t) = F(t) / F(tau), the converters' distribution (F the conversion CIF, tau the last
    event time), and its standard error by the delta method with the covariance of F(t) and
    F(tau): the plateau is estimated too, so it is not taken as known."""
    f = inc.cif[0]
    n = inc.at_risk.astype(np.float64)
    d_k = inc.events
    d = d_k.sum(axis=0)
    d1 = d_k[0]
    s_prev = np.concatenate(([1.0], inc.surv[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(n > d, d / (n * (n - d)), 0.0)
    a = s_prev * d1 / n**2
    b = s_prev**2 * d1 * (n - d1) / n**3
    # cov(F(t_i), F(tau)) = sum_{j<=i} (F_i - F_j)(F_m - F_j) r_j + b_j
    #                        - a_j ((F_i - F_j) + (F_m - F_j)), the variance's formula with
    # one of its two F(t) at tau (at t_i = tau it is the variance), as running sums.
    fm = f[-1]
    cum_r, cum_fr, cum_f2r = np.cumsum(r), np.cumsum(f * r), np.cumsum(f**2 * r)
    cum_a, cum_fa, cum_b = np.cumsum(a), np.cumsum(f * a), np.cumsum(b)
    cov = (f * fm * cum_r - (f + fm) * cum_fr + cum_f2r + cum_b
           - (f + fm) * cum_a + 2 * cum_fa)
    var_f, var_m = inc.variance[0], inc.variance[0][-1]
    share = f / fm
    var = (var_f - 2 * share * cov + share**2 * var_m) / fm**2
    return share, np.sqrt(np.clip(var, 0.0, None))


@shared_docs
def converter_quantile(durations: Any, event: Any, *, q: float = 0.5,
                       confidence: float = 0.95) -> tuple[float, float, float]:
    """Days by which a share ``q`` of the eventual conversions have happened, with an interval.

    Parameters
    ----------
    {shared.durations}
    {shared.event}
    q : the quantile among converters (0.5: the median days to convert).
    {shared.confidence}

    Returns
    -------
    (days, ci_low, ci_high); NaN days when nothing converted (``ci_high`` NaN when the band never
    reaches the level).

    Notes
    -----
    With :math:`F(t)` the Aalen-Johansen cumulative incidence of converting (lost competing, open
    censored) and :math:`F_\\infty` its last value (the plateau: the share that eventually
    converts), the converters' distribution is :math:`F(t)/F_\\infty` and its q-quantile is the
    first t with :math:`F(t) \\ge q F_\\infty`. This is "how long do the records that convert
    take": the Kaplan-Meier median with lost records censored answers "how long if nobody were
    ever lost" and overstates it several-fold when losing is common. The interval is of the
    Brookmeyer-Crowley type: the days t at which the converters' share
    :math:`G(t) = F(t)/F_\\infty` is not distinguishable from q, :math:`|G(t) - q| \\le z\\,
    se(G(t))`, with se by the delta method from the Aalen-Johansen variance of F(t), of the
    plateau and their covariance (the plateau is estimated, not taken as known). Records still
    open at the end of follow-up that will convert later make the plateau and the quantile a
    little low; with a follow-up long beside the durations this is negligible.
    """
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
        raise OptionError(f"The value for `q` must be a number strictly between 0 and 1, but "
                           f"{q!r} was passed.")
    if len(np.atleast_1d(np.asarray(durations, dtype=object))) == 0:
        return np.nan, np.nan, np.nan
    time = as_durations(durations)
    codes = as_labels(event, time.size, EVENTS[:2], EVENTS[2])
    days, low, high, _ = _converter_quantile(Incidence(time, codes, 2), float(q),
                                             z_value(confidence))
    return days, low, high


def _cif_median(inc: Incidence) -> tuple[float, str | None]:
    """Median time to conversion read off the conversion CIF, or NaN with the reason."""
    if inc.times.size == 0 or inc.events[0].sum() == 0:
        return np.nan, "no conversions observed"
    conv = inc.cif[0]
    hit = np.flatnonzero(conv >= 0.5 - LEVEL_TOL)
    if hit.size:
        return float(inc.times[hit[0]]), None
    conv_end, lost_end, open_end = conv[-1], inc.cif[1, -1], inc.surv[-1]
    if conv_end + open_end < 0.5:
        return np.nan, Finding("median_unreachable", {
            "lost": float(lost_end), "converted": float(conv_end), "open": float(open_end)})
    return np.nan, Finding("median_not_reached", {
        "converted": float(conv_end), "day": float(inc.times[-1]), "open": float(open_end)})


@shared_docs
def time_to_convert_summary(
    data: pd.DataFrame,
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    horizons: Sequence[float] = (30, 60, 90, 180),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per segment: how many converted, were lost or are still open, and how fast they convert.

    Parameters
    ----------
    data : the output of `transition_durations` (columns `duration_days`, `event` and the
        segment columns).
    by : segment column(s) to group by; None for one overall row. Missing segment values form
        their own group.
    horizons : days at which to report the cumulative incidence of conversion.
    {shared.confidence}

    Returns
    -------
    DataFrame, one row per group: the `by` columns, `n, converted, lost, censored`,
    `median_days, median_ci_low, median_ci_high` (the headline: median days among records that
    convert, see :func:`converter_quantile`), `converted_share` (the plateau of the conversion
    CIF: the share that converts), `km_median_days, km_median_ci_low, km_median_ci_high` (KM
    with lost and open censored: a hypothetical no-loss speed, never "time to convert"),
    for each horizon h `cif_{h}d, cif_{h}d_ci_low, cif_{h}d_ci_high` (share converted within h
    days, Aalen-Johansen with lost competing), and `cif_median_days` (first time the conversion
    CIF reaches 0.5) with `cif_median_reason` saying why it is NaN (NA when it is not).

    Notes
    -----
    Report `median_days` beside `cif_*` (the share of records that actually converted within h
    days). The KM median answers "how fast do those that convert convert, had nobody been lost"; it is a
    hypothetical quantity, kept because it compares speed between segments regardless of their
    loss rates. The CIF median exists only when at least half of all records convert, which in
    a funnel with many losses it often does not; the reason column says whether losses or too
    short a follow-up are the cause. Never use the mean of the closed records: it leaves out the
    slow ones that are still open. `cif_{h}d` is NaN when h is past the end of follow-up while
    records are still open.
    """
    missing = [c for c in ("duration_days", "event") if c not in data.columns]
    if missing:
        raise DataError(
            f"`data` lacks the column(s) {missing}",
            fix="pass the output of `transition_durations`",
        )
    keys = [] if by is None else ([by] if isinstance(by, str) or not isinstance(by, Sequence)
                                  else list(by))
    for key in keys:
        check_option("by", key, [c for c in data.columns if c not in ("duration_days", "event")])
    grid = np.asarray(horizons, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or (grid <= 0).any():
        raise OptionError(
            f"The value for `horizons` must be positive numbers of days, e.g. (30, 60, 90, 180), "
            f"but {horizons!r} was passed."
        )
    z = z_value(confidence)
    groups = [((), data)] if not keys else data.groupby(keys, dropna=False, observed=True,
                                                         sort=True)
    rows = []
    for key, part in groups:
        time = as_durations(part["duration_days"])
        codes = as_labels(part["event"], time.size, EVENTS[:2], EVENTS[2])
        converted = codes == 0
        km = kaplan_meier(time, converted, confidence=confidence)
        inc = Incidence(time, codes, 2)
        cif, var, _, _ = inc.at(grid)
        low, high = loglog_interval(cif[:1], var[:1], z)
        median, reason = _cif_median(inc)
        conv_median, conv_low, conv_high, plateau = _converter_quantile(inc, 0.5, z)
        row: dict[Hashable, Any] = dict(zip(keys, key if isinstance(key, tuple) else (key,),
                                            strict=True))
        row.update({
            "n": int(time.size), "converted": int(converted.sum()),
            "lost": int((codes == 1).sum()), "censored": int((codes < 0).sum()),
            "median_days": conv_median, "median_ci_low": conv_low, "median_ci_high": conv_high,
            "converted_share": plateau,
            "km_median_days": km.median_, "km_median_ci_low": km.median_ci_[0],
            "km_median_ci_high": km.median_ci_[1],
        })
        for i, h in enumerate(grid):
            name = f"cif_{h:g}d"
            row[name] = cif[0, i]
            row[f"{name}_ci_low"] = low[0, i]
            row[f"{name}_ci_high"] = high[0, i]
        row["cif_median_days"] = median
        row["cif_median_reason"] = reason
        rows.append(row)
    return pd.DataFrame(rows)


