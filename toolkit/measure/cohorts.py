"""The one cohort engine: who reached a phase, whose window has closed, who converted within it.

A record reached phase `a` at `t_a` (its first entry into `a` or any later phase). It is *mature*
for the transition a -> b when its window has closed, `t_a <= as_of - W`; it *converted* when it
reached `b` within the window, `t_b - t_a <= W`. Immature records are left out, never counted as
failures; lost and still-open mature records count as not converted. `cohort_masks` is that rule,
used by `toolkit.measure.funnel.cohort_conversion` (tables) and by `Cohorts` (the arrays the
diagnosis scans).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, NoteWarning, OptionError
from toolkit.base.vocabulary import MISSING, PERIOD_FREQ, check_option
from toolkit.io.engagement import BASE_RECORD_COLUMNS, Engagement

__all__ = ["reached_at", "reached_phases", "NAT", "NS_DAY", "cohort_masks", "check_window_days",
           "Cohorts", "positions", "period_codes_of"]

NAT = np.iinfo(np.int64).min          # NaT as int64 nanoseconds
NS_DAY = 86_400 * 10**9


def period_codes_of(ns: np.ndarray, period: str) -> tuple[np.ndarray, pd.PeriodIndex]:
    """Sorted integer codes of the periods of int64-nanosecond times, and those periods.

    ``pd.factorize(times.to_period(freq), sort=True)`` at the period's pandas frequency, with each
    distinct calendar day turned into its period once (a period holds whole days), not each time.

    Parameters
    ----------
    ns : ndarray of int64
        Times as nanoseconds (``NAT`` for none).
    period : str
        The granularity: ``month``, ``quarter``, ``year`` or ``week``.

    Returns
    -------
    codes : ndarray of int
        Each time's period code (-1 for ``NAT``).
    periods : PeriodIndex
        The periods the codes number, sorted.
    """
    freq = PERIOD_FREQ[check_option("period", period, [p for p, f in PERIOD_FREQ.items() if f])]
    assert freq is not None  # the option check left only periods with a frequency
    has = ns != NAT
    day_codes, days = pd.factorize(np.floor_divide(ns[has], NS_DAY))
    periods = pd.DatetimeIndex((days.astype(np.int64) * NS_DAY).view("datetime64[ns]")
                               ).to_period(freq)
    per_day, uniques = pd.factorize(periods, sort=True)
    codes = np.full(len(ns), -1, dtype=np.int64)
    codes[has] = per_day[day_codes]
    return codes, uniques


def _flat(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array of large strings, so two can be compared whatever their chunks."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text.cast(pa.large_string())


def positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Each value's position in the unique `ids` (-1: not there).

    ``ids.get_indexer(values)``, by one Arrow hash lookup when both hold text (three times
    faster on millions of rows).

    Parameters
    ----------
    ids : Index
        Unique ids.
    values : Series
        The values to look up.

    Returns
    -------
    ndarray of int
        One position per value, -1 where `ids` does not hold it.
    """
    if not (isinstance(ids.dtype, pd.StringDtype) and isinstance(values.dtype, pd.StringDtype)
            and ids.is_unique):
        return ids.get_indexer(values)
    text = pa.array(values.astype("string"))
    if len(text) < 2:
        found = pc.index_in(text, value_set=pa.array(ids.astype("string")))
        return found.fill_null(-1).to_numpy().astype(np.intp)
    # A record's rows usually stand together (a stage history): look each run up once.
    starts = np.flatnonzero(np.append(True, pc.not_equal(text[1:], text[:-1]).fill_null(True)
                                      .to_numpy(zero_copy_only=False)))
    runs, known = (_flat(text.take(pa.array(starts))), _flat(pa.array(ids.astype("string"))))
    if len(runs) == len(known) and runs.equals(known):  # the rows in the ids' order: no lookup
        at = np.arange(len(known), dtype=np.intp)
    else:
        at = pc.index_in(runs, value_set=known).fill_null(-1).to_numpy().astype(np.intp)
    return np.repeat(at, np.diff(np.append(starts, len(text))))


