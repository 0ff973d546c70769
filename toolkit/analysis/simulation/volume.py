"""Required volume (backward): the entries each phase needs per calendar month for an order or
revenue target, at current or planned conversion."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.analysis.simulation.baseline import MONTHS_PER, baseline_of, check_draws, check_level
from toolkit.analysis.simulation.scenarios import interval_of, parse_rates, posterior_draws, scenario_rates
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.vocabulary import Seed, check_option, random_generator
from toolkit.io.engagement import Engagement


def _entries_for_probability(target: np.ndarray, chain: np.ndarray, probability: float) -> float:
    """Smallest whole number of entries E with mean_d P(Binomial(E, chain_d) >= target_d) >= q."""
    need = np.ceil(target - 1e-9)

    def meets(entries: int) -> float:
        return float(np.mean(stats.binom.sf(need - 1, entries, chain)))

    ceiling = 1e10  # beyond this the target is out of reach (e.g. a planned rate of 0)
    guess = float(np.quantile(need / np.maximum(chain, 1e-300), 0.999))
    low, high = 0, int(min(max(2.0 * guess, 1.0), ceiling))
    while meets(high) < probability:
        if high >= ceiling:
            return math.nan
        high = int(min(high * 2, ceiling))
    while high - low > 1:  # meets(low) < q <= meets(high)
        middle = (low + high) // 2
        if meets(middle) >= probability:
            high = middle
        else:
            low = middle
    return float(high)


@shared_docs
def required_volume(engagement: Engagement, *, orders: float | None = None, revenue: float | None = None,
                    period: str = "month", rates: Mapping | None = None, seasonal: bool = True,
                    window_days: int | None = None, probabilities: Sequence[float] = (0.5, 0.8),
                    draws: int = 4000, seed: Seed = 0,
                    confidence: float = 0.95) -> pd.DataFrame:
    """The entries each phase needs to reach an order or revenue target.

    Parameters
    ----------
    {shared.engagement}
    {shared.rates}
        Default: the current ones.
    {shared.window_days}
    {shared.draws}
    {shared.seed}
    orders, revenue
        The target, per ``period``; pass exactly one. A revenue target is turned into orders with
        the mean won value.
    period : {'month', 'year'}
        The target is per (average) month or per year.
    seasonal
        True (default): split the annual requirement over the calendar months with each phase's
        share of annual volume in the baseline. False: one row per phase, per ``period``.
    probabilities
        For each q, a column ``required_p{100q}``: the entries needed so that the target is met
        with probability q (rates, value and the chance of each record converting all uncertain).
    confidence
        Level of ``required_ci_low``/``required_ci_high``.

    Returns
    -------
    DataFrame
        ``month`` (the calendar month 1-12 when seasonal, else ``period``), ``phase, label,
        conversion_to_order, required_entries, required_ci_low, required_ci_high, required_p50,
        required_p80, ...,
        current_entries, gap``. ``gap = required_entries - current_entries``: positive means too
        few entries; ``current_entries`` is the baseline mean for that calendar month (or per
        month / year).

    Notes
    -----
    With target T orders and planned step rates, phase k needs
    :math:`E_k = T / \\prod_{j \\ge k} p_j`, the product running over the steps from k to the
    last phase. The interval is that of :math:`T / \\prod p_j` over the Beta posteriors;
    ``required_p{q}`` is the smallest E with
    :math:`\\mathrm{E}_{p}[P(\\mathrm{Bin}(E, \\prod p_j) \\ge T)] \\ge q`.

    Conversion percentages are stable through the year, volume is seasonal (the method's point):
    the annual requirement is split over the calendar months with the baseline's share of annual
    volume per calendar month, so July asks for fewer leads than October when July always was
    quieter. The probability columns refer to the whole horizon (the year when seasonal) and
    are split like the requirement; they do not promise each month on its own.
    """
    engagement.require_dates("The volume per month an order target needs")
    if (orders is None) == (revenue is None):
        raise OptionError(f"Pass exactly one of `orders` and `revenue` (the target), but "
                          f"orders={orders!r} and revenue={revenue!r} were passed.")
    name, target = ("orders", orders) if orders is not None else ("revenue", revenue)
    if isinstance(target, bool) or not isinstance(target, int | float) or not target > 0 \
            or not math.isfinite(target):
        raise OptionError(f"The value for `{name}` must be a positive number, but {target!r} was "
                          "passed.")
    check_option("period", period, tuple(MONTHS_PER))
    probabilities = [check_level("probabilities", q) for q in probabilities]
    draws = check_draws(draws)
    rng = random_generator(seed)
    level = check_level("confidence", confidence)
    base = baseline_of(engagement, window_days=window_days)
    changes = parse_rates(rates, base)
    if name == "revenue" and not base.value_mean > 0:
        raise DataError("no won record has a positive value, so a revenue target cannot be "
                        "turned into orders", column="value",
                        fix="load the deal amounts, or set the target in `orders`")

    _, rates_d, value_d = posterior_draws(base, rng, draws)
    rate_hat = scenario_rates(base.rate_hat, changes, base)
    rates_d = scenario_rates(rates_d, changes, base)
    horizon = float(target) * (12.0 if seasonal and period == "month" else 1.0)
    if name == "orders":
        need_hat, need_d = horizon, np.full(draws, horizon)
    else:
        need_hat, need_d = horizon / base.value_mean, horizon / np.maximum(value_d, 1e-12)

    if seasonal:
        shares, note = base.shares()
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        current = base.calendar()
        months: list[int | str] = list(range(1, 13))  # the calendar months
    else:
        months = [period]
    rows = []
    for k, phase in enumerate(base.phases):
        chain_hat = float(np.prod(rate_hat[k:]))
        chain_d = np.prod(rates_d[:, k:], axis=1)
        if chain_hat <= 0:
            raise DataError(f"the conversion from {phase} to {base.phases[-1]} is 0, so no volume "
                            "reaches the target", fix="check the planned `rates`")
        with np.errstate(divide="ignore"):
            required_d = need_d / chain_d
        point = need_hat / chain_hat
        low, high = interval_of(required_d, level)
        by_probability = {f"required_p{round(q * 100):d}":
                          float(_entries_for_probability(need_d, chain_d, q))
                          for q in probabilities}
        for month in months:
            if seasonal:
                share = float(shares.loc[month, phase])
                now = float(current.loc[month, phase]) if not np.isnan(
                    current.loc[month, phase]) else np.nan
            else:
                share = 1.0
                now = float(base.entries[phase].mean()) * MONTHS_PER[period]
            row = {"month": month, "phase": phase, "label": base.labels[k],
                   "conversion_to_order": chain_hat, "required_entries": point * share,
                   "required_ci_low": low * share, "required_ci_high": high * share}
            row.update({key: value * share for key, value in by_probability.items()})
            row["current_entries"] = now
            row["gap"] = point * share - now
            rows.append(row)
    out = pd.DataFrame(rows)
    if seasonal:
        out["month"] = out["month"].astype("int64")
    return out


