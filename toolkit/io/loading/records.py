"""Ordering and de-duplicating a shape's rows per record: the runs of a record's rows, the
sort keys, repeated rows and the last value of an attribute per record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.phases import PhaseModel
from toolkit.io.loading.order import NOT_ENTERED
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.rows import quotable_headers
from toolkit.io.loading.settings import ReadingSettings


@dataclass(frozen=True)
class Runs:
    """Rows sorted by record: each row's record (0, 1, ... in that order) and the row where each
    record's rows start. Per-record values are then taken and reduced by position: grouping,
    joining and mapping by the string ids cost seconds on a million records."""

    of_row: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray) -> Runs:
        """The runs of equal `codes` (a record's code on each row, rows sorted by record)."""
        new = np.ones(len(codes), dtype=bool)
        new[1:] = codes[1:] != codes[:-1]
        return cls(np.cumsum(new) - 1, np.flatnonzero(new))

    def rows(self, run: int) -> slice:
        stop = self.starts[run + 1] if run + 1 < len(self.starts) else len(self.of_row)
        return slice(int(self.starts[run]), int(stop))

    def least(self, stamps: pd.Series) -> np.ndarray:
        """Each record's earliest time, missing times skipped (NaT when it has none)."""
        values = stamps.to_numpy()  # datetime64 in the column's own unit
        if not len(self.starts):
            return values[:0]
        ints = np.where(np.isnat(values), NOT_ENTERED, values.view(np.int64))
        least = np.minimum.reduceat(ints, self.starts)
        return np.where(least == NOT_ENTERED, np.iinfo(np.int64).min, least).view(values.dtype)


def record_order(frame: pd.DataFrame) -> np.ndarray:
    """The positions that sort `frame` by record (`_record_code`, ranked as the ids sort), time
    (`_at`) and file row, as `sort_values(..., kind="stable")` on the ids would, by integer codes
    (two stable argsorts: a history is mostly in time order already)."""
    rows = frame["source_row"].to_numpy()
    order = (np.arange(len(frame)) if (rows[1:] > rows[:-1]).all()
             else np.argsort(rows, kind="stable"))
    at = frame["_at"].to_numpy(dtype="datetime64[ns]")
    at = np.where(np.isnat(at), NOT_ENTERED, at.view(np.int64))  # missing last, as pandas does
    order = order[np.argsort(at[order], kind="stable")]
    codes = frame["_record_code"].to_numpy()
    codes = np.where(codes < 0, np.iinfo(np.int64).max, codes)
    return order[np.argsort(codes[order], kind="stable")]


def phase_index(targets: pd.Series, model: PhaseModel) -> pd.Series:
    """Each value's position among the phases (float; NaN for lost, a missing or another value),
    looked up once per distinct value."""
    codes, distinct = pd.factorize(targets)  # a missing value: code -1, which takes the last
    where = np.append(pd.Index(model.keys).get_indexer(pd.Index(distinct, dtype=object)), -1)
    where = where[codes]
    return pd.Series(np.where(where >= 0, where, np.nan), index=targets.index)


def order_by(*keys: np.ndarray) -> np.ndarray:
    """The positions that sort rows by `keys` (integer arrays, the first key first), as a stable
    `sort_values` would: one stable argsort per key, the last key first."""
    order = np.arange(len(keys[0]))
    for key in reversed(keys):
        order = order[np.argsort(key[order], kind="stable")]
    return order


def sort_key(values: pd.Series) -> np.ndarray:
    """Integers that sort as `sort_values` sorts `values`, missing values last: dates as their
    nanoseconds, text (record ids) as the rank of its distinct values (so rows are then sorted by
    integers, not by text)."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        at = values.to_numpy(dtype="datetime64[ns]")
        return np.where(np.isnat(at), NOT_ENTERED, at.view(np.int64))
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" and not (
            values.isna().any()):
        # Arrow ranks text as pandas sorts it (by code point), in a fraction of the time
        import pyarrow as pa
        import pyarrow.compute as pc
        ids = pa.array(values.array)
        return pc.rank(ids, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(
            np.int64) - 1
    codes = pd.factorize(values, sort=True)[0]
    return np.where(codes < 0, np.iinfo(np.int64).max, codes)


def repeats(frame: pd.DataFrame, same: list[str], order: np.ndarray
             ) -> tuple[pd.Series, pd.Series]:
    """`frame.duplicated(same)`, and for each repeat the `source_row` of the first row it repeats.
    `same` holds the record and its time, so a repeat and its first row are neighbours in `order`
    (see `record_order`): only the rows that share a record and a time with a neighbour are
    compared (hashing every row's values took a second on a million records)."""
    codes = frame["_record_code"].to_numpy()[order]
    at = frame["_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)[order]
    tie = (codes[1:] == codes[:-1]) & (at[1:] == at[:-1])
    near = np.zeros(len(frame), dtype=bool)
    near[1:] |= tie
    near[:-1] |= tie
    positions = np.sort(order[near])
    some = frame.iloc[positions]
    repeat = some.duplicated(same, keep="first")
    dup = np.zeros(len(frame), dtype=bool)
    dup[positions[repeat.to_numpy()]] = True
    return (pd.Series(dup, index=frame.index),
            first_row_of(some, same, some.index[repeat.to_numpy()]))


def whole_rows(headers: pd.Index, raw: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every column of the file (`headers`) back, for its rows and in its order: the
    file's columns first, then those `frame` added. The columns of `raw` (those still read) are
    taken, each dropped from `raw` once taken so the file is not held twice; the others come back
    blank, so that a message listing the file's columns still lists them all."""
    import pyarrow as pa
    rows = (frame.index.to_numpy() if raw.index.equals(pd.RangeIndex(len(raw)))
            else raw.index.get_indexer(frame.index))
    columns = {}
    for name in headers:
        if name in frame.columns:
            columns[name] = frame[name].array
        elif name in raw.columns:
            columns[name] = raw.pop(name).array.take(rows)
        else:
            columns[name] = pd.array(pa.nulls(len(rows), pa.large_string()), dtype="str")
    for name in frame.columns:
        columns.setdefault(name, frame[name].array)
    return pd.DataFrame(columns, index=frame.index, copy=False)


def kept_headers(headers: pd.Index, frame: pd.DataFrame) -> pd.Index:
    """The columns the whole `frame` would have: the file's, then those added to it."""
    return pd.Index(list(headers) + [c for c in frame.columns if c not in headers])


def note_conflicts(frame: pd.DataFrame, cols: list[str], runs: Runs, *, file: str,
                    notes: list[str]) -> None:
    """A history repeats a record's attributes on each row; where they change, the latest is
    kept (a reassigned owner), and the notes say how many records that concerns. A record has two
    values where two of its consecutive non-blank values differ (rows sorted by record)."""
    for col in cols:
        values = frame[col]
        codes = pd.factorize(values)[0]
        present = np.flatnonzero(codes >= 0)
        record, code = runs.of_row[present], codes[present]
        several = np.unique(record[1:][(record[1:] == record[:-1]) & (code[1:] != code[:-1])])
        if len(several):
            rows = runs.rows(several[0])
            rid = frame["_record_id"].iloc[rows.start]
            seen = values.iloc[rows].dropna().unique()
            notes.append(f"{Path(file).name}: {len(several)} record(s) have more than one value of "
                         f"`{col}` (e.g. {rid!r}: {', '.join(map(repr, seen))}); the latest is used")


def last_value_per_record(frame: pd.DataFrame, cols: list[str], runs: Runs
                           ) -> dict[str, Any]:
    """The last non-blank value of each column per record (CRMs repeat attributes on each row),
    as `groupby().last()` would give it: one value per run, missing where a record has none."""
    out = {}
    for col in cols:
        values = frame[col]
        present = np.flatnonzero(values.notna().to_numpy())
        record = runs.of_row[present]
        last = np.full(len(runs.starts), -1, dtype=np.int64)
        ends = np.flatnonzero(np.append(record[1:] != record[:-1], len(record) > 0))
        last[record[ends]] = present[ends]
        out[col] = values.array.take(last, allow_fill=True)
    return out


def first_row_of(frame: pd.DataFrame, same: list[str], rows: pd.Index) -> pd.Series:
    """For each of `rows` (repeats), the `source_row` of the first row with the same values of
    `same`; grouped among the repeated rows only, not the whole file."""
    repeated = frame[frame.duplicated(same, keep=False)]
    return repeated.groupby(same)["source_row"].transform("first")[rows]


def dedupe_records(frame: pd.DataFrame, q: Quarantine, settings: ReadingSettings,
                   personal: list[str], cells_of: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per record files: a repeated record id is set aside, the first row is kept.

    When the repeated row disagrees with the first (another region, another amount) the reason
    names the columns and both values, so the analyst can tell which row is right. Values are
    quoted only for the columns the YAML maps and does not call personal; for a personal column
    (and the owner) or a column the YAML does not mention (it may hold an e-mail address) the
    reason names the column only: a reason is never personal data. `cells_of`: the rows as
    read, when `frame` carries only some of their columns (the same index).
    """
    shown = quotable_headers(settings, personal)
    # The ids hashed once; repeats and their first rows found by the integer codes.
    codes = pd.factorize(frame["_record_id"])[0]  # numbered in order of first appearance
    if (codes < 0).any():  # (no caller passes a missing id)
        raise ValueError("a record id is missing")
    first_at, count = np.unique(codes, return_index=True, return_counts=True)[1:]
    dup_at = np.ones(len(codes), dtype=bool)
    dup_at[first_at] = False
    dup = pd.Series(dup_at, index=frame.index)
    first = pd.Series(frame["source_row"].to_numpy()[first_at[codes[dup_at]]],
                      index=frame.index[dup_at])
    reason = "duplicate record id (first at row " + first.astype(str) + ")"
    if dup.any():
        whole = frame if cells_of is None else cells_of
        cells = [c for c in whole.columns if c != "source_row" and not c.startswith("_")]
        repeated = whole.loc[frame.index[count[codes] > 1]]  # the rows compared
        by_row = repeated.set_index("source_row")[cells].astype("string")
        for idx in frame.index[dup]:
            mine, theirs = by_row.loc[frame.at[idx, "source_row"]], by_row.loc[first[idx]]
            differ = [(f"{c} {theirs[c]!r} vs {mine[c]!r}" if c.casefold() in shown
                       else f"{c} (values not shown)") for c in cells
                      if not (pd.isna(mine[c]) and pd.isna(theirs[c]))
                      and (pd.isna(mine[c]) or pd.isna(theirs[c]) or mine[c] != theirs[c])]
            if differ:
                reason[idx] += " and it differs from that row: " + "; ".join(differ)
    return q.add(frame, dup, lambda hit: reason[hit.index], code="duplicate_record")
