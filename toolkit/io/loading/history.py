"""The history shape: one row per stage change (a stage log) into events and records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError
from toolkit.base.phases import LOST, PhaseModel, normalise_stage
from toolkit.io.loading.delimited import release_arrow_memory
from toolkit.io.loading.frames import LoadedSource
from toolkit.io.loading.headers import find_column, header_in
from toolkit.io.loading.outcomes import map_stages, per_distinct, resolve_outcomes
from toolkit.io.loading.quarantine import reconcile
from toolkit.io.loading.reading import open_source
from toolkit.io.loading.records import (
    Runs,
    kept_headers,
    last_value_per_record,
    note_conflicts,
    record_order,
    repeats,
    whole_rows,
)
from toolkit.io.loading.records_file import attach_records_file, finish_records, note_phaseless
from toolkit.io.loading.rows import common_rows
from toolkit.io.loading.settings import SourceSettings
from toolkit.io.loading.values import (
    in_currency,
    parse_amounts,
    parse_date_column,
    read_dates,
    source_attributes,
)
from toolkit.io.privacy import PseudonymKey


def events_from_log(log: pd.DataFrame, model: PhaseModel, name: str,
                     runs: Runs | None = None) -> pd.DataFrame:
    """The events table: one row per (record, phase entered), the first entry into the phase.

    Later rows at the same phase (a second CRM stage of the phase, a return after moving back)
    stay in the stage log for the audit; lost exits are never events. `runs`: the log is sorted
    by record, time and file row, and these are its records (see `Runs`).
    """
    phases = (log["target"] != LOST).to_numpy()
    if runs is None:
        phase_rows = log[phases]
        if not _in_order(phase_rows):  # a history's log already is: sorting again costs seconds
            phase_rows = phase_rows.sort_values(["record_id", "at", "source_row"], kind="stable")
        phase_rows = phase_rows[~phase_rows.duplicated(["record_id", "target"], keep="first")]
        phase = pd.Categorical(phase_rows["target"], dtype=model.dtype)
    else:  # (record, phase) pairs by integer codes, and one take of the rows kept
        target, kinds = pd.factorize(log["target"])
        rows = np.flatnonzero(phases)
        pairs = runs.of_row[rows] * (len(kinds) + 1) + target[rows]
        rows = rows[~pd.Series(pairs).duplicated(keep="first").to_numpy()]
        phase_rows = log.take(rows)
        key = np.array([model.keys.index(k) if k in model.keys else -1 for k in kinds] + [-1])
        phase = pd.Categorical.from_codes(key[target[rows]], dtype=model.dtype)
    return pd.DataFrame({
        "record_id": phase_rows["record_id"], "phase": phase,
        "entered_at": phase_rows["at"].astype("datetime64[ns]"),
        "source_stage": phase_rows["source_stage"], "source_row": phase_rows["source_row"],
        "source": name}).reset_index(drop=True)


def _in_order(log: pd.DataFrame) -> bool:
    """Whether the rows are sorted by record_id, at, source_row (so a stable sort keeps them)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if len(log) < 2 or not isinstance(log["record_id"].dtype, pd.StringDtype):
        return len(log) < 2
    if log["record_id"].isna().any() or log["at"].isna().any():
        return False  # where sorting puts missing values is pandas' to decide
    ids = pa.array(log["record_id"].array)
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    before, after = ids[:-1], ids[1:]
    at = log["at"].to_numpy(dtype="datetime64[ns]")
    row = log["source_row"].to_numpy()
    same_id = pc.equal(before, after).to_numpy(zero_copy_only=False)
    id_up = pc.less(before, after).to_numpy(zero_copy_only=False)
    at_up, same_at = at[:-1] < at[1:], at[:-1] == at[1:]
    return bool((id_up | same_id & (at_up | same_at & (row[:-1] <= row[1:]))).all())


_CONSTANT_STAGE = "(stage: of the source)"


