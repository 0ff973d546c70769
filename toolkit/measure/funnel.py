"""The funnel measured right: reached phases, cohort conversions with windows, period conversions.

Semantics (DESIGN.md, "Funnel semantics"):

- A record reached phase k if it has an event at k or at any later phase (a skipped phase counts as
  passed); `reached_at[k]` is the earliest entry among its events at phases >= k. A move back never
  un-reaches a phase.
- Cohort conversion k -> k+1 with window W: among records whose `reached_at[k]` falls in period P,
  the share with `reached_at[k+1] - reached_at[k] <= W` days. Records that reached k less than W days
  before the as-of date are immature: not counted, reported as `immature_n`.
- Period (milestone) conversion: entries into k+1 in P / entries into k in P. It mixes cohorts, so it
  is offered because clients use it, always labelled, never the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import MISSING, PERIOD_FREQ, PERIODS, check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import (
    check_window_days,
    cohort_masks,
    period_codes_of,
    reached_at,
    reached_phases,
    undated_phases,
)
from toolkit.stats import rate_ci

__all__ = ["reached_at", "reached_phases", "reached_conversion", "NO_WINDOW", "NEEDS_DATES",
           "funnel", "weakest_step", "cohort_conversion", "period_conversion", "win_rate", "period_label"]

#: The period label of a conversion measured without dates: every record that reached the
#: from-phase, whatever its age (no cohort window; open records count as not converted).
NO_WINDOW = "all (no dates: no cohort window)"
#: The period label of a figure that needs dates the engagement does not have.
NEEDS_DATES = "n/a: needs dates"


def _check_period(period: str | None) -> str | None:
    """The pandas frequency of a period granularity (None: one period over all)."""
    if period is None:
        return None
    return PERIOD_FREQ[check_option("period", period, PERIODS)]


def _period_codes(stamps: pd.Series, period: str | None) -> tuple[np.ndarray, list[str]]:
    """Sorted integer codes of the periods of timestamps (-1 for NaT), and their labels."""
    freq = _check_period(period)
    if freq is None:
        return np.zeros(len(stamps), dtype="int64"), ["all"]
    if stamps.dtype == "datetime64[ns]":  # naive nanoseconds: each distinct day once
        codes, uniques = period_codes_of(stamps.to_numpy().view(np.int64), str(period))
    else:
        codes, uniques = pd.factorize(stamps.dt.to_period(freq), sort=True)
    return codes, [str(u) for u in uniques]


@shared_docs
def period_label(stamps: pd.Series, period: str | None) -> pd.Series:
    """The period a timestamp falls in, as a string.

    Parameters
    ----------
    stamps : Series of datetime
        The timestamps.
    {shared.period}

    Returns
    -------
    Series of str
        '2025-03' (month), '2025Q1' (quarter), '2025' (year), the week, or 'all'.
    """
    # Format each distinct period once: str() of a million Periods is the slow part.
    codes, labels = _period_codes(stamps, period)
    # code -1 (NaT) -> None
    with_none = np.append(np.asarray(labels, dtype=object), np.array([None], dtype=object))
    return pd.Series(with_none[codes], index=stamps.index, dtype="object")


def segment_columns(engagement: Engagement, by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    have = list(engagement.records.columns)
    for col in cols:
        if col not in have:
            raise OptionError(
                f"The value for `by` must be record attributes {engagement.segments}, but {col!r} "
                f"was passed. Declare it under `attributes` of a source in the engagement YAML.")
    return cols


def segment_values(engagement: Engagement, reached: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Segment attributes aligned row by row with `reached` (missing values as '(missing)').

    `reached_at` lists the records in their own order first, so this is positional: no string
    lookups of a million record ids.
    """
    rec = engagement.records
    out = pd.DataFrame(index=reached.index)
    for c in cols:
        values = rec[c].astype("object").to_numpy()
        if len(reached) > len(rec):
            values = np.concatenate([values, np.full(len(reached) - len(rec), None, object)])
        out[c] = pd.Series(values, index=reached.index).fillna(MISSING)
    return out


