"""Per record, the spell from reaching one phase to reaching a later one, and how it ended
(`converted`, `lost` or `censored`): the input of every estimator in this package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype

from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.vocabulary import check_option
from toolkit.measure.survival.checks import EVENTS

_OUTCOMES = ("won", "lost", "open")
# Record columns consumed by `transition_durations`; every other column is carried along.
_BOOKKEEPING = ("record_id", "created_at", "outcome", "closed_at", "lost_at_phase")
_DATA_ISSUES = ("to_phase_before_start", "closed_before_start", "won_without_to_phase")

def _datetimes(values: pd.Series, where: str) -> np.ndarray:
    if not is_datetime64_any_dtype(values.dtype):
        raise DataError(
            f"{where} must hold datetimes, but its dtype is {values.dtype}",
            fix="convert it with pd.to_datetime before computing durations",
        )
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise DataError(
            f"{where} is time-zone aware ({values.dtype}); the toolkit works in tz-naive "
            "local time",
            fix="use .dt.tz_convert(<engagement time zone>).dt.tz_localize(None)",
        )
    return values.to_numpy(dtype="datetime64[ns]")


def _some(ids: Sequence[object], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:k])
    return shown + (", ..." if len(ids) > k else "")


def transition_durations(
    reached_at: pd.DataFrame,
    records: pd.DataFrame,
    *,
    from_phase: str,
    to_phase: str,
    as_of: pd.Timestamp | str,
) -> pd.DataFrame:
    """How long each record took from reaching `from_phase` to reaching `to_phase`, or how long it
    has been waiting.

    Parameters
    ----------
    reached_at : DataFrame indexed by `record_id`, one datetime column per phase key in phase
        order, NaT where the record never reached that phase. The caller has already applied the
        funnel's "a skipped phase counts as passed" rule; this function only reads the columns.
    records : DataFrame with `record_id, outcome ('won'|'lost'|'open'), closed_at` (NaT while
        open) and any segment columns (`created_at` and `lost_at_phase` are accepted and not used).
    from_phase, to_phase : phase keys, `from_phase` earlier in the phase order than `to_phase`.
    as_of : the as-of date of the analysis. Anything dated after it is treated as not yet known.

    Returns
    -------
    DataFrame, one row per record that reached `from_phase` on or before `as_of`:
    `record_id, start, duration_days, event, data_issue` followed by every other column of
    `records` except `created_at, outcome, closed_at, lost_at_phase` (the segment attributes and
    `value`), so callers can group by segment.

    - `event` is categorical with categories `EVENTS = ('converted', 'lost', 'censored')`:
      `converted` when `reached_at[to_phase] <= as_of` (duration up to it); `lost` when the record
      was closed as lost on or before `as_of` without reaching `to_phase` (duration up to
      `closed_at`); otherwise `censored` at `as_of` (the record is open, or closed after `as_of`).
    - `data_issue` (categorical, NA when clean) flags records whose dates contradict each other:
      `to_phase_before_start` / `closed_before_start` (end earlier than start: the duration is
      set to 0), `won_without_to_phase` (won but `reached_at[to_phase]` is NaT, which the skip rule
      forbids: counted as converted at `closed_at`).

    Notes
    -----
    duration_days = (end - reached_at[from_phase]) / 1 day, as a float. Censoring at `as_of` is
    what makes the later estimators honest: an open record tells us "not converted in the first
    d days", which is information, not a missing value. Records that reached `from_phase` after
    `as_of` are left out, which makes `as_of` usable for back-testing on an older snapshot.

    Raises
    ------
    DataError when a selected record has no row in `records`, when `record_id` repeats, when an
    outcome is not one of won/lost/open, or when a won/lost record needed for the spell has no
    `closed_at`.
    """
    phases = list(reached_at.columns)
    check_option("from_phase", from_phase, phases)
    check_option("to_phase", to_phase, phases)
    if phases.index(to_phase) <= phases.index(from_phase):
        raise OptionError(
            f"The value for `to_phase` must come after `from_phase` ({from_phase!r}) in the phase "
            f"order {phases}, but {to_phase!r} was passed."
        )
    missing_cols = [c for c in ("record_id", "outcome", "closed_at") if c not in records.columns]
    if missing_cols:
        raise DataError(
            f"`records` lacks the column(s) {missing_cols}",
            fix="pass the `records` table of the loaded engagement",
        )
    as_of_ts = pd.Timestamp(as_of)
    if as_of_ts is pd.NaT or as_of_ts.tzinfo is not None:
        raise OptionError(
            f"The value for `as_of` must be a tz-naive date such as '2024-06-30', but {as_of!r} "
            f"was passed."
        )
    as_of64 = np.datetime64(as_of_ts.as_unit("ns").to_datetime64(), "ns")
    if reached_at.index.has_duplicates:
        dup = reached_at.index[reached_at.index.duplicated()].unique()
        raise DataError(
            f"`reached_at` has {len(dup)} repeated record_id(s): {_some(dup)}",
            fix="compute reached_at with one row per record",
        )

    start_all = _datetimes(reached_at[from_phase], f"reached_at[{from_phase!r}]")
    keep = ~np.isnat(start_all) & (start_all <= as_of64)
    start = start_all[keep]
    to_at = _datetimes(reached_at[to_phase], f"reached_at[{to_phase!r}]")[keep]
    ids = reached_at.index[keep]

    record_ids = pd.Index(records["record_id"])
    # Same order as `records` (as `toolkit.measure.funnel.reached_at` gives it): positions without a
    # million string lookups, and `reached_at` was already checked for repeats above.
    aligned = len(reached_at) == len(record_ids) and reached_at.index.equals(record_ids)
    if not aligned and record_ids.has_duplicates:
        dup = record_ids[record_ids.duplicated()].unique()
        raise DataError(
            f"`records` has {len(dup)} repeated record_id(s): {_some(dup)}",
            column="record_id", fix="keep one row per record in `records`",
        )
    if aligned:
        pos = np.flatnonzero(keep)
    else:
        pos = record_ids.get_indexer(ids)
    if (pos < 0).any():
        absent = ids[pos < 0]
        raise DataError(
            f"{len(absent)} record(s) in `reached_at` have no row in `records`: {_some(absent)}",
            column="record_id",
            fix="pass `records` from the same engagement; record_id must be str in both tables",
        )
    # Comparisons stay in the column's own (often Arrow string) dtype: converting a million
    # strings to Python objects costs more than the whole computation.
    outcome = records["outcome"].take(pos)
    bad_outcome = ~outcome.isin(_OUTCOMES).to_numpy(dtype=bool)
    if bad_outcome.any():
        raise DataError(
            f"`outcome` must be one of {list(_OUTCOMES)}, but {int(bad_outcome.sum())} record(s) "
            f"have other values, e.g. {_some(outcome[bad_outcome].unique())}",
            column="outcome", fix="map CRM close reasons to won/lost/open when loading",
        )
    closed = _datetimes(records["closed_at"], "records['closed_at']")[pos]

    converted = ~np.isnat(to_at) & (to_at <= as_of64)
    closed_known = ~np.isnat(closed) & (closed <= as_of64)
    is_lost = outcome.eq("lost").to_numpy(dtype=bool)
    is_won = outcome.eq("won").to_numpy(dtype=bool)
    undated = ~converted & (is_lost | (is_won & np.isnat(to_at))) & np.isnat(closed)
    if undated.any():
        raise DataError(
            f"{int(undated.sum())} won/lost record(s) have no `closed_at`, so the end of their "
            f"spell is unknown: {_some(ids[undated])}",
            column="closed_at",
            fix="give closed records a close date (or quarantine them when loading)",
        )
    lost = ~converted & is_lost & closed_known
    won_fallback = ~converted & is_won & np.isnat(to_at) & closed_known

    end = np.where(converted, to_at, np.where(lost | won_fallback, closed, as_of64))
    duration = (end - start) / np.timedelta64(1, "D")
    negative = duration < 0
    duration[negative] = 0.0

    event_codes = np.select([converted | won_fallback, lost], [0, 1], 2)
    issue_codes = np.select(
        [converted & negative, (lost | won_fallback) & negative, won_fallback],
        [0, 1, 2], -1,
    )
    out = pd.DataFrame({
        "record_id": ids.array,
        "start": start,
        "duration_days": duration,
        "event": pd.Categorical.from_codes(event_codes, categories=list(EVENTS)),
        "data_issue": pd.Categorical.from_codes(issue_codes, categories=list(_DATA_ISSUES)),
    })
    carry = [c for c in records.columns if c not in _BOOKKEEPING]
    clash = [c for c in carry if c in out.columns]
    if clash:
        raise DataError(
            f"`records` has column(s) {clash} whose names the output already uses",
            fix="rename those segment columns before calling transition_durations",
        )
    if carry:
        carried = records[carry].iloc[pos].reset_index(drop=True)
        out = pd.concat([out, carried], axis=1)
    return out