def _event_positions(engagement: Engagement, events: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """The record ids in `reached_at` order (records first, then ids with events but no record
    row) and each event's row position among them."""
    ids = pd.Index(engagement.records["record_id"], name="record_id")
    # Positions by hash lookup in Arrow: string matching dominates at a million records.
    pos = pc.index_in(pa.array(events["record_id"].astype("string")),
                      value_set=pa.array(ids.astype("string"))).to_numpy(zero_copy_only=False)
    extra_mask = np.isnan(pos) if pos.dtype.kind == "f" else np.zeros(len(pos), bool)
    if extra_mask.any():
        extra = pd.Index(events["record_id"][extra_mask].unique(), name="record_id")
        ids = ids.append(extra)
        pos = pc.index_in(pa.array(events["record_id"].astype("string")),
                          value_set=pa.array(ids.astype("string"))).to_numpy(
            zero_copy_only=False)
    return ids, pos.astype("int64")


@shared_docs
def reached_phases(engagement: Engagement) -> pd.DataFrame:
    """Whether each record reached each phase (True/False), dates or not.

    A record reached phase k if it has an event at k or any later phase: ``reached_at(...)
    .notna()`` where there are dates, and all a lead list without dates can say.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    DataFrame
        Index ``record_id``, one bool column per phase key, rows in the order of `reached_at`.
    """
    if engagement.dated:
        return reached_at(engagement).notna()
    cached = engagement.derived.get("reached_phases")
    if cached is not None:
        return cached
    keys = engagement.phase_model.keys
    events = engagement.events
    ids, pos = _event_positions(engagement, events)
    phase = events["phase"].cat.codes.to_numpy().astype("int64")
    highest = np.full(len(ids), -1, dtype="int64")
    valid = phase >= 0
    np.maximum.at(highest, pos[valid], phase[valid])
    out = pd.DataFrame(highest[:, None] >= np.arange(len(keys))[None, :], index=ids, columns=keys)
    engagement.derived["reached_phases"] = out
    return out


@shared_docs
def reached_at(engagement: Engagement, *, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """When each record reached each phase.

    Computed once per engagement and cached (the result is shared: do not modify it).

    Parameters
    ----------
    {shared.engagement}
    events : DataFrame, optional
        Events to use instead of ``engagement.events`` (not cached).

    Returns
    -------
    DataFrame
        Index ``record_id``, one datetime column per phase key. Rows are in the order of
        ``engagement.records`` (every record, NaT everywhere for records that reached no
        phase), followed by any record that has events but no record row.

    Raises
    ------
    NeedsDates
        A lead list without dates has no such dates (`reached_phases` says which phases were
        reached).
    """
    cached = engagement.derived.get("reached_at") if events is None else None
    if cached is not None:
        return cached
    engagement.require_dates("When each record reached each phase")
    model = engagement.phase_model
    events = engagement.events if events is None else events
    keys = model.keys
    ids, pos = _event_positions(engagement, events)
    phase = events["phase"].cat.codes.to_numpy().astype("int64")
    when = events["entered_at"].to_numpy(dtype="datetime64[ns]").view("int64")
    big = np.iinfo("int64").max
    matrix = np.full((len(ids), len(keys)), big, dtype="int64")
    valid = (phase >= 0) & (when != np.iinfo("int64").min)
    np.minimum.at(matrix, (pos[valid], phase[valid]), when[valid])
    # reached_at[k] = min over phases >= k: a reverse cumulative minimum across the columns.
    matrix = np.minimum.accumulate(matrix[:, ::-1], axis=1)[:, ::-1]
    matrix[matrix == big] = np.iinfo("int64").min
    out = pd.DataFrame(matrix.view("datetime64[ns]"), index=ids, columns=keys)
    if events is engagement.events:
        engagement.derived["reached_at"] = out
    return out


def check_window_days(value: object) -> int:
    """A cohort window is a whole number of days >= 0.

    Parameters
    ----------
    value : object
        The window as passed.

    Returns
    -------
    int
        The window in days.

    Raises
    ------
    OptionError
        `value` is no whole number >= 0.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise OptionError(f"The value for `window_days` must be a whole number >= 0, but "
                           f"{value!r} was passed.")
    return int(value)


def undated_phases(engagement: Engagement, reached: pd.DataFrame | None = None) -> set[str]:
    """The phases a source gives no entry date for: a snapshot dates every phase after its entry
    phase at creation (DESIGN.md, snapshot). A step from one of them has no window (the date it
    would run from is not in the data): it counts who reached the next phase, whenever."""
    if getattr(engagement, "timing_known", True) or not getattr(engagement, "dated", True):
        return set()
    reached = reached_at(engagement) if reached is None else reached
    has = reached.notna().any().to_numpy()
    entry = int(np.argmax(has)) if has.any() else 0
    return set(reached.columns[entry + 1:])


def cohort_masks(start: np.ndarray, end: np.ndarray, *, as_of: pd.Timestamp, window_days: int,
                 windowed: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(has, mature, converted) of a transition from int64-nanosecond entry times (NAT: never).

    Parameters
    ----------
    start, end : ndarray of int64
        Per record the time it reached the from-phase and the to-phase.
    as_of : Timestamp
        The measurement date.
    window_days : int
        The cohort window.
    windowed : bool, default True
        False when the from-phase's date is not in the data: converted is then "reached the
        to-phase at all".

    Returns
    -------
    has : ndarray of bool
        Reached the from-phase.
    mature : ndarray of bool
        Its window closed by `as_of`.
    converted : ndarray of bool
        Mature and reached the to-phase within `window_days` of the from-phase (or, not
        `windowed`, reached it at all).
    """
    has = start != NAT
    window = np.int64(window_days) * NS_DAY
    mature = has & (start <= pd.Timestamp(as_of).value - window)
    if not windowed:
        return has, mature, mature & (end != NAT)
    gap = np.where(end != NAT, end - np.where(has, start, 0), np.iinfo(np.int64).max)
    converted = mature & (gap <= window)
    return has, mature, converted


class Cohorts:
    """reached_at as an int64 matrix aligned with `records`, plus cached cohort masks.

    Array-based so that a scan over many attributes and transitions stays fast on a million
    records; the window and maturity rule is `cohort_masks`, the one `cohort_conversion` uses.
    """

    def __init__(self, engagement: Engagement, window_days: int | None) -> None:
        self.engagement = engagement
        self.model = engagement.phase_model
        self.keys: list[str] = list(self.model.keys)
        window = engagement.config.cohort_window_days if window_days is None else window_days
        self.window = check_window_days(window)
        # A lead list without dates (`dated: false`) knows who reached which phase, not when:
        # every record counts as mature and converted means reached (no window). The views that
        # need times (periods, entries per day, stall times) raise `NeedsDates`.
        self.dated = getattr(engagement, "dated", True)
        self.as_of = pd.Timestamp(engagement.as_of) if self.dated else None
        if self.dated and not getattr(engagement, "timing_known", True):
            warnings.warn(NoteWarning(
                "A source of this engagement is a snapshot, so the dates on which records entered "
                "each phase are not in the data; cohort windows, periods and stall times rest on "
                "creation and close dates only. Treat the diagnosis as indicative, or load a "
                "stage history.", "snapshot_timing"), stacklevel=3)
        records = engagement.records.reset_index(drop=True)
        derived = getattr(engagement, "derived", {})  # checked once per loaded engagement
        if not derived.get("record_ids_unique") and records["record_id"].duplicated().any():
            dup = records["record_id"][records["record_id"].duplicated()].iloc[0]
            raise DataError("`records` has repeated record ids", column="record_id", value=dup,
                            fix="keep one row per record")
        derived["record_ids_unique"] = True
        self.records = records
        self._cohorts: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._attributes: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._states: dict[tuple[int, int], np.ndarray] = {}
        self._totals: dict[tuple[int, int], tuple[int, int]] = {}
        # what an analysis derives from these records once and asks for again (e.g. which
        # attributes leak the outcome: the sizing and the scan both ask)
        self.memo: dict[str, object] = {}
        if not self.dated:
            self.flags = reached_phases(engagement).reindex(
                pd.Index(records["record_id"])).fillna(False).to_numpy(dtype=bool)
            return
        wide = reached_at(engagement).reindex(pd.Index(records["record_id"]))
        self.reached = wide.to_numpy(dtype="datetime64[ns]").view(np.int64)
        self.flags = self.reached != NAT
        undated = undated_phases(engagement, wide)
        self.windowed = [k not in undated for k in self.keys]
        first = self.reached[:, 0]
        as_of = pd.Timestamp(engagement.as_of)  # a dated engagement's, as self.as_of
        start = first[first != NAT].min() if (first != NAT).any() else as_of.value
        self.span_days = max((as_of.value - int(start)) / NS_DAY, 1.0)

    @property
    def transitions(self) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(self.keys) - 1)]

    def index(self, phase: str) -> int:
        return self.keys.index(check_option("phase", phase, self.keys))

    def cohort(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(has, mature, converted) masks of transition i -> j."""
        key = (i, j)
        if key not in self._cohorts and not self.dated:  # reached i, and reached j, whenever
            has = self.flags[:, i]
            self._cohorts[key] = (has, has, has & self.flags[:, j])
        if key not in self._cohorts:
            self._cohorts[key] = cohort_masks(self.reached[:, i], self.reached[:, j],
                                              as_of=self.as_of, window_days=self.window,
                                              windowed=self.windowed[i])
        return self._cohorts[key]

    def counts(self, i: int, j: int, codes: np.ndarray | None = None, size: int = 1,
               within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mature n and converted successes per group code (codes < 0 are left out)."""
        if codes is None and within is None:
            if (i, j) not in self._totals:
                _, mature, converted = self.cohort(i, j)
                self._totals[(i, j)] = (mature.sum(), converted.sum())
            n, x = self._totals[(i, j)]
            return np.array([n]), np.array([x])
        state = self._state(i, j)
        if within is not None:  # only the records within: usually a small part
            rows = np.flatnonzero(np.asarray(within, dtype=bool))
            state = state[rows]
            codes = None if codes is None else np.asarray(codes)[rows]
        if codes is None:
            counted = np.bincount(state, minlength=3)
            return np.array([counted[1] + counted[2]]), np.array([counted[2]])
        # One pass: bin (code, state) pairs; state 1 = mature, not converted, 2 = converted.
        codes = codes.astype(np.int64, copy=False)
        if len(codes) and codes.min() < 0:  # codes < 0 are left out
            ok = codes >= 0
            codes, state = codes[ok], state[ok]
        counted = np.bincount(codes * 3 + state, minlength=3 * size)[:3 * size].reshape(size, 3)
        return counted[:, 1] + counted[:, 2], counted[:, 2].copy()

    def _state(self, i: int, j: int) -> np.ndarray:
        """Per record 0 (not mature), 1 (mature, not converted) or 2 (converted) for i -> j."""
        if (i, j) not in self._states:
            _, mature, converted = self.cohort(i, j)
            self._states[(i, j)] = mature.astype(np.int64) + converted
        return self._states[(i, j)]

    def attribute(self, name: str) -> tuple[np.ndarray, list[str]]:
        """Integer codes per record and the labels; missing values are the label '(missing)'."""
        if name not in self._attributes:
            if name not in self.records.columns:
                have = [c for c in self.records.columns if c not in BASE_RECORD_COLUMNS]
                raise OptionError(f"The value for `attribute` must be one of the record "
                                   f"attributes {have}, but {name!r} was passed.")
            codes, uniques = pd.factorize(self.records[name], sort=True, use_na_sentinel=True)
            labels = [str(u) for u in uniques]
            if (codes < 0).any():
                codes = np.where(codes < 0, len(labels), codes)
                labels.append(MISSING)
            self._attributes[name] = (codes.astype(np.int64), labels)
        return self._attributes[name]

    def period_codes(self, i: int, period: str) -> tuple[np.ndarray, list[str]]:
        """Codes of the period in which each record reached phase i (-1: never reached)."""
        self.engagement.require_dates(f"Cohorts by {period}")
        codes, uniques = period_codes_of(self.reached[:, i], period)
        return codes, [str(u) for u in uniques]

    def entries_per_day(self, i: int, within: np.ndarray | None = None) -> float:
        self.engagement.require_dates("Entries per day")
        has = self.reached[:, i] != NAT
        if within is not None:
            has = has & within
        return float(has.sum()) / self.span_days

    def won_value(self) -> float:
        """Average value of won deals (the records that reached the last phase)."""
        if "value" not in self.records.columns:
            return float("nan")
        won = self.flags[:, -1]
        value = pd.to_numeric(self.records["value"], errors="coerce").to_numpy(dtype=float)[won]
        value = value[np.isfinite(value)]
        return float(value.mean()) if len(value) else float("nan")
