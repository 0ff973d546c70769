"""The records table of a shape: a separate records file attached to the events, the
flags that say won or lost, and the finished records table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.phases import PhaseModel
from toolkit.io.loading.headers import drop_absent_preset_columns, find_column
from toolkit.io.loading.outcomes import flag_outcomes, is_in, lost_at_codes
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.reading import read_table, source_path
from toolkit.io.loading.records import dedupe_records
from toolkit.io.loading.rows import as_text, common_rows
from toolkit.io.loading.settings import ReadingSettings
from toolkit.io.loading.values import (
    add_value_and_attributes,
    note_dates_left_empty,
    parse_date_column,
    read_dates,
)
from toolkit.io.privacy import PseudonymKey


def attach_records_file(records: pd.DataFrame, events: pd.DataFrame, reading: ReadingSettings,
                         *, model: PhaseModel, base_dir: Path,
                         pseudonym_key: PseudonymKey | None, name: str, personal: list[str],
                         ignored_ids: set, notes: list[str]
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, Quarantine,
                                    pd.DataFrame]:
    """Join a per-record file (e.g. Salesforce Opportunity.csv) onto the history's records.

    The file supplies the creation date, amount and segment attributes. The outcome is the
    history's final state, unless the file has won/closed flags (`is_won` + `is_closed`, or a
    `status`): those win (DESIGN.md: a status or won/closed flag wins over a stage name), as they
    are the CRM's own verdict. Where they disagree with the history the record's events follow the
    flags (see `flags_win`), the notes say how many, and the table of disagreements goes to the
    audit (`outcome_mismatch`).
    """
    path = source_path(base_dir, reading.path)
    file = str(path)
    raw = read_table(path, reading, notes=notes)
    reading = drop_absent_preset_columns(raw, reading, file=file, notes=notes)
    q = Quarantine(f"{name}.records", file)
    key = f"sources[{name}].records.columns"
    frame = common_rows(raw, reading, q, file=file, key=key)
    frame = q.add(frame, frame["_record_id"].isin(ignored_ids),
                  "all of this record's stage rows are declared `ignore`", code="ignored_record")
    frame = dedupe_records(frame, q, reading, personal)
    cols = reading.columns
    out = pd.DataFrame(index=pd.Index(frame["_record_id"].astype("string"), name="record_id"))
    if "created_at" in cols:
        frame, created = read_dates(frame, cols["created_at"], reading, q, role="created", file=file,
                                key=key, required=False)
        out = out.loc[frame["_record_id"].astype("string")]
        out["created_at"] = created.to_numpy()
    add_value_and_attributes(out, frame, reading, file=file, key=key,
                              attr_key=f"sources[{name}].records", personal=personal,
                              pseudonym_key=pseudonym_key, notes=notes)
    file_outcome = None
    if "status" in cols or ("is_closed" in cols and "is_won" in cols):
        frame, flagged = flag_outcomes(frame, reading, model, q, file=file, key=key)
        out = out.loc[frame["_record_id"].astype("string")]  # a bad status is quarantined
        if flagged is not None:  # always: a status or both flags state the outcome
            file_outcome = pd.Series(flagged.to_numpy(), index=out.index)
    file_closed = None
    if "closed_at" in cols:
        frame, closed_at = read_dates(frame, cols["closed_at"], reading, q, role="closed", file=file,
                                  key=key, required=False)
        out = out.loc[frame["_record_id"].astype("string")]
        file_closed = pd.Series(closed_at.to_numpy(), index=out.index)
        file_outcome = file_outcome.loc[out.index] if file_outcome is not None else None
    merged = records.copy()
    for col in out.columns:  # the per-record file is the CRM's current truth where it has a value
        mine = out[col].reindex(merged.index)
        merged[col] = mine.combine_first(merged[col]) if col in merged.columns else mine
    if "currency" in cols and "value" in merged.columns:
        # A deal the file puts in another currency keeps no amount from its history either.
        codes = as_text(frame[find_column(frame, cols["currency"], role="currency", file=file,
                                         key=key)]).str.upper()
        other = pd.Series((codes.notna() & (codes != (reading.engagement.currency or "EUR").upper())
                           ).to_numpy(), index=out.index)
        merged.loc[merged.index.isin(other.index[other]), "value"] = np.nan
    only_in_file = out.index.difference(merged.index)
    if len(only_in_file):
        extra = out.loc[only_in_file].copy()
        extra["outcome"] = file_outcome.loc[only_in_file] if file_outcome is not None else "open"
        extra["closed_at"] = pd.NaT
        merged = pd.concat([merged, extra])
        notes.append(f"{path.name}: {len(only_in_file)} records have no stage history; "
                     f"they count as created but reached no phase")
    mismatches = None
    if file_outcome is not None:
        common = merged.index.intersection(file_outcome.index)
        differ = merged.loc[common, "outcome"] != file_outcome.loc[common]
        mismatches = pd.DataFrame({"record_id": common[differ],
                                   "history_outcome": merged.loc[common[differ], "outcome"],
                                   "file_outcome": file_outcome.loc[common[differ]]}
                                  ).reset_index(drop=True)
        if len(mismatches):
            rows = pd.Series(frame["source_row"].to_numpy(), index=out.index)
            merged, events = flags_win(merged, events, mismatches, file_closed, rows, model,
                                        name=name)
            notes.append(f"{path.name}: {len(mismatches)} record(s) have won/closed flags that "
                         f"differ from their stage history's final state; the flags count (the "
                         f"audit lists them as `outcome_mismatch`)")
    return merged, events, mismatches, q, raw


def flags_win(records: pd.DataFrame, events: pd.DataFrame, mismatches: pd.DataFrame,
               file_closed: pd.Series | None, rows: pd.Series, model: PhaseModel, *, name: str
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-record file's flags over the history's final state, for the records they differ on.

    Flagged won: the record reaches the won phase at the file's close date, else at its history's
    latest date (a history date, never a made-up one). Flagged lost or open: a won-phase event of
    the history is not an order and is dropped, so the record was lost (or is open) at the highest
    phase it reached before. A flagged loss is dated at the file's close date, else at the
    history's close date, else at its latest date; an open record has no close date.
    """
    records = records.copy()
    ids = pd.Index(mismatches["record_id"].astype("string"))
    flagged = pd.Series(mismatches["file_outcome"].to_numpy(), index=ids)
    latest = events[is_in(events["record_id"], ids)].groupby(
        events["record_id"].astype("string"))["entered_at"].max().reindex(ids)
    given = (file_closed.reindex(ids) if file_closed is not None
             else pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]"))
    history_closed = pd.to_datetime(records.loc[ids, "closed_at"])
    won = flagged == "won"
    closed = pd.Series(np.where(won, given.fillna(latest), given.fillna(history_closed).fillna(
        latest)), index=ids).where(flagged != "open")
    records.loc[ids, "outcome"] = flagged.to_numpy()
    records.loc[ids, "closed_at"] = closed.to_numpy()
    unwon = ids[~won.to_numpy()]
    drop = is_in(events["record_id"], unwon) & (events["phase"] == model.won_phase).to_numpy()
    add = won & closed.notna()
    added = pd.DataFrame({
        "record_id": pd.array(ids[add.to_numpy()], dtype="string"),
        "phase": pd.Categorical([model.won_phase] * int(add.sum()), dtype=model.dtype),
        "entered_at": closed[add].to_numpy(dtype="datetime64[ns]"),
        "source_stage": pd.array([pd.NA] * int(add.sum()), dtype="string"),
        "source_row": rows.reindex(ids[add.to_numpy()]).to_numpy(dtype="int64"),
        "source": name})
    events = pd.concat([events[~drop], added], ignore_index=True)
    return records, events


