"""The snapshot shape: one row per record with its current stage and dates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError
from toolkit.base.phases import LOST, PhaseModel
from toolkit.io.loading.frames import LoadedSource
from toolkit.io.loading.headers import find_column, header_in
from toolkit.io.loading.outcomes import entry_phase, flag_outcomes, map_stages, per_distinct
from toolkit.io.loading.quarantine import reconcile
from toolkit.io.loading.reading import open_source
from toolkit.io.loading.records import (
    dedupe_records,
    kept_headers,
    order_by,
    phase_index,
    sort_key,
    whole_rows,
)
from toolkit.io.loading.records_file import finish_records, row_records
from toolkit.io.loading.rows import as_text, common_rows
from toolkit.io.loading.settings import SourceSettings
from toolkit.io.loading.values import read_dates
from toolkit.io.privacy import PseudonymKey


def load_snapshot(settings: SourceSettings, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                   pseudonym_key: PseudonymKey | None, engagement_file: str, name: str,
                   personal: list[str]) -> LoadedSource:
    """One row per record with its current stage (or only a won/lost/open status).

    Semantics (DESIGN.md, "Input shapes", snapshot): every record entered the entry phase (the
    first phase, or `created_phase`) on `created_at`; a won record reached the last phase on
    `closed_at`; the phases between are passed without a known date. They are dated at creation,
    the only date the snapshot has for them, so counts and creation cohorts are right; durations
    between phases are not measurable (the engagement's `timing_known` is False and duration KPIs
    say so), while entry -> won is a real duration. A lost record lost at an unknown phase counts
    as entered and lost at the entry phase, and the notes give how many. A status or won/closed
    flag column wins over the stage name.
    """
    settings, path, file, notes, raw, q, key = open_source(settings, base_dir, name)
    dated = settings.dated
    notes.insert(0, f"{path.name}: snapshot shape: phase entry dates are unknown; durations "
                    f"between phases cannot be measured from it" if dated else
                    f"{path.name}: lead list without dates (`dated: false`): counts, conversions "
                    f"and segment comparisons only; cohorts by month, durations, seasonality, "
                    f"control charts and before/after need dates and say so")
    cols = settings.columns
    if dated and "created_at" not in cols:
        raise DataError("a snapshot source needs a `created_at` column, and the toolkit does not "
                        "invent a date", file=file,
                        fix=f"set `{key}.created_at` to the record's creation or first-contact "
                            f"date column (or use a preset); for a lead list without any date "
                            f"set `dated: false` on the source (counts, conversions and segment "
                            f"comparisons only). Do not add a constant date: every monthly view "
                            f"would then be made up from it")
    has_flags = "status" in cols or "is_won" in cols
    if "current_stage" not in cols and not has_flags:
        raise DataError("a snapshot source needs a `current_stage` column, or a `status` "
                        "(won/lost/open) or `is_won` (+ `is_closed`) column", file=file,
                        fix=f"set `{key}.current_stage`, `{key}.status` or `{key}.is_won` (a "
                            f"converted flag), or use a preset")
    entry = entry_phase(settings, model, file=file, key=key)
    # Each check below sets rows aside, copying every column it carries: so the checks carry only
    # the columns they read, and the file's other columns are taken once, for the rows kept
    # (`whole_rows`), before the records are built. A column is looked up among all the file's
    # headers (`kept_headers`), so a message naming the file's columns names them all.
    headers = raw.columns
    checked = [header_in(headers, cols.get(role)) for role in (
        "current_stage", "created_at", "closed_at", "status", "is_won", "is_closed", "is_active",
        "lost_at_stage")]
    frame = dedupe_records(common_rows(raw, settings, q, file=file, key=key,
                                         carry=[c for c in checked if c]),
                            q, settings, personal, cells_of=raw)
    stage_col = None
    if "current_stage" in cols:
        stage_col = find_column(kept_headers(headers, frame), cols["current_stage"],
                                role="current_stage", file=file, key=key)
        frame = map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q,
                            file=file, engagement=engagement_file, blank_ok=has_flags)
    frame = frame.assign(_closed=pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
                         _created=pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    if dated:
        frame, created = read_dates(frame, cols["created_at"], settings, q, role="created", file=file,
                                key=key, required=True, headers=kept_headers(headers, frame))
    if "closed_at" in cols:
        frame, closed = read_dates(frame, cols["closed_at"], settings, q, role="closed", file=file,
                               key=key, required=False, headers=kept_headers(headers, frame))
        # Closed before it was created (calendar days, as CRMs often drop the time) cannot be.
        early = frame["_closed"].dt.normalize() < frame["_created"].dt.normalize()
        col = find_column(kept_headers(headers, frame), cols["closed_at"], role="closed_at",
                          file=file, key=key)
        created_col = find_column(kept_headers(headers, frame), cols["created_at"],
                                  role="created_at", file=file, key=key)
        frame = q.add(frame, early, lambda hit: "closed date " + hit[col].astype(str).map(repr)
                      + " is before the creation date "
                      + hit[created_col].astype(str).map(repr) + f" ({created_col!r})",
                      code="closed_before_created", column=col, values=frame[col])
    frame, flagged = flag_outcomes(frame, settings, model, q, file=file, key=key,
                                    won_alone=True, notes=notes, headers=kept_headers(headers, frame))
    target = (frame["_target"] if stage_col is not None
              else pd.Series(None, index=frame.index, dtype="object"))
    stage_outcome = pd.Series(np.where(target == LOST, "lost", np.where(
        target == model.won_phase, "won", "open")), index=frame.index)
    outcome = stage_outcome if flagged is None else flagged
    if flagged is not None and stage_col is not None and "is_active" not in cols:
        differ = int(((stage_outcome != flagged) & target.notna()).sum())
        if differ:
            notes.append(f"{path.name}: {differ} record(s) have a stage that says otherwise than "
                         f"their status/won/closed flags; the flags count")
    # Where was a lost record lost? The `lost_at_stage` column, else its current stage (Pipedrive
    # keeps it), else unknown: then at the entry phase, counted in the notes.
    lost_at = pd.Series(None, index=frame.index, dtype="object")
    if "lost_at_stage" in cols:
        col = find_column(kept_headers(headers, frame), cols["lost_at_stage"], role="lost_at_stage",
                          file=file, key=key)
        text = as_text(frame[col])
        lost_at = per_distinct(text, model.map_stages)
        bad = (outcome == "lost") & text.notna() & ~lost_at.isin(model.keys[:-1])
        kept = len(frame)
        frame = q.add(frame, bad, lambda hit: "lost-at stage " + hit[col].astype(str).map(repr)
                      + " does not map to a phase before the last", code="unknown_lost_stage",
                      column=col, values=frame[col])
        if len(frame) < kept:
            lost_at, target, outcome = (lost_at[frame.index], target[frame.index],
                                        outcome[frame.index])
    phase_position = {k: i for i, k in enumerate(model.keys)}
    won_i, entry_i = len(model.keys) - 1, phase_position[entry]
    # The current stage's phase; a won stage on a record its flags call open or lost is capped
    # below the last phase (reaching the last phase is winning).
    current_i = phase_index(target, model).clip(upper=won_i - 1)
    lost_i = phase_index(lost_at, model).where(lost_at.isin(model.keys[:-1]))
    lost_i = lost_i.fillna(current_i)
    unknown_loss = (outcome == "lost") & lost_i.isna()
    if unknown_loss.any():
        notes.append(f"{path.name}: {int(unknown_loss.sum())} lost record(s) do not say at which "
                     f"phase they were lost; they count as entered and lost at the entry phase "
                     f"{entry!r} (add a `lost_at_stage` column to place them)")
    highest = pd.Series(np.select([outcome == "won", outcome == "lost"],
                                  [float(won_i), lost_i.fillna(entry_i)], default=current_i),
                        index=frame.index).fillna(entry_i).clip(lower=entry_i).astype("int64")
    created, closed = frame["_created"], frame["_closed"]
    won_undated = (outcome == "won") & closed.isna()
    if won_undated.any() and dated:
        notes.append(f"{path.name}: {int(won_undated.sum())} won record(s) have no close date; "
                     f"their order is dated at creation")
    rid = frame["_record_id"].astype("string")
    stage_name = (frame["_stage"].astype("string") if stage_col is not None
                  else pd.Series(pd.NA, index=frame.index, dtype="string"))
    # Events: the entry phase at creation; the highest phase below the last at creation (the
    # phases between are passed, dated at the only date there is); the last phase at the close.
    # (Built by row positions, sorted by integer keys: by the string ids it took seconds.)
    below = np.minimum(highest, won_i - 1).to_numpy()
    top = highest.to_numpy()
    rows = np.arange(len(frame))
    ev_row = np.concatenate([rows, rows[below > entry_i], rows[top == won_i]])
    ev_i = np.concatenate([np.full(len(rows), entry_i), below[below > entry_i],
                           np.full(int((top == won_i).sum()), won_i)])
    at_created, at_closed = created.to_numpy(), closed.fillna(created).to_numpy()
    ev_at = np.concatenate([at_created, at_created[below > entry_i], at_closed[top == won_i]])
    source_row = frame["source_row"].to_numpy()
    # by file row; a row's events stay in phase order (entry, the phase below the last, the last)
    order = np.argsort(source_row[ev_row], kind="stable")
    ev_row, ev_i, ev_at = ev_row[order], ev_i[order], ev_at[order]
    events = pd.DataFrame({
        "record_id": rid.array.take(ev_row),
        "phase": pd.Categorical.from_codes(ev_i, dtype=model.dtype),
        "entered_at": pd.Series(ev_at).astype("datetime64[ns]"),
        "source_stage": stage_name.array.take(ev_row),
        "source_row": pd.Series(source_row[ev_row]).astype("int64"), "source": name})
    # The log: the events and each lost record's loss (at its close date, else its creation)
    lost = (outcome == "lost").to_numpy()
    log_row = np.concatenate([ev_row, rows[lost]])
    log_at = np.concatenate([events["entered_at"].to_numpy(),
                             at_closed[lost].astype("datetime64[ns]")])
    log_target = np.concatenate([ev_i, np.full(int(lost.sum()), len(model.keys))])
    order = order_by(sort_key(rid)[log_row], sort_key(pd.Series(log_at)),
                      source_row[log_row])
    log_row, log_at, log_target = log_row[order], log_at[order], log_target[order]
    log = pd.DataFrame({
        "record_id": rid.array.take(log_row), "at": log_at,
        "target": pd.array(model.keys + [LOST], dtype="str").take(log_target),
        "source_stage": stage_name.array.take(log_row),
        "source_row": source_row[log_row].astype("int64"), "source": name})
    state = pd.DataFrame({"outcome": outcome.to_numpy(),
                          "closed_at": closed.where(outcome != "open").to_numpy()},
                         index=pd.Index(rid))
    scols = {k: v for k, v in cols.items() if k not in ("closed_at",)}
    rows_in = len(raw)
    frame = whole_rows(headers, raw, frame)
    del raw  # the rows as read are not needed any more
    records = row_records(frame, replace(settings, columns=scols), state, file=file, key=key,
                           name=name, personal=personal, pseudonym_key=pseudonym_key, notes=notes,
                           parsed={"created_at": created} if dated else None)
    records = finish_records(records, events, model, owners=ev_row)
    return LoadedSource(name=name, shape="snapshot", events=events, records=records,
                        stage_log=log.reset_index(drop=True), quarantine=q.frame(),
                        reconciliation=pd.DataFrame([reconcile(name, file, rows_in, q)]),
                        notes=notes)
