"""The wide shape: one row per record with a date column per stage."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError, UnknownStageError
from toolkit.base.phases import IGNORE, LOST, PhaseModel, normalise_stage
from toolkit.io.loading.frames import STAGE_LOG_COLUMNS, LoadedSource
from toolkit.io.loading.headers import find_column, header_in
from toolkit.io.loading.history import events_from_log
from toolkit.io.loading.outcomes import flag_outcomes, is_in
from toolkit.io.loading.quarantine import reconcile
from toolkit.io.loading.reading import open_source
from toolkit.io.loading.records import Runs, dedupe_records, kept_headers, order_by, sort_key, whole_rows
from toolkit.io.loading.records_file import finish_records, note_phaseless, row_records
from toolkit.io.loading.rows import common_rows
from toolkit.io.loading.settings import SourceSettings
from toolkit.io.loading.values import parse_date_column
from toolkit.io.privacy import PseudonymKey


def _stage_columns(headers: pd.Index, settings: SourceSettings, *, file: str, name: str,
                   notes: list[str]) -> dict[str, str]:
    """`stage_columns` as source column -> CRM stage, plus the columns `stage_column_pattern`
    matches (`headers`: the frame's columns). Written the other way round (stage -> column: every
    key is no column of the file and every value is one) it is understood, with a note; a key
    that is no column otherwise is refused naming the columns the file has."""
    given = _given_stage_columns(headers, settings, file=file, name=name, notes=notes)
    pattern = settings.stage_column_pattern
    if pattern:
        rx = re.compile(pattern)
        for col in headers:
            m = rx.match(col)
            if m and col not in given:
                given[col] = m.group("stage")
    return given


def _given_stage_columns(headers: pd.Index, settings: SourceSettings, *, file: str, name: str,
                         notes: list[str]) -> dict[str, str]:
    given = dict(settings.stage_columns)
    columns = set(headers)
    missing = [c for c in given if c not in columns]
    if not missing:
        return given
    if len(missing) == len(given) and all(v in columns for v in given.values()) and len(
            set(given.values())) == len(given):
        notes.append(f"{Path(file).name}: `stage_columns` is written stage -> column; read as "
                     f"column -> stage (write it `\"<column>\": <stage>` to silence this note)")
        return {column: stage for stage, column in given.items()}
    available = [c for c in headers if c != "source_row" and not c.startswith("_")]
    raise DataError(f"`stage_columns` names {missing} as column(s) of the file, but the file has "
                    f"no such column; its columns are {available}", file=file,
                    column=str(missing[0]),
                    fix=f"under sources[{name}].stage_columns write each entry as "
                        f"`<column header>: <CRM stage>` (the column first)")


def _wide_outcomes(log: pd.DataFrame, frame: pd.DataFrame, flagged: pd.Series | None,
                   settings: SourceSettings, model: PhaseModel, *, file: str, key: str, name: str,
                   notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each record's outcome in a wide file, and the stage log without reversed wins.

    A dated won column makes a record won and a dated lost column lost; with both, the later
    date counts. Later dates in earlier stages are moves back, not un-winning (a wide file keeps
    the first entry date per stage; a won date before the record's other dates is audited as
    `won_before_first_date`, never turned into an open deal). A status or won/closed flag column
    wins over all of this: a won date on a record the flags call lost or open is not an order
    (noted), and a record flagged won without a won date is dated at its close date.
    """
    won = model.won_phase
    terminal = log[log["target"].isin([won, LOST])].sort_values(["record_id", "at"],
                                                                  kind="stable")
    last = terminal.groupby("record_id", sort=False).tail(1).set_index("record_id")
    ids = pd.Index(frame["_record_id"].astype("string"), name="record_id")
    outcome = pd.Series(np.where(last["target"] == won, "won", "lost"), index=last.index
                        ).reindex(ids).fillna("open")
    closed = last["at"].reindex(ids)
    if flagged is not None:
        flagged = pd.Series(flagged.to_numpy(), index=ids)
        unwon = (log["target"] == won) & (log["record_id"].map(flagged) != "won")
        if unwon.any():
            notes.append(f"{Path(file).name}: {log.loc[unwon, 'record_id'].nunique()} record(s) "
                         f"have a date in a won stage column but their status/won/closed flags "
                         f"say otherwise; the flags count (not orders)")
        log = log[~unwon]
        lost_dates = log[log["target"] == LOST].groupby("record_id")["at"].max()
        won_dates = log[log["target"] == won].groupby("record_id")["at"].min()
        closed = won_dates.reindex(ids).where(flagged == "won", lost_dates.reindex(ids))
        outcome = flagged
        need = (flagged == "won") & won_dates.reindex(ids).isna()
        if need.any():
            # Flagged won without a won date: the won phase is entered at the close date.
            closed_col = settings.columns.get("closed_at")
            at = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]")
            if closed_col:
                col = find_column(frame, closed_col, role="closed_at", file=file, key=key)
                at = pd.Series(parse_date_column(frame[col], settings, file=file, column=col,
                                            future_ok=True).values.to_numpy(), index=ids)
            latest = log.groupby("record_id")["at"].max().reindex(ids)
            at = at.where(at.notna(), latest)
            add = need & at.notna()
            rows = frame.set_index(ids)["source_row"]
            log = pd.concat([log, pd.DataFrame({
                "record_id": ids[add.to_numpy()], "at": at[add].to_numpy(), "target": won,
                "source_stage": pd.array([pd.NA] * int(add.sum()), dtype="string"),
                "source_row": rows[add].to_numpy(), "source": name})], ignore_index=True)
            closed = closed.where(~add, at)
            if (need & ~add).any():
                notes.append(f"{Path(file).name}: {int((need & ~add).sum())} record(s) flagged "
                             f"won have no won date and no close date; they count as won but "
                             f"reach the won phase undated")
        log = log.sort_values(["record_id", "at"], kind="stable")
    state = pd.DataFrame({"outcome": outcome.to_numpy(), "closed_at": closed.to_numpy()},
                         index=ids)
    state["closed_at"] = state["closed_at"].where(state["outcome"] != "open")
    return log.reset_index(drop=True), state