def note_phaseless(records: pd.DataFrame, events: pd.DataFrame, *, file: str,
                    notes: list[str]) -> None:
    """Records that reached no phase (only a lost row, only ignored or undated stages) are in the
    records table, the outcome counts and the win rate, but in no phase count: say how many."""
    none = ~is_in(records["record_id"], events["record_id"])
    if none.any():
        by = records.loc[none, "outcome"].value_counts().to_dict()
        parts = ", ".join(f"{n} {o}" for o, n in sorted(by.items()))
        notes.append(f"{Path(file).name}: {int(none.sum())} record(s) reached no phase ({parts}): "
                     f"no stage row or date maps to a phase; they count in the outcomes, not in "
                     f"the phase counts")


@shared_docs
def finish_records(records: pd.DataFrame, events: pd.DataFrame, model: PhaseModel,
                   owners: np.ndarray | None = None) -> pd.DataFrame:
    """Put records in the contract's column order with the contract's dtypes.

    Parameters
    ----------
    records : DataFrame
        One row per record, indexed by record id.
    events : DataFrame
        The records' events (for the phase a lost record was lost at, and a missing creation
        date).
    {shared.model}
    owners : ndarray, optional
        Each event's record as its row in `records`, when the caller knows it (saves a lookup).

    Returns
    -------
    DataFrame
        The records with ``lost_at_phase``, ``value`` and ``created_at`` filled in, in the
        contract's order and dtypes.
    """
    records = records.copy()
    records["lost_at_phase"] = pd.Categorical.from_codes(lost_at_codes(events, records, owners),
                                                         dtype=model.dtype)
    if "value" not in records.columns:
        records["value"] = np.nan
    if "created_at" not in records.columns:  # a wide tracker without a creation date column
        first = events.groupby(events["record_id"].astype("string"))["entered_at"].min()
        records["created_at"] = first.reindex(records.index.astype("string")).to_numpy()
    records["created_at"] = pd.to_datetime(records["created_at"]).astype("datetime64[ns]")
    records["closed_at"] = pd.to_datetime(records["closed_at"]).astype("datetime64[ns]")
    records["value"] = pd.to_numeric(records["value"], errors="coerce").astype("float64")
    records["outcome"] = records["outcome"].astype("string")
    base = ["created_at", "outcome", "closed_at", "lost_at_phase", "value"]
    extra = [c for c in records.columns if c not in base]
    records = records[base + extra].reset_index()
    records["record_id"] = records["record_id"].astype("string")
    return records


