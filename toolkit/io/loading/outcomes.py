"""Stages and outcomes: source stages mapped to phases, the outcome (won, lost, open) of a
record and the phase it was lost at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError, UnknownStageError
from toolkit.base.phases import IGNORE, LOST, PhaseModel, normalise_stage
from toolkit.io.loading.headers import find_column
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.rows import as_text
from toolkit.io.loading.settings import ReadingSettings, SourceSettings
from toolkit.io.parsing import parse_flags


def map_stages(frame: pd.DataFrame, stage_col: str, model: PhaseModel, *, unknown: str,
                quarantine: Quarantine, file: str, engagement: str,
                blank_ok: bool = False) -> pd.DataFrame:
    """Attach `_target` (phase key / 'lost'); set aside blank, unknown and ignored stages.

    `blank_ok`: a blank stage is kept (target NA) because another column (a status) says enough.
    """
    stage = as_text(frame[stage_col])
    frame = frame.assign(_stage=stage)
    if not blank_ok:
        frame = quarantine.add(frame, stage.isna(), f"missing stage in column {stage_col!r}",
                               code="missing_stage", column=stage_col)
    target = per_distinct(frame["_stage"], model.map_stages)
    unknown_mask = target.isna() & frame["_stage"].notna()
    if unknown_mask.any():
        if unknown == "error":
            raise UnknownStageError(file, stage_col, stage_counts(frame.loc[unknown_mask, "_stage"]),
                                    engagement=engagement)
        frame = quarantine.add(frame, unknown_mask,
                               lambda hit: "unknown stage " + hit["_stage"].map(repr)
                               + " (not in stage_mapping)",
                               code="unknown_stage", column=stage_col, values=frame["_stage"])
        target = target[~unknown_mask]
    frame = frame.assign(_target=target)
    return quarantine.add(frame, frame["_target"] == IGNORE,
                          lambda hit: "stage " + hit["_stage"].map(repr) + " is declared `ignore`",
                          code="ignored_stage", column=stage_col, values=frame["_stage"])


def per_distinct(values: pd.Series, function: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`function(values)` (a value-by-value mapping) computed once per distinct value and spread
    back over the rows, aligned with `values` (a stage column holds a few dozen distinct values
    on millions of rows)."""
    codes, distinct = pd.factorize(values)
    missing = codes < 0
    if missing.any():
        if not isinstance(values.dtype, pd.StringDtype):
            # missing values of several kinds (None, NaN): map every row as the function would
            return pd.Series(function(values).array, index=values.index)
        # text: every missing value is the same NA; it is mapped once too, as the last value
        # (the code -1 takes the last)
        distinct = pd.concat([pd.Series(distinct, dtype=values.dtype),
                              values[missing].iloc[:1]], ignore_index=True)
    mapped = function(pd.Series(distinct, dtype=values.dtype))
    return pd.Series(mapped.array.take(codes), index=values.index)


def stage_counts(stages: pd.Series) -> dict[str, int]:
    """Rows per unknown stage, spellings that differ only in case or spaces counted together under
    the most common one (the mapping ignores those differences too)."""
    spelled = stages.map(lambda s: " ".join(str(s).split()))
    counts = spelled.groupby(spelled.map(normalise_stage)).agg(
        rows="size", name=lambda v: v.value_counts().index[0])
    return dict(zip(counts["name"], counts["rows"].astype(int), strict=True))


def resolve_outcomes(log: pd.DataFrame, model: PhaseModel, codes: np.ndarray | None = None
                      ) -> tuple[pd.DataFrame, pd.Series]:
    """From a time-ordered stage log, each record's final state and which won rows it reverses.

    The final state is the last row's: a lost row -> lost, a row at the won phase -> won, anything
    else -> open (a deal re-opened after lost is open again). A won row is kept only when the
    record's final state is won: 'Closed Won' followed by 'Closed Lost' is a reversed order, not an
    order (Salesforce shows this pattern).
    """
    won_phase = model.won_phase
    # Each record's last row, found by integer code (grouping and mapping back by the string ids
    # cost seconds on a million records); the rows in the log's order, as groupby().tail(1).
    if codes is None:
        codes = pd.factorize(log["record_id"])[0]
    n = int(codes.max()) + 1 if len(codes) else 0
    last_row = np.full(n, -1)
    np.maximum.at(last_row, codes[codes >= 0], np.flatnonzero(codes >= 0))
    last_row = np.sort(last_row)
    last = log.iloc[last_row].set_index("record_id")
    outcome = np.where(last["target"] == LOST, "lost",
                       np.where(last["target"] == won_phase, "won", "open"))
    closed = last["at"].astype("datetime64[ns]").where(outcome != "open")
    state = pd.DataFrame({"outcome": outcome, "closed_at": closed}, index=last.index)
    won_by_code = np.zeros(n, dtype=bool)
    won_by_code[codes[last_row]] = outcome == "won"
    final_won = np.where(codes >= 0, won_by_code[codes], False)
    reversed_won = (log["target"] == won_phase) & ~final_won
    return state, reversed_won