def _wide_log(frame: pd.DataFrame, parsed: dict[str, pd.Series], targets: dict[str, str],
              stage_columns: dict[str, str], model: PhaseModel, name: str
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """The stage log of a wide file, and each log row's row in `frame`: the dated cells of each
    stage column, column by column in the file's order (as a melt would take them), sorted by
    record, time and phase order; by row positions and integer keys (melting and sorting the
    string ids took seconds on a million records)."""
    rid = frame["_record_id"].astype("string")
    where = next(iter(parsed.values())).index.get_indexer(frame.index)  # rows still kept
    rows, columns, stamps = [], [], []
    for k, col in enumerate(targets):
        at = parsed[col].to_numpy()[where]
        dated = np.flatnonzero(~np.isnat(at))
        rows.append(dated)
        columns.append(np.full(len(dated), k))
        stamps.append(at[dated])
    row, column, at = np.concatenate(rows), np.concatenate(columns), np.concatenate(stamps)
    rank = {k: i for i, k in enumerate(model.keys + [LOST])}
    phase_order = np.array([rank[t] for t in targets.values()], dtype=np.int64)
    order = order_by(sort_key(rid)[row], at.astype("datetime64[ns]").view(np.int64),
                      phase_order[column])
    row, column, at = row[order], column[order], at[order]
    names = pd.array(list(targets.values()), dtype="str")  # one per column, taken per row
    stages = pd.array([stage_columns[c] for c in targets], dtype="string")
    log = pd.DataFrame({
        "record_id": rid.array.take(row), "at": at, "target": names.take(column),
        "source_stage": stages.take(column),
        "source_row": frame["source_row"].to_numpy()[row].astype("int64"), "source": name})
    return log, row


def _wide_states(log: pd.DataFrame, rows: np.ndarray, frame: pd.DataFrame, model: PhaseModel
                 ) -> pd.DataFrame:
    """`_wide_outcomes` without status or won/closed flags, by row positions: a record's outcome
    and close date are those of its last won or lost row (`rows`: each log row's row in `frame`;
    the log is sorted by record and time)."""
    won = (log["target"] == model.won_phase).to_numpy(dtype=bool)
    stamps = log["at"].to_numpy()
    outcome = np.full(len(frame), "open", dtype=object)
    closed = np.full(len(frame), np.datetime64("NaT"), dtype=stamps.dtype)
    terminal = np.flatnonzero(won | (log["target"] == LOST).to_numpy(dtype=bool))
    if len(terminal):
        record = rows[terminal]
        last = terminal[np.append(record[1:] != record[:-1], True)]
        outcome[rows[last]] = np.where(won[last], "won", "lost")
        closed[rows[last]] = stamps[last]
    state = pd.DataFrame({"outcome": outcome, "closed_at": closed},
                         index=pd.Index(frame["_record_id"].astype("string"), name="record_id"))
    state["closed_at"] = state["closed_at"].where(state["outcome"] != "open")
    return state


def load_wide(settings: SourceSettings, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
               pseudonym_key: PseudonymKey | None, engagement_file: str, name: str,
               personal: list[str]) -> LoadedSource:
    """One row per record with a date column per stage; melted into a stage log."""
    settings, path, file, notes, raw, q, key = open_source(settings, base_dir, name)
    # The checks carry only the columns they read (the stage date columns, the creation and close
    # dates, the flags), as the snapshot's do; the file's others are taken once for the rows kept
    # (`whole_rows`). A mistake in the stage columns is refused below, in its turn.
    headers = raw.columns
    try:
        read = list(_stage_columns(pd.Index(list(headers) + ["_record_id"]), settings, file=file,
                                   name=name, notes=[]))
        found = (header_in(headers, settings.columns.get(role)) for role in (
            "created_at", "closed_at", "status", "is_won", "is_closed", "is_active"))
        read += [c for c in found if c is not None]
        carry = [c for c in read if c in headers]
    except Exception:  # noqa: BLE001 (refused with its own message below, after the rows' checks)
        carry = None
    frame = dedupe_records(common_rows(raw, settings, q, file=file, key=key, carry=carry), q,
                            settings, personal, cells_of=raw)
    stage_columns = _stage_columns(kept_headers(headers, frame), settings, file=file, name=name,
                                   notes=notes)
    if not stage_columns:
        raise DataError("no stage date columns found", file=file,
                        fix="set `stage_columns` (column -> CRM stage) or `stage_column_pattern` "
                            "on this wide source")
    mapping = model.normalised_mapping()
    unknown = {stage: 0 for col, stage in stage_columns.items()
               if normalise_stage(stage) not in mapping}
    if unknown:
        if unknown_stages == "error":
            for col, stage in stage_columns.items():
                if stage in unknown:
                    unknown[stage] = int(frame[col].notna().sum())
            raise UnknownStageError(file, "stage date columns", unknown, engagement=engagement_file)
        notes.append(f"{path.name}: stage columns for unknown stages ignored: {sorted(unknown)}")
    targets = {col: mapping[normalise_stage(s)] for col, s in stage_columns.items()
               if normalise_stage(s) in mapping and mapping[normalise_stage(s)] != IGNORE}
    parsed = {}
    problems = pd.Series(None, index=frame.index, dtype="object")
    codes = pd.Series(None, index=frame.index, dtype="object")
    for col in targets:
        p = parse_date_column(frame[col], settings, file=file, column=col)
        parsed[col] = p.values
        bad = p.problems.notna() & p.codes.ne("missing_date")
        first = problems.isna() & bad  # a row keeps the problem of its first bad column
        problems = problems.where(~first, p.problems)
        codes = codes.where(~first, p.codes)
    frame = q.add(frame, problems.notna(), problems.fillna(""), code=codes)
    if "created_at" not in settings.columns and targets:
        # Without a creation date, a row with no stage date at all cannot be placed in time.
        undated = pd.DataFrame({col: parsed[col].loc[frame.index] for col in targets}).isna().all(
            axis=1)
        frame = q.add(frame, undated, f"no date in any of the {len(targets)} stage columns (and "
                                      f"no `created_at` column)", code="no_stage_date")
    if targets:
        log, log_rows = _wide_log(frame, parsed, targets, stage_columns, model, name)
    else:
        dates = pd.DataFrame({col: parsed[col].loc[frame.index] for col in targets})
        long = dates.assign(record_id=frame["_record_id"].astype("string"),
                            source_row=frame["source_row"]).melt(
            id_vars=["record_id", "source_row"], var_name="column", value_name="at").dropna(
            subset=["at"])
        long["target"] = long["column"].map(targets)
        long["source_stage"] = long["column"].map(stage_columns).astype("string")
        long["source"] = name
        log, log_rows = long[STAGE_LOG_COLUMNS].reset_index(drop=True), None
    kept = len(frame)
    frame, flagged = flag_outcomes(frame, settings, model, q, file=file, key=key,
                                    headers=kept_headers(headers, frame))
    rows_in = len(raw)
    frame = whole_rows(headers, raw, frame)
    del raw  # the rows as read are not needed any more
    if len(frame) < kept:  # a status no one can read set its row aside
        log, log_rows = log[is_in(log["record_id"], frame["_record_id"].astype("string"))], None
    runs = None
    if flagged is None and log_rows is not None:
        # No flags: each record's outcome is its last won or lost date, by row positions.
        state = _wide_states(log, log_rows, frame, model)
        runs, log = Runs.of(log_rows), log.reset_index(drop=True)
    else:
        log, state = _wide_outcomes(log, frame, flagged, settings, model, file=file, key=key,
                                    name=name, notes=notes)
    events = events_from_log(log, model, name, runs=runs)
    records = row_records(frame, settings, state, file=file, key=key, name=name,
                           personal=personal, pseudonym_key=pseudonym_key, notes=notes)
    records = finish_records(records, events, model)
    note_phaseless(records, events, file=file, notes=notes)
    return LoadedSource(name=name, shape="wide", events=events, records=records, stage_log=log,
                        quarantine=q.frame(), reconciliation=pd.DataFrame(
                            [reconcile(name, file, rows_in, q)]), notes=notes)
