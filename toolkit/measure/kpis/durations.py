"""Time to convert for every transition of the phase model, censoring-aware, and the cumulative
incidence of one step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import MISSING
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import (
    reached_at,
    segment_columns,
)
from toolkit.measure.kpis.compute import has_time_of_day
from toolkit.measure.survival import (
    cumulative_incidence,
    time_to_convert_summary,
    transition_durations,
)


@shared_docs
def time_to_convert(engagement: Engagement, *, by: str | None = None,
                    horizons: Sequence[float] = (30, 60, 90, 180)) -> pd.DataFrame:
    """Time to convert for every transition of the phase model, censoring-aware.

    A snapshot engagement gets only first phase -> won (creation to close): the phases between
    have no dates of their own.

    Parameters
    ----------
    {shared.engagement}
    {shared.by}
    horizons : sequence of float
        Days at which to report the cumulative incidence of conversion.

    Returns
    -------
    DataFrame
        One row per transition (and segment): ``transition, from_phase, to_phase`` and the
        columns of `toolkit.measure.survival.time_to_convert_summary` (n, converted, lost,
        censored, the median days among converters with its interval, and the cumulative
        incidence of conversion at each horizon with lost as a competing outcome).
    """
    engagement.require_dates("Time to convert")
    model = engagement.phase_model
    seg = segment_columns(engagement, by)
    reached = reached_at(engagement)
    records = engagement.records[["record_id", "outcome", "closed_at"] + seg]
    parts = []
    # A snapshot dates only creation and the won close: the steps between would all read 0 days.
    pairs = (model.transitions() if engagement.timing_known
             else [(model.first_phase, model.won_phase)])
    timed = has_time_of_day(engagement)
    for a, b in pairs:
        spells = transition_durations(reached, records, from_phase=a, to_phase=b,
                                      as_of=engagement.as_of)
        if spells.empty:
            continue
        summary = _without_instant_steps(
            time_to_convert_summary(spells, by=seg or None, horizons=horizons), spells, seg,
            timed=timed)
        summary.insert(0, "to_phase", b)
        summary.insert(0, "from_phase", a)
        summary.insert(0, "transition", f"{model.label(a)} → {model.label(b)}")
        parts.append(summary)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _without_instant_steps(summary: pd.DataFrame, spells: pd.DataFrame, seg: list[str], *,
                           timed: bool) -> pd.DataFrame:
    """`summary` with its durations n/a (``missing_reason`` 'no_distinct_times') in the groups
    whose every conversion took zero time (one bulk stamp for the step is no measured speed), or,
    with stamps that carry a time of day, whose median is the very instant of the start."""
    converted = spells["event"] == "converted"
    positive = (spells["duration_days"] > 0) & converted
    if seg:
        keys = [spells[c].astype("object").fillna(MISSING) for c in seg]
        any_converted = converted.groupby(keys).any()
        any_positive = positive.groupby(keys).any()
        instant_keys = set(any_converted.index[any_converted & ~any_positive])
        group = summary[seg].astype("object").fillna(MISSING)
        instant = pd.Series([tuple(r) if len(seg) > 1 else r[0] for r in group.to_numpy()],
                            index=summary.index).isin(instant_keys)
    else:
        instant = pd.Series(bool(converted.any() and not positive.any()), index=summary.index)
    if timed:
        instant = instant | summary["median_days"].eq(0)
    summary = summary.copy()
    reason = np.full(len(summary), None, dtype=object)
    reason[np.asarray(instant, dtype=bool)] = "no_distinct_times"
    summary["missing_reason"] = reason
    columns = [c for c in summary.columns
               if "median" in c and not c.endswith("reason") or c.startswith("cif_")]
    summary.loc[instant, columns] = np.nan
    return summary


@shared_docs
def step_incidence(engagement: Engagement, *, from_phase: str | None = None, to_phase: str | None = None
                   ) -> pd.DataFrame:
    """Cumulative incidence of converting (and of being lost) after reaching `from_phase`.

    Open records are censored at the as-of date, lost records are a competing outcome.

    Parameters
    ----------
    {shared.engagement}
    from_phase, to_phase : str, optional
        The transition; default the last step of the phase model (the one before the won
        phase).

    Returns
    -------
    DataFrame
        The frame of `toolkit.measure.survival.cumulative_incidence`: ``time, outcome, cif,
        ci_low, ci_high, at_risk``; no rows when no record reached `from_phase` (a young or
        empty engagement), so a figure of it says there is nothing to show instead of failing.
    """
    engagement.require_dates("The time to convert after a phase")
    model = engagement.phase_model
    keys = model.keys
    a = from_phase or keys[-2]
    b = to_phase or keys[model.index(a) + 1]
    spells = transition_durations(reached_at(engagement),
                                  engagement.records[["record_id", "outcome", "closed_at"]],
                                  from_phase=a, to_phase=b, as_of=engagement.as_of)
    if spells.empty:
        return pd.DataFrame(columns=["time", "outcome", "cif", "ci_low", "ci_high", "at_risk"])
    return cumulative_incidence(spells["duration_days"].to_numpy(),
                                spells["event"])