def is_in(values: pd.Series, among: pd.Index | pd.Series) -> np.ndarray:
    """`values.isin(among)` for record ids: hashed in Arrow (pandas' isin on Arrow strings goes
    through Python value by value, seconds on a million records)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not isinstance(values.dtype, pd.StringDtype):
        return values.isin(among).to_numpy(dtype=bool)
    found = pc.is_in(pa.array(values.array), value_set=pa.array(pd.Series(among).astype(
        values.dtype).array), skip_nulls=False)
    return found.to_numpy(zero_copy_only=False)


def positions(values: pd.Series, among: pd.Index | pd.Series) -> np.ndarray:
    """For each of `values`, the position of the equal value in `among` (unique), -1 where none:
    hashed in Arrow for record ids (pandas maps strings through Python objects, seconds on a
    million records)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not isinstance(values.dtype, pd.StringDtype):
        return pd.Index(among).get_indexer(values)
    found = pc.index_in(pa.array(values.array), value_set=pa.array(pd.Series(among).astype(
        values.dtype).array), skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def lost_at_codes(events: pd.DataFrame, records: pd.DataFrame,
                   owners: np.ndarray | None = None) -> np.ndarray:
    """Per record (a row of `records`, indexed by record id), the phase code of the highest phase
    it reached before its final loss; -1 for a record not lost or without such a phase (events
    are already only kept phase rows)."""
    out = np.full(len(records), -1, dtype=np.int64)
    lost = (records["outcome"] == "lost").to_numpy(dtype=bool)
    if not lost.any() or events.empty:
        return out
    at = positions(events["record_id"], records.index) if owners is None else owners
    rows = np.flatnonzero(at >= 0)
    rows = rows[lost[at[rows]]]
    owner = at[rows]
    # Without a close date (a lead list without dates, a lost deal whose close date is blank)
    # every phase the record reached came before its loss.
    closed = pd.Series(records["closed_at"].array.take(owner))
    entered = pd.Series(events["entered_at"].array.take(rows))
    before = ((entered <= closed) | closed.isna()).to_numpy(dtype=bool)
    np.maximum.at(out, owner[before],
                  events["phase"].cat.codes.to_numpy(dtype=np.int64)[rows[before]])
    return out


def flag_outcomes(frame: pd.DataFrame, settings: ReadingSettings, model: PhaseModel, q: Quarantine, *,
                   file: str, key: str, won_alone: bool = False, notes: list[str] | None = None,
                   headers: pd.Index | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """The outcome a `status` column or the `is_won` / `is_closed` flags state ('won', 'lost',
    'open'), or None when the source has neither. These win over a stage name (DESIGN.md): a
    HubSpot 'Contract Signed' deal with `Is Closed Won = false` is not an order.

    A status is read case-insensitively as won / lost / open, or through `stage_mapping` (a status
    'Closed Won' maps to the won phase); any other value quarantines its row with the value.
    With `won_alone` (a snapshot) an `is_won` flag without `is_closed` is a converted flag: the
    records it does not flag are lost (noted), as nothing in the file says they are still open.
    """
    cols = settings.columns
    among = frame if headers is None else headers  # where a column is looked up
    if "status" in cols:
        col = find_column(among, cols["status"], role="status", file=file, key=key)
        text = as_text(frame[col])
        folded = text.str.casefold()
        mapped = per_distinct(text, model.map_stages)
        outcome = pd.Series(np.select(
            [folded.isin(["won", "lost", "open"]).fillna(False).to_numpy(),
             (mapped == model.won_phase).to_numpy(), (mapped == LOST).to_numpy(),
             mapped.isin(model.keys).to_numpy()],
            [folded.to_numpy(dtype=object), "won", "lost", "open"], default=""), index=frame.index)
        bad = outcome == ""
        frame = q.add(frame, bad, lambda hit: "status " + text[hit.index].astype(str).map(repr)
                      + " is not won, lost or open (nor a stage in stage_mapping)",
                      code="unknown_status", column=col, values=text)
        return frame, outcome[frame.index]
    if "is_won" in cols and ("is_closed" in cols or won_alone):
        won = parse_flags(frame[find_column(among, cols["is_won"], role="is_won", file=file,
                                             key=key)], true_values=settings.true_values)
        won = won.fillna(False).astype(bool)
        if "is_closed" not in cols:
            # A converted flag alone (a lead-scoring list): not converted is lost, since nothing
            # in the file tells a lead still worked from one given up. Said in the notes.
            if notes is not None and (~won).any():
                notes.append(f"{Path(file).name}: {int((~won).sum())} record(s) not flagged won "
                             f"in {cols['is_won']!r} count as lost (not converted); the file has "
                             f"no closed flag to tell leads still open from lost ones (add "
                             f"`is_closed` or `status` if it has one)")
            return frame, pd.Series(np.where(won, "won", "lost"), index=frame.index)
        closed = parse_flags(frame[find_column(among, cols["is_closed"], role="is_closed",
                                                file=file, key=key)],
                             true_values=settings.true_values)
        closed = closed.fillna(False).astype(bool)
        return frame, pd.Series(np.where(won, "won", np.where(closed, "lost", "open")),
                                index=frame.index)
    if "is_active" in cols and "_target" in frame.columns:
        # An archive flag (Odoo's `Active`): a record in a won stage is won, archived or not; an
        # archived one elsewhere is lost (at the stage it keeps); an active one is open.
        active = parse_flags(frame[find_column(among, cols["is_active"], role="is_active",
                                               file=file, key=key)],
                             true_values=settings.true_values)
        won = (frame["_target"].astype("object") == model.won_phase).to_numpy()
        archived = (active == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712 (NA-aware)
        return frame, pd.Series(np.where(won, "won", np.where(archived, "lost", "open")),
                                index=frame.index)
    return frame, None


def entry_phase(settings: SourceSettings, model: PhaseModel, *, file: str, key: str) -> str:
    """The phase a record's creation date dates: the first phase, unless the source says its
    creation date is a later milestone (`created_phase`, e.g. an engage date)."""
    entry = settings.created_phase or model.first_phase
    if entry not in model.keys or entry == model.won_phase:
        raise DataError(f"`created_phase` {entry!r} is not a phase before the last one",
                        file=file, value=entry,
                        fix=f"set `{key.rsplit('.', 1)[0]}.created_phase` to one of "
                            f"{model.keys[:-1]}")
    return entry