def _with_ci(frame: pd.DataFrame, *, method: str = "wilson") -> pd.DataFrame:
    n = frame["n"].to_numpy(dtype=float)
    x = frame["successes"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(x, n, method=method)
    frame["ci_low"], frame["ci_high"] = low, high
    return frame


@shared_docs
def funnel(engagement: Engagement, *, by: str | Sequence[str] | None = None, method: str = "wilson"
           ) -> pd.DataFrame:
    """The funnel table: per phase the records that reached it, the step conversion from the phase
    before and the cumulative conversion from the first phase, each with an interval.

    Parameters
    ----------
    {shared.engagement}
    {shared.by}
    {shared.ci_method}

    Returns
    -------
    DataFrame
        One row per phase (and segment): ``segment columns..., phase, label, reached,
        from_phase, n, successes, rate, ci_low, ci_high, open, lost, cumulative_rate,
        cumulative_ci_low, cumulative_ci_high``. ``n`` is the number that reached the phase
        before, ``successes`` the number that reached this phase; ``open`` counts records of
        ``n`` still open without having reached this phase (they may still convert: this is an
        all-time view, see `cohort_conversion` for a fair rate), and ``lost`` those lost before
        reaching it.

    Notes
    -----
    Step rate = reached(k) / reached(k-1); cumulative rate = reached(k) / reached(first phase).
    Records still open make recent months look worse; compare periods with `cohort_conversion`.
    """
    model = engagement.phase_model
    seg = segment_columns(engagement, by)
    flags = reached_phases(engagement)
    rec = engagement.records.set_index("record_id").reindex(flags.index)
    groups = [rec[c].astype("object").fillna(MISSING) for c in seg]
    rows = []
    keys = model.keys
    is_open = (rec["outcome"] == "open").to_numpy()
    is_lost = (rec["outcome"] == "lost").to_numpy()
    base = pd.DataFrame({k: flags[k].to_numpy() for k in keys}, index=flags.index)
    base["_open"], base["_lost"] = is_open, is_lost
    for c, g in zip(seg, groups, strict=True):
        base[c] = g.to_numpy()
    grouped = base.groupby(seg, dropna=False, observed=True) if seg else [((), base)]
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        first_n = int(part[keys[0]].sum())
        for i, phase in enumerate(keys):
            reached_n = int(part[phase].sum())
            row = dict(zip(seg, key, strict=True))
            row.update({"phase": phase, "label": model.label(phase), "reached": reached_n})
            if i == 0:
                row.update({"from_phase": None, "n": np.nan, "successes": np.nan, "open": np.nan,
                            "lost": np.nan})
            else:
                prev = part[keys[i - 1]]
                not_yet = prev & ~part[phase]
                row.update({"from_phase": keys[i - 1], "n": int(prev.sum()),
                            "successes": reached_n, "open": int((not_yet & part["_open"]).sum()),
                            "lost": int((not_yet & part["_lost"]).sum())})
            row["cumulative_n"] = first_n
            rows.append(row)
    out = pd.DataFrame(rows)
    out = _with_ci(out, method=method)
    low, high = rate_ci(out["reached"].to_numpy(float), out["cumulative_n"].to_numpy(float),
                        method=method)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cumulative_rate"] = out["reached"] / out["cumulative_n"].where(out["cumulative_n"] > 0)
    out["cumulative_ci_low"], out["cumulative_ci_high"] = low, high
    return out.drop(columns="cumulative_n")


def weakest_step(funnel_frame: pd.DataFrame, *, min_n: int) -> pd.Series | None:
    """The step of the funnel with the lowest conversion among those with enough records.

    Parameters
    ----------
    funnel_frame : DataFrame
        The table of :func:`funnel`.
    min_n : int
        The fewest records (``n``) a step needs to be considered.

    Returns
    -------
    Series or None
        The row of `funnel_frame` with the lowest step conversion; None when no step has
        `min_n` records.
    """
    steps = funnel_frame.dropna(subset=["rate"])
    steps = steps[steps["n"] >= min_n]
    return None if steps.empty else steps.loc[steps["rate"].idxmin()]


@shared_docs
def cohort_conversion(engagement: Engagement, *, from_phase: str | None = None, to_phase: str | None = None,
                      window_days: int | None = None, period: str | None = "month",
                      by: str | Sequence[str] | None = None, as_of: pd.Timestamp | None = None,
                      method: str = "wilson", reached: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """Cohort conversion between phases with a window, maturity-aware.

    Parameters
    ----------
    {shared.engagement}
    {shared.transition}
    {shared.window_days}
    period : {'month', 'quarter', 'year', 'week', 'all'}
        Cohorts by the period in which records reached `from_phase`.
    {shared.by}
    as_of : Timestamp, optional
        The measurement date that decides maturity; default the engagement's ``as_of``.
    {shared.ci_method}
    reached : DataFrame, optional
        :func:`toolkit.measure.cohorts.reached_at` of the engagement when the caller has it.

    Returns
    -------
    DataFrame with `from_phase, to_phase, segment columns..., period, n, successes, rate, ci_low,
    ci_high, immature_n, window_days, method` (method = 'cohort').

    Notes
    -----
    rate = #(reached_at[to] - reached_at[from] <= W) / #mature, where a record is mature when
    reached_at[from] <= as_of - W. Lost and still-open mature records count as not converted: their
    window has closed. Immature records are excluded, never counted as failures.
    """
    engagement.require_dates("Cohort conversion (a window of days after reaching a phase)")
    model = engagement.phase_model
    window = (check_window_days(window_days) if window_days is not None
              else int(engagement.config.cohort_window_days))
    as_of = pd.Timestamp(as_of if as_of is not None else engagement.as_of)
    seg = segment_columns(engagement, by)
    pairs = _pairs(model, from_phase, to_phase)
    reached = reached_at(engagement) if reached is None else reached
    undated = undated_phases(engagement, reached)
    segments = segment_values(engagement, reached, seg)
    # Segment values as sorted integer codes, once: counting by integer keys is what keeps a
    # million records fast (a groupby on strings per transition is not).
    seg_codes = [pd.factorize(segments[c].to_numpy(), sort=True) for c in seg]
    parts = []
    for a, b in pairs:
        start_all = reached[a].to_numpy(dtype="datetime64[ns]").view("int64")
        end_all = reached[b].to_numpy(dtype="datetime64[ns]").view("int64")
        has, mature, converted = cohort_masks(start_all, end_all, as_of=as_of, window_days=window,
                                              windowed=a not in undated)
        start = start_all[has].view("datetime64[ns]")
        mature, converted = mature[has], converted[has]
        period_codes, period_labels = _period_codes(pd.Series(start), period)
        codes = [c[has] for c, _ in seg_codes] + [period_codes]
        dims = tuple(len(u) for _, u in seg_codes) + (len(period_labels),)
        key = (np.asarray(np.ravel_multi_index(codes, dims)) if codes[0].size
               else np.zeros(0, "int64"))
        size = int(np.prod(dims))
        total = np.bincount(key, minlength=size)
        n = np.bincount(key, weights=mature, minlength=size).astype("int64")
        successes = np.bincount(key, weights=mature & converted, minlength=size).astype("int64")
        present = np.flatnonzero(total)
        labels = np.unravel_index(present, dims)
        agg = pd.DataFrame({"from_phase": a, "to_phase": b}, index=range(len(present)))
        for c, (_, uniques), lab in zip(seg, seg_codes, labels[:-1], strict=True):
            agg[c] = np.asarray(uniques, dtype=object)[lab]
        agg["period"] = np.asarray(period_labels, dtype=object)[labels[-1]]
        agg["n"], agg["successes"] = n[present], successes[present]
        agg["immature_n"] = total[present] - n[present]
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    out[["n", "successes", "immature_n"]] = out[["n", "successes", "immature_n"]].astype("int64")
    out = _with_ci(out, method=method)
    out["window_days"] = np.where(out["from_phase"].isin(undated), np.nan, window)
    out["method"] = "cohort"
    return out


@shared_docs
def reached_conversion(engagement: Engagement, *, from_phase: str | None = None, to_phase: str | None = None,
                       by: str | Sequence[str] | None = None, method: str = "wilson"
                       ) -> pd.DataFrame:
    """Conversion without dates: among the records that reached `from_phase`, the share that
    reached `to_phase`, whenever (what a lead list without dates can say).

    There is no cohort window: records still open count as not converted, so a young list
    understates the rate that its leads will reach.

    Parameters
    ----------
    {shared.engagement}
    {shared.transition}
    {shared.by}
    {shared.ci_method}

    Returns
    -------
    DataFrame
        The columns of `cohort_conversion` with ``period`` = ``NO_WINDOW``, ``immature_n``
        missing (no dates, no maturity) and ``method`` = 'reached'.
    """
    model = engagement.phase_model
    seg = segment_columns(engagement, by)
    flags = reached_phases(engagement)
    segments = segment_values(engagement, flags, seg)
    parts = []
    for a, b in _pairs(model, from_phase, to_phase):
        frame = pd.DataFrame({"n": flags[a].to_numpy(), "successes": (flags[a] & flags[b]).to_numpy()})
        for c in seg:
            frame[c] = segments[c].to_numpy()
        frame = frame[frame["n"]]
        agg = (frame.groupby(seg, dropna=False)[["n", "successes"]].sum().reset_index() if seg
               else frame[["n", "successes"]].sum().to_frame().T)
        agg.insert(0, "to_phase", b)
        agg.insert(0, "from_phase", a)
        agg.insert(2 + len(seg), "period", NO_WINDOW)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    out[["n", "successes"]] = out[["n", "successes"]].astype("int64")
    out = _with_ci(out, method=method)
    out["immature_n"] = np.nan
    out["window_days"] = np.nan
    out["method"] = "reached"
    return out


def _pairs(model: PhaseModel, from_phase: str | None, to_phase: str | None) -> list[tuple[str, str]]:
    if from_phase is None and to_phase is None:
        return model.transitions()
    keys = model.keys
    if from_phase is not None:
        a = from_phase
    else:
        assert to_phase is not None  # the first branch took the case of neither
        a = keys[max(model.index(to_phase) - 1, 0)]
    if to_phase is not None:
        b = to_phase
    elif model.index(a) + 1 < len(keys):
        b = keys[model.index(a) + 1]
    else:
        b = a  # the last phase has no next phase: rejected just below
    if model.index(b) <= model.index(a):
        raise OptionError(f"`to_phase` must come after `from_phase` in the phase model "
                          f"{model.keys}, but {from_phase!r} -> {to_phase!r} was passed.")
    return [(a, b)]


@shared_docs
def period_conversion(engagement: Engagement, *, from_phase: str | None = None, to_phase: str | None = None,
                      period: str = "month", by: str | Sequence[str] | None = None,
                      method: str = "wilson") -> pd.DataFrame:
    """Period (milestone) conversion: entries into `to_phase` in P / entries into `from_phase` in P.

    Parameters
    ----------
    {shared.engagement}
    {shared.transition}
    {shared.period}
    {shared.by}
    {shared.ci_method}

    Returns
    -------
    DataFrame
        The columns of `cohort_conversion` (``from_phase, to_phase, segment columns...,
        period, n, successes, rate, ci_low, ci_high``) with ``method`` = 'period'.

    Notes
    -----
    This is what most CRM dashboards show. The numerator and denominator are different records
    (this month's orders came from last quarter's leads), so it moves with volume swings and can
    exceed 100%. Use `cohort_conversion` to steer; this is here to reconcile with the client's
    own reports. The interval treats the ratio as a proportion and is only indicative.
    """
    engagement.require_dates("Period conversion (entries per period)")
    model = engagement.phase_model
    seg = segment_columns(engagement, by)
    reached = reached_at(engagement)
    segments = segment_values(engagement, reached, seg)
    parts = []
    for a, b in _pairs(model, from_phase, to_phase):
        frames = []
        for phase, col in ((a, "n"), (b, "successes")):
            has = reached[phase].notna().to_numpy()
            stamps = reached[phase][has]
            f = pd.DataFrame({"period": period_label(stamps, period)}, index=stamps.index)
            for c in seg:
                f[c] = segments[c].to_numpy()[has]
            frames.append(f.groupby(seg + ["period"], dropna=False).size().rename(col))
        agg = pd.concat(frames, axis=1).fillna(0).astype("int64").reset_index()
        agg.insert(0, "to_phase", b)
        agg.insert(0, "from_phase", a)
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    x, n = out["successes"].to_numpy(float), out["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(np.minimum(x, n), n, method=method)
    out["ci_low"], out["ci_high"] = low, high
    out["method"] = "period"
    return out


@shared_docs
def win_rate(engagement: Engagement, *, by: str | Sequence[str] | None = None, period: str | None = None,
             phase: str | None = None, method: str = "wilson") -> pd.DataFrame:
    """Win rate = won / (won + lost) with the open count beside it, by creation cohort.

    Parameters
    ----------
    {shared.engagement}
    {shared.by}
    {shared.period}
    phase : str, optional
        Only records that reached this phase (a sales team's win rate is usually counted from
        the opportunity phase); default all records.
    {shared.ci_method}

    Returns
    -------
    DataFrame
        ``segment columns..., period, n, successes, rate, ci_low, ci_high, lost, open``: one
        row per segment and creation period; ``successes`` the won, ``n`` = won + lost.

    Notes
    -----
    Open deals are neither won nor lost: counting them as lost understates the win rate, and
    ignoring them silently overstates how settled it is. A cohort with many open deals will
    still move; the censoring-aware version (`toolkit.measure.survival`, cumulative incidence of
    won) answers "what share of deals is won within D days".
    """
    if period is not None and period != "all":
        engagement.require_dates(f"The win rate by {period} of creation")
    seg = segment_columns(engagement, by)
    rec = engagement.records
    if phase is not None:
        engagement.phase_model.index(phase)  # a clear error for an unknown phase
        reached = reached_phases(engagement)[phase]
        rec = rec[rec["record_id"].map(reached).fillna(False).astype(bool).to_numpy()]
    frame = pd.DataFrame({"period": period_label(rec["created_at"], period),
                          "won": (rec["outcome"] == "won").to_numpy(),
                          "lost": (rec["outcome"] == "lost").to_numpy(),
                          "open": (rec["outcome"] == "open").to_numpy()})
    for c in seg:
        frame[c] = rec[c].astype("object").fillna(MISSING).to_numpy()
    agg = frame.groupby(seg + ["period"], dropna=False).agg(
        successes=("won", "sum"), lost=("lost", "sum"), open=("open", "sum")).reset_index()
    agg["n"] = agg["successes"] + agg["lost"]
    agg = _with_ci(agg, method=method)
    return agg[seg + ["period", "n", "successes", "rate", "ci_low", "ci_high", "lost", "open"]]