def load_history(settings: SourceSettings, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                  pseudonym_key: PseudonymKey | None, engagement_file: str, name: str,
                  personal: list[str]) -> LoadedSource:
    settings, path, file, notes, raw, q, key = open_source(settings, base_dir, name)
    cols = settings.columns
    if settings.stage:
        # A file that holds one stage only (a closed-deals file): every row is that stage.
        if "stage" in cols:
            raise DataError("this source sets both `stage:` (one stage for every row) and a "
                            "`stage` column", file=file,
                            fix=f"keep one: remove `stage:` or `{key}.stage`")
    for role in ("stage", "changed_at"):
        if role not in cols and not (role == "stage" and settings.stage):
            raise DataError(f"a history source needs a `{role}` column", file=file,
                            fix=f"set `{key}.{role}` (or `stage:` when every row is one stage), "
                                f"or use a preset")
    # Each check below sets rows aside, copying every column it carries: so the checks carry only
    # the columns they read. Of the rest of the file only the columns read after them are kept
    # (the amount, its currency, the creation date, the attributes), and taken once, for the rows
    # kept, in their final order (`whole_rows`).
    headers = raw.columns
    checked = [c for c in (header_in(headers, cols.get(role)) for role in ("stage", "changed_at"))
               if c]
    later = [cols.get(role) for role in ("value", "currency", "created_at")]
    later += list(settings.attributes.values())
    read = {header_in(headers, h) for h in later if isinstance(h, str)}
    frame = common_rows(raw, settings, q, file=file, key=key, carry=checked)
    rows_in = len(raw)
    raw = raw[[c for c in headers if c in read]]
    if settings.stage:
        frame = frame.assign(**{_CONSTANT_STAGE: settings.stage})
        settings = replace(settings, columns={**cols, "stage": _CONSTANT_STAGE})
        cols = settings.columns
    stage_col = find_column(kept_headers(headers, frame), cols["stage"], role="stage", file=file,
                            key=key)
    frame = map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q, file=file,
                        engagement=engagement_file)
    frame, at = read_dates(frame, cols["changed_at"], settings, q, role="at", file=file, key=key,
                       required=True, headers=kept_headers(headers, frame))
    frame = frame.drop(columns=[c for c in frame.columns if c in headers
                                and c != "source_row" and not c.startswith("_")])
    frame = frame.assign(_record_code=pd.factorize(frame["_record_id"], sort=True)[0])
    # Ties (bulk imports share one timestamp) keep the file's order: a stable, documented choice.
    order = record_order(frame)
    # The same stage change exported twice carries no information: keep the first.
    frame = frame.assign(_stage_norm=per_distinct(frame["_stage"],
                                                   lambda s: s.map(normalise_stage)))
    same = ["_record_id", "_stage_norm", "_at"]
    dup, first = repeats(frame, same, order)
    frame = q.add(frame, dup, lambda hit: "duplicate of row " + first[hit.index].astype(str),
                  code="duplicate_row")
    if dup.any():  # the order of the rows left
        order = (np.cumsum(~dup.to_numpy()) - 1)[order[~dup.to_numpy()[order]]]
    frame = frame.take(order)
    runs = Runs.of(frame["_record_code"].to_numpy())
    log = pd.DataFrame({"record_id": frame["_record_id"].astype("string"), "at": frame["_at"],
                        "target": frame["_target"].astype(str),
                        "source_stage": frame["_stage"].astype("string"),
                        "source_row": frame["source_row"].astype("int64"), "source": name},
                       index=frame.index)
    state, reversed_won = resolve_outcomes(log, model, codes=runs.of_row)
    frame = q.add(frame, reversed_won,
                  lambda hit: "won stage reversed: the record's final state is "
                  + hit["_record_id"].map(state["outcome"]).astype(str),
                  code="won_reversed", column=stage_col, values=frame["_stage"])
    if reversed_won.any():  # (a record keeps its last row, which decided its state)
        kept = ~reversed_won.to_numpy()
        log, runs = log[kept], Runs.of(runs.of_row[kept])
    events = events_from_log(log, model, name, runs=runs)
    frame = whole_rows(headers, raw, frame.drop(columns=["_stage_norm", "_target",
                                                           "_record_code"]))
    del raw  # the rows as read are not needed any more (hundreds of MB on a big export)
    release_arrow_memory()

    value = None
    if "value" in cols:
        col = find_column(frame, cols["value"], role="value", file=file, key=key)
        frame = frame.assign(_value=in_currency(
            frame, parse_amounts(frame, col, settings, file=file, notes=notes), settings,
            file=file, key=key, notes=notes))
        value = "_value"
    attrs = source_attributes(frame, settings.attributes, file=file, key=f"sources[{name}]",
                        personal=personal, pseudonym_key=pseudonym_key, settings=settings,
                        notes=notes)
    # From here on only these columns are read (the file's others are freed; an attribute may be
    # named as its own header).
    created = cols.get("created_at") if cols.get("created_at") in frame.columns else None
    kept = ["_record_id", "_at"] + ([value] if value else []) + ([created] if created else [])
    frame = pd.concat([frame[kept], attrs], axis=1)
    carry = ([value] if value else []) + list(attrs.columns)
    note_conflicts(frame, list(attrs.columns), runs, file=file, notes=notes)
    # The records are the runs, in the order of the log's last rows (`state`): one row each.
    records = state.assign(created_at=frame["_at"].array.take(runs.starts))  # rows in time order
    for col, values in last_value_per_record(frame, carry, runs).items():
        records["value" if col == "_value" else col] = values
    records.index = records.index.astype("string")
    records.index.name = "record_id"
    if created:
        parsed = parse_date_column(frame[created], settings, file=file, column=created)
        crm_created = pd.Series(runs.least(parsed.values), index=records.index)
        records["created_at"] = crm_created.fillna(records["created_at"])
        del parsed
    del frame, attrs  # the rows are in the log, the records and the events now
    release_arrow_memory()

    mismatches = None
    quarantines = [q.frame()]
    recon = [reconcile(name, file, rows_in, q)]
    if settings.records is not None:
        reasons = quarantines[0]
        # Records whose every stage row is an ignored stage (test deals) are not records.
        ignored = set(reasons.loc[reasons["reason_code"].eq("ignored_stage"),
                                  "record_id"].dropna()) - set(records.index)
        records, events, mismatches, rq, rows = attach_records_file(
            records, events, settings.records, model=model, base_dir=base_dir,
            pseudonym_key=pseudonym_key, name=name, personal=personal, ignored_ids=ignored,
            notes=notes)
        quarantines.append(rq.frame())
        recon.append(reconcile(name, rq.file, rows, rq))
    records = finish_records(records, events, model)
    note_phaseless(records, events, file=file, notes=notes)
    quarantine = pd.concat(quarantines, ignore_index=True)
    return LoadedSource(name=name, shape="history", events=events, records=records,
                        stage_log=log.reset_index(drop=True), quarantine=quarantine,
                        reconciliation=pd.DataFrame(recon), notes=notes,
                        outcome_mismatches=mismatches)
