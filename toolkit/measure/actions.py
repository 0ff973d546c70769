"""Which actions (channels) bring qualified leads, at which rate and cost (step 5, cost per lead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError, OptionError
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import NAT, Cohorts
from toolkit.stats import rate_ci

__all__ = ["action_yield", "cost_table", "parse_period", "in_period"]

def cost_table(costs: Any) -> pd.DataFrame | None:
    """The cost table of the action yield, checked: one row per action (and optionally period).

    Parameters
    ----------
    costs : DataFrame, list of dict or None
        Rows with ``action`` and ``cost`` (a number >= 0) and optionally ``period`` ('2025',
        '2025Q1', '2025-03'), as ``costs:`` in the YAML.

    Returns
    -------
    DataFrame or None
        ``action`` (text), ``cost`` (float) and ``period`` (text) when given; None for None.

    Raises
    ------
    ConfigError
        A column is missing, or a cost is no number >= 0 (the key `costs`, the value and the
        fix).
    """
    if costs is None:
        return None
    frame = pd.DataFrame(list(costs)) if not isinstance(costs, pd.DataFrame) else costs.copy()
    missing = [c for c in ("action", "cost") if c not in frame.columns]
    if missing:
        raise ConfigError(f"The cost table lacks the column(s) {missing}; it has "
                          f"{list(frame.columns)}", key="costs",
                          fix="give one row per action (and optionally period) with `action` and "
                              "`cost`, e.g. {action: event, cost: 12000, period: '2025'}")
    cost = pd.to_numeric(frame["cost"], errors="coerce")
    bad = cost.isna() | (cost < 0)
    if bad.any():
        raise ConfigError("Every cost must be a number >= 0", key="costs",
                          value=frame.loc[bad, "cost"].iloc[0],
                          fix="write amounts as plain numbers without currency signs")
    frame["cost"] = cost.astype(float)
    frame["action"] = frame["action"].astype(str)
    if "period" in frame.columns:
        frame["period"] = frame["period"].astype(str)
    return frame


def parse_period(label: object, name: str) -> pd.Period:
    """A period label read as a pandas Period.

    Parameters
    ----------
    label : object
        A Period, or a label such as '2025' (year), '2025Q1' (quarter) or '2025-03' (month).
    name : str
        The argument's name, for the error.

    Returns
    -------
    Period

    Raises
    ------
    OptionError
        `label` is no period label.
    """
    if isinstance(label, pd.Period):
        return label
    try:
        return pd.Period(str(label))
    except (ValueError, TypeError):
        raise OptionError(f"The value for `{name}` must be a period label such as '2025' (year), "
                           f"'2025Q1' (quarter) or '2025-03' (month), but {label!r} was passed."
                           ) from None


def in_period(stamps: np.ndarray, period_label: pd.Period) -> np.ndarray:
    """Which int64-nanosecond times fall inside a period.

    Parameters
    ----------
    stamps : ndarray of int64
        Times as nanoseconds (``NAT`` for none).
    period_label : Period
        The period, from its first to its last nanosecond.

    Returns
    -------
    ndarray of bool
        True where a time is not ``NAT`` and falls in `period_label`.
    """
    start = period_label.start_time.value
    end = period_label.end_time.value
    return (stamps != NAT) & (stamps >= start) & (stamps <= end)


@shared_docs
def action_yield(engagement: Engagement, *, action: str = "action", phase: str | None = None,
                 costs: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
                 window_days: int | None = None) -> pd.DataFrame:
    """Which actions (channels) produce qualified leads, at which rate and cost.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    action
        The record attribute holding the action (cold calling, event, mailing, ...).
    phase
        The phase whose reaching makes a record a qualified lead; default the second phase.
    costs
        Cost table: a DataFrame or list of dicts with ``action, cost`` and optionally ``period``
        ('2025', '2025Q1', '2025-03'); default ``engagement.config.costs``.

    Returns
    -------
    DataFrame, one row per action (and cost period): ``action, period, n, successes, rate,
    ci_low, ci_high, leads, orders, cost, cost_per_lead, cost_per_order``; sorted by cost per
    lead when costs are given, else by rate (best first).

    Notes
    -----
    ``n``/``successes``/``rate`` are the cohort conversion from the first phase to ``phase``
    (mature records, within the window; Wilson 95% interval): the fair comparison of actions.
    ``leads`` counts every record of the action that reached ``phase`` (also the recent and the
    slow ones) and ``orders`` those that reached the last phase; ``cost_per_lead`` = cost /
    leads and ``cost_per_order`` = cost / orders. With a cost ``period``, records count in the
    period in which they reached the first phase. Recent periods have not finished converting,
    so their cost per order is too high. Records entering mid-funnel (referrals) count as having
    passed the first phase.
    """
    engagement.require_dates("Action yield (entries per period)")
    fun = Cohorts(engagement, window_days)
    codes, labels = fun.attribute(action)
    target = 1 if phase is None else fun.index(phase)
    if target == 0:
        raise OptionError(f"The value for `phase` must be a phase after the first "
                           f"({fun.keys[1:]}), but {phase!r} was passed.")
    table = cost_table(engagement.config.costs if costs is None else costs)
    reached_first = fun.reached[:, 0]
    lead = fun.reached[:, target] != NAT
    won = fun.reached[:, -1] != NAT

    def row(label: str, g: int, period: str, within: np.ndarray | None) -> dict:
        mask = codes == g if g >= 0 else np.zeros(len(codes), dtype=bool)
        if within is not None:
            mask = mask & within
        n, x = fun.counts(0, target, within=mask)
        return {"action": label, "period": period, "n": int(n[0]), "successes": int(x[0]),
                "leads": int((mask & lead).sum()), "orders": int((mask & won).sum())}

    rows = []
    index = {label: g for g, label in enumerate(labels)}
    if table is not None and "period" in table.columns:
        for rec in table.to_dict("records"):
            within = in_period(reached_first, parse_period(rec["period"], "costs.period"))
            r = row(rec["action"], index.get(rec["action"], -1), rec["period"], within)
            r["cost"] = rec["cost"]
            rows.append(r)
    else:
        spend = table.groupby("action")["cost"].sum() if table is not None else pd.Series(
            dtype=float)
        names = list(labels) + [a for a in spend.index if a not in index]
        for label in names:
            r = row(label, index.get(label, -1), "all", None)
            r["cost"] = float(spend.get(label, np.nan))
            rows.append(r)
    out = pd.DataFrame(rows, columns=["action", "period", "n", "successes", "leads", "orders",
                                      "cost"])
    n, x = out["n"].to_numpy(float), out["successes"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
        out["cost_per_lead"] = out["cost"] / out["leads"].where(out["leads"] > 0)
        out["cost_per_order"] = out["cost"] / out["orders"].where(out["orders"] > 0)
    out["ci_low"], out["ci_high"] = rate_ci(x, n, method="wilson")
    if table is not None:
        out = out.sort_values(["cost_per_lead", "rate"], ascending=[True, False], kind="stable",
                              na_position="last")
    else:
        out = out.sort_values("rate", ascending=False, kind="stable", na_position="last")
    return out[["action", "period", "n", "successes", "rate", "ci_low", "ci_high", "leads",
                "orders", "cost", "cost_per_lead", "cost_per_order"]].reset_index(drop=True)