def row_records(frame: pd.DataFrame, settings: ReadingSettings, state: pd.DataFrame, *, file: str,
                 key: str, name: str, personal: list[str], pseudonym_key: PseudonymKey | None,
                 notes: list[str] | None = None, parsed: dict[str, pd.Series] | None = None
                 ) -> pd.DataFrame:
    """Records of a one-row-per-record file: the row's own columns, the outcome from the log and
    from `status` / `current_stage` when the file has them. `parsed`: date columns (by role) the
    caller has parsed already, one value per row of `frame`."""
    cols = settings.columns
    idx = pd.Index(frame["_record_id"].astype("string"), name="record_id")
    records = pd.DataFrame(index=idx)
    # A state in the rows' own order needs no lookup by id (hashing the ids cost a second)
    aligned = state if len(state) and state.index.equals(idx) else None
    records["outcome"] = (aligned["outcome"].fillna("open").to_numpy() if aligned is not None
                          else state["outcome"].reindex(idx).fillna("open").to_numpy()
                          if len(state) else "open")
    records["closed_at"] = (aligned["closed_at"].to_numpy() if aligned is not None
                            else state["closed_at"].reindex(idx).to_numpy() if len(state)
                            else pd.NaT)
    for role in ("created_at", "closed_at"):
        if role in cols:
            col = find_column(frame, cols[role], role=role, file=file, key=key)
            if parsed and role in parsed:
                vals = pd.Series(parsed[role].to_numpy(), index=idx)
            else:
                dates = parse_date_column(frame[col], settings, file=file, column=col,
                                     future_ok=role == "closed_at")
                unusable = note_dates_left_empty(dates, frame, file=file, column=col,
                                                  notes=notes)
                vals = pd.Series(dates.values.where(~unusable).to_numpy(), index=idx)
            records[role] = vals if role == "created_at" else records[role].where(
                records[role].notna(), vals)
    add_value_and_attributes(records, frame, settings, file=file, key=key,
                              attr_key=f"sources[{name}]", personal=personal,
                              pseudonym_key=pseudonym_key, notes=notes)
    return records
