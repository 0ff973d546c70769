"""Loading CRM exports (history, wide, snapshot) into the tidy events/records tables.

Every source row is either used or quarantined with a reason; `rows_in == rows_used +
rows_quarantined` holds per file. Row numbers are as a spreadsheet shows them: the header is row 1,
the first data row is row 2.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import RecordsConfig, SourceConfig
from .exceptions import DataError, UnknownStageError
from .parsing import parse_dates, parse_flags, parse_numbers
from .phases import IGNORE, LOST, PhaseModel, normalise_stage
from .presets import preset_defaults

__all__ = ["LoadedSource", "load_source", "read_table", "resolve_source", "quarantine_summary",
           "QUARANTINE_COLUMNS",
           "EVENT_COLUMNS", "STAGE_LOG_COLUMNS"]

QUARANTINE_COLUMNS = ["source", "file", "source_row", "record_id", "column", "value", "reason"]
EVENT_COLUMNS = ["record_id", "phase", "entered_at", "source_stage", "source_row", "source"]
STAGE_LOG_COLUMNS = ["record_id", "at", "target", "source_stage", "source_row", "source"]
_FIRST_DATA_ROW = 2


@dataclass
class LoadedSource:
    """What one source contributes: tidy tables plus the rows set aside and the reconciliation."""

    name: str
    shape: str
    events: pd.DataFrame
    records: pd.DataFrame
    stage_log: pd.DataFrame  # every used stage row in time order, incl. lost exits (for the audit)
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame  # one row per file: rows_in, rows_used, rows_quarantined
    notes: list[str] = field(default_factory=list)
    outcome_mismatches: pd.DataFrame | None = None


# --- reading files -------------------------------------------------------------------------------

def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    return max(counts, key=counts.get)


def read_table(path: Path, reading: dict[str, Any], *, notes: list[str] | None = None
               ) -> pd.DataFrame:
    """Read a CSV or XLSX as raw values (strings from CSV; XLSX keeps its dates and numbers).

    Adds `source_row` (1-based, header = row 1). CSV encoding defaults to UTF-8 (with or without
    BOM) and falls back to cp1252, the Windows encoding of Dutch Excel exports, with a note.
    """
    if not path.exists():
        raise DataError("file not found", file=str(path),
                        fix="check `path` of this source (relative paths are relative to the "
                            "engagement YAML)")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        sheet = reading.get("sheet")
        try:
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=object,
                                  engine="openpyxl")
        except ValueError as exc:
            raise DataError(f"cannot read sheet {sheet!r} ({exc})", file=str(path),
                            fix="set `sheet:` to one of the workbook's sheet names") from None
    elif suffix in (".csv", ".txt", ".tsv"):
        encoding = reading.get("encoding")
        tried = [encoding] if encoding else ["utf-8-sig", "cp1252"]
        data = path.read_bytes()
        text = None
        for enc in tried:
            try:
                text = data.decode(enc)
                if enc == "cp1252" and notes is not None and not encoding:
                    notes.append(f"{path.name}: not UTF-8; read as cp1252 (Windows). Set "
                                 f"`encoding:` to make this explicit.")
                break
            except UnicodeDecodeError as exc:
                bad = exc
        if text is None:
            line = data[: bad.start].count(b"\n") + 1
            raise DataError(f"cannot decode with encoding {tried[-1]!r} ({bad.reason})",
                            file=str(path), row=line, value=data[bad.start:bad.end],
                            fix="set `encoding:` to the file's encoding (utf-8, cp1252, latin-1)")
        text = text.lstrip("\ufeff")
        delimiter = reading.get("delimiter") or _sniff_delimiter(text.split("\n", 1)[0])
        from io import StringIO
        try:
            frame = pd.read_csv(StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                                na_values=[""], skipinitialspace=False, engine="c")
        except pd.errors.ParserError as exc:
            raise DataError(f"not a valid delimited file ({exc})", file=str(path),
                            fix=f"check `delimiter:` (now {delimiter!r}) and quoting") from None
    else:
        raise DataError(f"unsupported file type {suffix!r}", file=str(path),
                        fix="export as .csv or .xlsx")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.reset_index(drop=True)
    frame["source_row"] = np.arange(_FIRST_DATA_ROW, len(frame) + _FIRST_DATA_ROW)
    return frame


def _find_column(frame: pd.DataFrame, header: str, *, role: str, file: str, key: str) -> str:
    if header in frame.columns:
        return header
    folded = {c.casefold(): c for c in frame.columns}
    if header.casefold() in folded:
        return folded[header.casefold()]
    available = [c for c in frame.columns if c != "source_row" and not c.startswith("_")]
    raise DataError(
        f"column {header!r} (for {role}) not found; the file has {available}",
        file=file, column=header,
        fix=f"set `{key}.{role}` in the engagement YAML to the right header",
    )


# --- configuration ---------------------------------------------------------------------------

def _merge(defaults: dict, given: dict) -> dict:
    out = dict(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif value not in (None, {}, []) or key not in out:
            out[key] = value
    return out


def resolve_source(source: SourceConfig) -> dict[str, Any]:
    """The source's settings with its preset's defaults filled in (the YAML wins)."""
    given = source.model_dump()
    records_given = given.pop("records")
    if source.preset:
        defaults = dict(preset_defaults(source.preset, source.shape))
        records_default = defaults.pop("records", None)
        settings = _merge(defaults, given)
        if records_given is not None and records_default:
            settings["records"] = _merge(records_default, records_given)
        else:
            settings["records"] = records_given
    else:
        settings = given
        settings["records"] = records_given
    return settings


# --- helpers ------------------------------------------------------------------------------------

class _Quarantine:
    """Collects set-aside rows; a row is quarantined once, with its first reason."""

    def __init__(self, source: str, file: str) -> None:
        self.source, self.file = source, file
        self.parts: list[pd.DataFrame] = []
        self.rows: set[int] = set()

    def add(self, frame: pd.DataFrame, mask: pd.Series, reason: pd.Series | str, *,
            column: str | None = None, values: pd.Series | None = None,
            record_ids: pd.Series | None = None) -> pd.DataFrame:
        """Quarantine `frame[mask]` and return the remaining rows."""
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            hit = frame[mask]
            reasons = reason[mask] if isinstance(reason, pd.Series) else reason
            part = pd.DataFrame({
                "source": self.source, "file": self.file,
                "source_row": hit["source_row"].to_numpy(),
                "record_id": (record_ids[mask] if record_ids is not None
                              else hit.get("_record_id", pd.Series(pd.NA, index=hit.index))
                              ).astype("string").to_numpy(),
                "column": column,
                "value": (values[mask].astype("string").to_numpy() if values is not None
                          else pd.array([pd.NA] * len(hit), dtype="string")),
                "reason": reasons if isinstance(reasons, str) else reasons.to_numpy(),
            })
            self.parts.append(part)
            self.rows.update(hit["source_row"].tolist())
        return frame[~mask]

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return _empty_quarantine()
        out = pd.concat(self.parts, ignore_index=True)
        return out.astype({"source_row": "int64", "record_id": "string", "value": "string"})


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({"source": pd.Series(dtype="object"), "file": pd.Series(dtype="object"),
                         "source_row": pd.Series(dtype="int64"),
                         "record_id": pd.Series(dtype="string"),
                         "column": pd.Series(dtype="object"), "value": pd.Series(dtype="string"),
                         "reason": pd.Series(dtype="object")})


def _text(series: pd.Series) -> pd.Series:
    out = series.astype("string").str.strip()
    return out.mask(out == "")


def _pseudonymise(values: pd.Series, salt: str) -> pd.Series:
    """Stable pseudonyms: the same person gets the same code in every run with the same salt."""
    def code(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        digest = hashlib.sha256(f"{salt}|{str(v).strip().casefold()}".encode()).hexdigest()
        return f"P-{digest[:10]}"
    uniques = values.dropna().unique()
    return values.map({u: code(u) for u in uniques}).astype("string")


def _map_stages(frame: pd.DataFrame, stage_col: str, model: PhaseModel, *, unknown: str,
                quarantine: _Quarantine, file: str, engagement: str) -> pd.DataFrame:
    """Attach `_target` (phase key / 'lost'); set aside blank, unknown and ignored stages."""
    stage = _text(frame[stage_col])
    frame = frame.assign(_stage=stage)
    frame = quarantine.add(frame, stage.isna(), f"missing stage in column {stage_col!r}",
                           column=stage_col)
    target = model.map_stages(frame["_stage"]).set_axis(frame.index)
    unknown_mask = target.isna()
    if unknown_mask.any():
        if unknown == "error":
            raise UnknownStageError(file, stage_col, _stage_counts(frame.loc[unknown_mask, "_stage"]),
                                    engagement=engagement)
        frame = quarantine.add(frame, unknown_mask,
                               "unknown stage " + frame["_stage"].map(repr) + " (not in stage_mapping)",
                               column=stage_col, values=frame["_stage"])
        target = target[~unknown_mask]
    frame = frame.assign(_target=target)
    return quarantine.add(frame, frame["_target"] == IGNORE,
                          "stage " + frame["_stage"].map(repr) + " is declared `ignore`",
                          column=stage_col, values=frame["_stage"])


def _stage_counts(stages: pd.Series) -> dict[str, int]:
    """Rows per unknown stage, spellings that differ only in case or spaces counted together under
    the most common one (the mapping ignores those differences too)."""
    spelled = stages.map(lambda s: " ".join(str(s).split()))
    counts = spelled.groupby(spelled.map(normalise_stage)).agg(
        rows="size", name=lambda v: v.value_counts().index[0])
    return dict(zip(counts["name"], counts["rows"].astype(int), strict=True))


def _attributes(frame: pd.DataFrame, attributes: dict[str, str], *, file: str, key: str,
                personal: list[str], salt: str) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for name, header in attributes.items():
        col = _find_column(frame, header, role=name, file=file, key=f"{key}.attributes")
        values = _text(frame[col])
        out[name] = _pseudonymise(values, salt) if name in personal else values
    return out


def _first_value_per_record(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The last non-blank value of each column per record (CRMs repeat attributes on each row)."""
    if not cols:
        return pd.DataFrame(index=pd.Index(frame["_record_id"].unique(), name="record_id"))
    return frame.groupby("_record_id", sort=False)[cols].last().rename_axis("record_id")


# --- outcome from an ordered stage log ------------------------------------------------------------

def _resolve_outcomes(log: pd.DataFrame, model: PhaseModel) -> tuple[pd.DataFrame, pd.Series]:
    """From a time-ordered stage log, each record's final state and which won rows it reverses.

    The final state is the last row's: a lost row -> lost, a row at the won phase -> won, anything
    else -> open (a deal re-opened after lost is open again). A won row is kept only when the
    record's final state is won: 'Closed Won' followed by 'Closed Lost' is a reversed order, not an
    order (Salesforce shows this pattern).
    """
    won_phase = model.won_phase
    last = log.groupby("record_id", sort=False).tail(1).set_index("record_id")
    outcome = np.where(last["target"] == LOST, "lost",
                       np.where(last["target"] == won_phase, "won", "open"))
    closed = last["at"].astype("datetime64[ns]").where(outcome != "open")
    state = pd.DataFrame({"outcome": outcome, "closed_at": closed}, index=last.index)
    final = log["record_id"].map(state["outcome"])
    reversed_won = (log["target"] == won_phase) & (final != "won")
    return state, reversed_won


def _lost_at_phase(events: pd.DataFrame, state: pd.DataFrame, model: PhaseModel) -> pd.Series:
    """Highest phase reached before the final loss (events are already only kept phase rows)."""
    lost_ids = state.index[state["outcome"] == "lost"]
    ev = events[events["record_id"].isin(lost_ids)]
    if ev.empty:
        return pd.Series(pd.Categorical([], dtype=model.dtype), index=pd.Index([], dtype="string"))
    ev = ev[ev["entered_at"] <= ev["record_id"].map(state["closed_at"])]
    codes = ev.assign(code=ev["phase"].cat.codes).groupby("record_id")["code"].max()
    return pd.Series(pd.Categorical.from_codes(codes.to_numpy(), dtype=model.dtype),
                     index=codes.index)


def _empty_events(model: PhaseModel) -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": pd.Series(dtype="string"), "phase": pd.Series(dtype=model.dtype),
        "entered_at": pd.Series(dtype="datetime64[ns]"), "source_stage": pd.Series(dtype="string"),
        "source_row": pd.Series(dtype="int64"), "source": pd.Series(dtype="object")})


# --- the three shapes ----------------------------------------------------------------------------

def load_source(source: SourceConfig, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                salt: str, engagement_file: str = "", timezone: str = "Europe/Amsterdam"
                ) -> LoadedSource:
    """Load one source of the engagement into tidy tables (see module docstring)."""
    settings = resolve_source(source)
    settings["_engagement_tz"] = timezone
    loader = {"history": _load_history, "wide": _load_wide, "snapshot": _load_snapshot}
    return loader[source.shape](settings, model=model, base_dir=base_dir,
                                unknown_stages=unknown_stages, salt=salt,
                                engagement_file=engagement_file, name=source.name or "source",
                                personal=list(source.personal))


def _common_rows(frame: pd.DataFrame, settings: dict, q: _Quarantine, *, file: str, key: str
                 ) -> pd.DataFrame:
    """Set aside deleted rows and rows without a record id; attach `_record_id`."""
    cols = settings["columns"]
    if "is_deleted" in cols and cols["is_deleted"] in frame.columns:
        deleted = parse_flags(frame[cols["is_deleted"]], true_values=settings["true_values"])
        frame = q.add(frame, deleted.fillna(False).astype(bool), "deleted in the CRM",
                      column=cols["is_deleted"])
    if "record_id" not in cols:
        raise DataError("no record id column configured", file=file,
                        fix=f"set `{key}.record_id` to the column that identifies a deal")
    rid_col = _find_column(frame, cols["record_id"], role="record_id", file=file, key=key)
    rid = _text(frame[rid_col])
    frame = frame.assign(_record_id=rid)
    return q.add(frame, rid.isna(), f"missing record id in column {rid_col!r}", column=rid_col)


def _dedupe_records(frame: pd.DataFrame, q: _Quarantine) -> pd.DataFrame:
    """One row per record files: a repeated record id is set aside, the first row is kept."""
    first = frame.groupby("_record_id")["source_row"].transform("first")
    return q.add(frame, frame.duplicated("_record_id", keep="first"),
                 "duplicate record id (first at row " + first.astype(str) + ")")


def _dates(frame: pd.DataFrame, header: str, settings: dict, q: _Quarantine, *, role: str,
           file: str, key: str, required: bool) -> tuple[pd.DataFrame, pd.Series]:
    col = _find_column(frame, header, role=role, file=file, key=key)
    parsed = parse_dates(frame[col], date_format=settings.get("date_format"), file=file, column=col)
    values = parsed.values
    if settings.get("timezone"):
        values = _to_engagement_time(values, settings["timezone"], settings["_engagement_tz"])
    bad = parsed.problems.notna() if required else (
        parsed.problems.notna() & ~parsed.problems.astype("string").str.startswith("missing").fillna(
            False))
    frame = frame.assign(**{f"_{role}": values})
    frame = q.add(frame, bad, parsed.problems.fillna(""), column=col, values=frame[col])
    return frame, frame[f"_{role}"]


def _to_engagement_time(values: pd.Series, source_tz: str, engagement_tz: str) -> pd.Series:
    """Source timestamps in another zone (Salesforce exports are often UTC) -> engagement local."""
    local = values.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert(engagement_tz).dt.tz_localize(None)


def _open_source(settings: dict, base_dir: Path, name: str):
    """Read a source's file: (path, file, notes, raw rows, its quarantine, YAML key of columns)."""
    path = (base_dir / settings["path"]).resolve()
    notes: list[str] = []
    raw = read_table(path, settings, notes=notes)
    return path, str(path), notes, raw, _Quarantine(name, str(path)), f"sources[{name}].columns"


def _events_from_log(log: pd.DataFrame, model: PhaseModel, name: str) -> pd.DataFrame:
    """The events table: one row per (record, phase entered), the first entry into the phase.

    Later rows at the same phase (a second CRM stage of the phase, a return after moving back)
    stay in the stage log for the audit; lost exits are never events.
    """
    phase_rows = log[log["target"] != LOST]
    phase_rows = phase_rows.sort_values(["record_id", "at", "source_row"], kind="stable")
    phase_rows = phase_rows[~phase_rows.duplicated(["record_id", "target"], keep="first")]
    return pd.DataFrame({
        "record_id": phase_rows["record_id"],
        "phase": pd.Categorical(phase_rows["target"], dtype=model.dtype),
        "entered_at": phase_rows["at"].astype("datetime64[ns]"),
        "source_stage": phase_rows["source_stage"], "source_row": phase_rows["source_row"],
        "source": name}).reset_index(drop=True)


def _load_history(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                  salt: str, engagement_file: str, name: str, personal: list[str]) -> LoadedSource:
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    cols = settings["columns"]
    for role in ("stage", "changed_at"):
        if role not in cols:
            raise DataError(f"a history source needs a `{role}` column", file=file,
                            fix=f"set `{key}.{role}`, or use a preset")
    frame = _common_rows(raw, settings, q, file=file, key=key)
    stage_col = _find_column(frame, cols["stage"], role="stage", file=file, key=key)
    frame = _map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q, file=file,
                        engagement=engagement_file)
    frame, at = _dates(frame, cols["changed_at"], settings, q, role="at", file=file, key=key,
                       required=True)
    # The same stage change exported twice carries no information: keep the first.
    frame = frame.assign(_stage_norm=frame["_stage"].map(normalise_stage))
    dup = frame.duplicated(["_record_id", "_stage_norm", "_at"], keep="first")
    first_row = frame.groupby(["_record_id", "_stage_norm", "_at"])["source_row"].transform("first")
    frame = q.add(frame, dup, "duplicate of row " + first_row.astype(str))
    # Ties (bulk imports share one timestamp) keep the file's order: a stable, documented choice.
    frame = frame.sort_values(["_record_id", "_at", "source_row"], kind="stable")
    log = pd.DataFrame({"record_id": frame["_record_id"].astype("string"), "at": frame["_at"],
                        "target": frame["_target"].astype(str),
                        "source_stage": frame["_stage"].astype("string"),
                        "source_row": frame["source_row"].astype("int64"), "source": name},
                       index=frame.index)
    state, reversed_won = _resolve_outcomes(log, model)
    frame = q.add(frame, reversed_won,
                  "won stage reversed: the record's final state is "
                  + frame["_record_id"].map(state["outcome"]).astype(str),
                  column=stage_col, values=frame["_stage"])
    log = log.loc[frame.index]
    events = _events_from_log(log, model, name)

    value = None
    if "value" in cols and cols["value"] in frame.columns:
        parsed = parse_numbers(frame[cols["value"]], decimal=settings.get("decimal"),
                               thousands=settings.get("thousands"), file=file,
                               column=cols["value"])
        frame = frame.assign(_value=parsed.values)
        value = "_value"
        if parsed.problems.notna().any():
            notes.append(f"{path.name}: {int(parsed.problems.notna().sum())} unparseable amounts "
                         f"left blank in column {cols['value']!r}")
    attrs = _attributes(frame, settings.get("attributes", {}), file=file, key=f"sources[{name}]",
                        personal=personal, salt=salt)
    frame = pd.concat([frame, attrs], axis=1)
    carry = ([value] if value else []) + list(attrs.columns)
    per_record = _first_value_per_record(frame, carry).rename(columns={"_value": "value"})
    created = frame.groupby("_record_id")["_at"].min().rename("created_at")
    records = state.join(created).join(per_record)
    records.index = records.index.astype("string")
    records.index.name = "record_id"
    if "created_at" in cols and cols["created_at"] in frame.columns:
        parsed = parse_dates(frame[cols["created_at"]], date_format=settings.get("date_format"),
                             file=file, column=cols["created_at"])
        crm_created = parsed.values.groupby(frame["_record_id"]).min()
        crm_created.index = crm_created.index.astype("string")
        records["created_at"] = crm_created.reindex(records.index).fillna(records["created_at"])

    mismatches = None
    quarantines = [q.frame()]
    recon = [_reconcile(name, file, raw, q)]
    if settings.get("records"):
        reasons = quarantines[0]
        # Records whose every stage row is an ignored stage (test deals) are not records.
        ignored = set(reasons.loc[reasons["reason"].str.contains("declared `ignore`", regex=False),
                                  "record_id"].dropna()) - set(records.index)
        records, mismatches, rq, rows = _attach_records_file(
            records, settings["records"], base_dir=base_dir, salt=salt, name=name,
            personal=personal, engagement_tz=settings["_engagement_tz"], ignored_ids=ignored,
            notes=notes)
        quarantines.append(rq.frame())
        recon.append(_reconcile(name, rq.file, rows, rq))
    records = _finish_records(records, events, model)
    quarantine = pd.concat(quarantines, ignore_index=True)
    return LoadedSource(name=name, shape="history", events=events, records=records,
                        stage_log=log.reset_index(drop=True), quarantine=quarantine,
                        reconciliation=pd.DataFrame(recon), notes=notes,
                        outcome_mismatches=mismatches)


def _reconcile(name: str, file: str, raw: pd.DataFrame, q: _Quarantine) -> dict[str, Any]:
    rows_in = len(raw)
    rows_q = len(q.rows)
    return {"source": name, "file": file, "rows_in": rows_in, "rows_used": rows_in - rows_q,
            "rows_quarantined": rows_q}


def _attach_records_file(records: pd.DataFrame, reading: dict, *,
                         base_dir: Path, salt: str, name: str, personal: list[str],
                         engagement_tz: str, ignored_ids: set, notes: list[str]):
    """Join a per-record file (e.g. Salesforce Opportunity.csv) onto the history's records.

    The history decides the outcome (it is what happened, in order); the file supplies the creation
    date, amount and segment attributes. Disagreements on the outcome are reported, not hidden.
    """
    path = (base_dir / reading["path"]).resolve()
    file = str(path)
    reading = {**RecordsConfig(**{k: v for k, v in reading.items()
                                  if k in RecordsConfig.model_fields}).model_dump(),
               "_engagement_tz": engagement_tz}
    raw = read_table(path, reading, notes=notes)
    q = _Quarantine(f"{name}.records", file)
    key = f"sources[{name}].records.columns"
    frame = _common_rows(raw, reading, q, file=file, key=key)
    frame = q.add(frame, frame["_record_id"].isin(ignored_ids),
                  "all of this record's stage rows are declared `ignore`")
    frame = _dedupe_records(frame, q)
    cols = reading["columns"]
    out = pd.DataFrame(index=pd.Index(frame["_record_id"].astype("string"), name="record_id"))
    if "created_at" in cols:
        frame, created = _dates(frame, cols["created_at"], reading, q, role="created", file=file,
                                key=key, required=False)
        out = out.loc[frame["_record_id"].astype("string")]
        out["created_at"] = created.to_numpy()
    _add_value_and_attributes(out, frame, reading, file=file, key=key,
                              attr_key=f"sources[{name}].records", personal=personal, salt=salt)
    file_outcome = None
    if "is_closed" in cols and "is_won" in cols:
        closed = parse_flags(frame[_find_column(frame, cols["is_closed"], role="is_closed",
                                                file=file, key=key)],
                             true_values=reading["true_values"])
        won = parse_flags(frame[_find_column(frame, cols["is_won"], role="is_won", file=file,
                                             key=key)], true_values=reading["true_values"])
        file_outcome = pd.Series(np.where(won.fillna(False), "won",
                                          np.where(closed.fillna(False), "lost", "open")),
                                 index=out.index)
    merged = records.copy()
    for col in out.columns:  # the per-record file is the CRM's current truth where it has a value
        mine = out[col].reindex(merged.index)
        merged[col] = mine.combine_first(merged[col]) if col in merged.columns else mine
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
    return merged, mismatches, q, raw


def _finish_records(records: pd.DataFrame, events: pd.DataFrame, model: PhaseModel
                    ) -> pd.DataFrame:
    """Put records in the contract's column order with the contract's dtypes."""
    records = records.copy()
    lost_at = _lost_at_phase(events, records, model)
    records["lost_at_phase"] = pd.Categorical(
        lost_at.reindex(records.index).astype(object).where(records["outcome"] == "lost"),
        dtype=model.dtype)
    if "value" not in records.columns:
        records["value"] = np.nan
    records["created_at"] = pd.to_datetime(records["created_at"]).astype("datetime64[ns]")
    records["closed_at"] = pd.to_datetime(records["closed_at"]).astype("datetime64[ns]")
    records["value"] = pd.to_numeric(records["value"], errors="coerce").astype("float64")
    records["outcome"] = records["outcome"].astype("string")
    base = ["created_at", "outcome", "closed_at", "lost_at_phase", "value"]
    extra = [c for c in records.columns if c not in base]
    records = records[base + extra].reset_index()
    records["record_id"] = records["record_id"].astype("string")
    return records


def _load_wide(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
               salt: str, engagement_file: str, name: str, personal: list[str]) -> LoadedSource:
    """One row per record with a date column per stage; melted into a stage log."""
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    frame = _dedupe_records(_common_rows(raw, settings, q, file=file, key=key), q)
    stage_columns = dict(settings.get("stage_columns") or {})
    pattern = settings.get("stage_column_pattern")
    if pattern:
        rx = re.compile(pattern)
        for col in frame.columns:
            m = rx.match(col)
            if m and col not in stage_columns:
                stage_columns[col] = m.group("stage")
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
    for col in targets:
        p = parse_dates(frame[col], date_format=settings.get("date_format"), file=file, column=col)
        parsed[col] = p.values
        bad = p.problems.notna() & ~p.problems.astype("string").str.startswith("missing").fillna(
            False)
        problems = problems.where(problems.notna() | ~bad, p.problems)
    frame = q.add(frame, problems.notna(), problems.fillna(""))
    dates = pd.DataFrame({col: parsed[col].loc[frame.index] for col in targets})
    long = dates.assign(record_id=frame["_record_id"].astype("string"),
                        source_row=frame["source_row"]).melt(
        id_vars=["record_id", "source_row"], var_name="column", value_name="at").dropna(
        subset=["at"])
    long["target"] = long["column"].map(targets)
    long["source_stage"] = long["column"].map(stage_columns).astype("string")
    long["source"] = name
    order = {k: i for i, k in enumerate(model.keys + [LOST])}
    long = long.assign(_o=long["target"].map(order)).sort_values(
        ["record_id", "at", "_o"], kind="stable").drop(columns="_o")
    log = long[STAGE_LOG_COLUMNS].reset_index(drop=True)
    state, reversed_won = _resolve_outcomes(log, model) if len(log) else (
        pd.DataFrame(columns=["outcome", "closed_at"]), pd.Series(dtype=bool))
    log = log[~reversed_won.to_numpy()] if len(log) else log
    events = _events_from_log(log, model, name)
    records = _row_records(frame, settings, state, file=file, key=key, name=name,
                           personal=personal, salt=salt)
    records = _finish_records(records, events, model)
    return LoadedSource(name=name, shape="wide", events=events, records=records, stage_log=log,
                        quarantine=q.frame(), reconciliation=pd.DataFrame(
                            [_reconcile(name, file, raw, q)]), notes=notes)


def _row_records(frame: pd.DataFrame, settings: dict, state: pd.DataFrame, *, file: str,
                 key: str, name: str, personal: list[str], salt: str) -> pd.DataFrame:
    """Records of a one-row-per-record file: the row's own columns, the outcome from the log and
    from `status` / `current_stage` when the file has them."""
    cols = settings["columns"]
    idx = pd.Index(frame["_record_id"].astype("string"), name="record_id")
    records = pd.DataFrame(index=idx)
    records["outcome"] = state["outcome"].reindex(idx).fillna("open").to_numpy() if len(
        state) else "open"
    records["closed_at"] = (state["closed_at"].reindex(idx).to_numpy() if len(state)
                            else pd.NaT)
    for role in ("created_at", "closed_at"):
        if role in cols:
            col = _find_column(frame, cols[role], role=role, file=file, key=key)
            p = parse_dates(frame[col], date_format=settings.get("date_format"), file=file,
                            column=col)
            vals = pd.Series(p.values.to_numpy(), index=idx)
            records[role] = vals if role == "created_at" else records[role].where(
                records[role].notna(), vals)
    _add_value_and_attributes(records, frame, settings, file=file, key=key,
                              attr_key=f"sources[{name}]", personal=personal, salt=salt)
    return records


def _add_value_and_attributes(target: pd.DataFrame, frame: pd.DataFrame, settings: dict, *,
                              file: str, key: str, attr_key: str, personal: list[str],
                              salt: str) -> None:
    """Fill `target` (one row per row of `frame`) with the amount and the segment attributes."""
    cols = settings["columns"]
    if "value" in cols:
        col = _find_column(frame, cols["value"], role="value", file=file, key=key)
        target["value"] = parse_numbers(frame[col], decimal=settings.get("decimal"),
                                        thousands=settings.get("thousands"), file=file,
                                        column=col).values.to_numpy()
    attrs = _attributes(frame, settings.get("attributes", {}), file=file, key=attr_key,
                        personal=personal, salt=salt)
    for col in attrs.columns:
        target[col] = attrs[col].to_numpy()


def _load_snapshot(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                   salt: str, engagement_file: str, name: str, personal: list[str]
                   ) -> LoadedSource:
    """One row per record with its current stage only.

    A snapshot does not say when a record entered each phase. It gives one event at the highest
    phase reached, dated at creation (or, for won records, at the close date); the earlier phases
    count as passed by the skip rule. Counts are right; durations between phases are not measurable
    from a snapshot, and the engagement says so.
    """
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    notes.insert(0, f"{path.name}: snapshot shape: phase entry dates are unknown; durations "
                    f"between phases cannot be measured from it")
    cols = settings["columns"]
    for role in ("current_stage", "created_at"):
        if role not in cols:
            raise DataError(f"a snapshot source needs a `{role}` column", file=file,
                            fix=f"set `{key}.{role}`, or use a preset")
    frame = _dedupe_records(_common_rows(raw, settings, q, file=file, key=key), q)
    stage_col = _find_column(frame, cols["current_stage"], role="current_stage", file=file,
                             key=key)
    frame = _map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q, file=file,
                        engagement=engagement_file)
    frame, created = _dates(frame, cols["created_at"], settings, q, role="created", file=file,
                            key=key, required=True)
    closed = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    if "closed_at" in cols:
        frame, closed = _dates(frame, cols["closed_at"], settings, q, role="closed", file=file,
                               key=key, required=False)
    target = frame["_target"].astype(str)
    if "status" in cols:  # Pipedrive keeps the stage and says won/lost in a status column
        status = _text(frame[_find_column(frame, cols["status"], role="status", file=file,
                                          key=key)]).str.casefold()
        target = target.where(status != "won", model.won_phase)
        is_lost = (status == "lost") | (target == LOST)
    elif "is_won" in cols and "is_closed" in cols:
        won = parse_flags(frame[cols["is_won"]], true_values=settings["true_values"]).fillna(False)
        closed_flag = parse_flags(frame[cols["is_closed"]],
                                  true_values=settings["true_values"]).fillna(False)
        target = target.where(~won.astype(bool), model.won_phase)
        is_lost = (closed_flag.astype(bool) & ~won.astype(bool)) | (target == LOST)
    else:
        is_lost = target == LOST
    # Where was a lost record lost? The `lost_at_stage` column, or (Pipedrive) its current stage.
    lost_at = pd.Series(pd.NA, index=frame.index, dtype="object")
    if "lost_at_stage" in cols:
        col = _find_column(frame, cols["lost_at_stage"], role="lost_at_stage", file=file, key=key)
        lost_at = model.map_stages(_text(frame[col])).set_axis(frame.index)
        bad = is_lost & _text(frame[col]).notna() & (lost_at.isna() | ~lost_at.isin(model.keys))
        frame = q.add(frame, bad, "lost-at stage " + frame[col].astype(str).map(repr)
                      + " does not map to a phase", column=col, values=frame[col])
        lost_at, target, is_lost = lost_at[frame.index], target[frame.index], is_lost[frame.index]
        created, closed = created[frame.index], closed[frame.index]
    current_phase = target.where(target.isin(model.keys))
    reached = current_phase.where(~is_lost, lost_at.where(lost_at.isin(model.keys),
                                                         current_phase))
    outcome = np.where(is_lost, "lost", np.where(target == model.won_phase, "won", "open"))
    at = created.where(outcome != "won", closed.fillna(created))
    rows = pd.DataFrame({"record_id": frame["_record_id"].astype("string"), "target": reached,
                         "at": at, "source_stage": frame["_stage"].astype("string"),
                         "source_row": frame["source_row"]})
    has = rows["target"].notna()
    events = pd.DataFrame({
        "record_id": rows.loc[has, "record_id"],
        "phase": pd.Categorical(rows.loc[has, "target"], dtype=model.dtype),
        "entered_at": rows.loc[has, "at"].astype("datetime64[ns]"),
        "source_stage": rows.loc[has, "source_stage"], "source_row": rows.loc[has, "source_row"],
        "source": name}).reset_index(drop=True)
    log = pd.DataFrame({"record_id": rows["record_id"], "at": rows["at"],
                        "target": np.where(is_lost, LOST, rows["target"].astype(object)),
                        "source_stage": rows["source_stage"], "source_row": rows["source_row"],
                        "source": name})
    log = log[log["target"].notna()].reset_index(drop=True)
    state = pd.DataFrame({"outcome": outcome,
                          "closed_at": closed.where(outcome != "open").to_numpy()},
                         index=pd.Index(frame["_record_id"].astype("string")))
    state = state[~state.index.duplicated()]
    scols = {k: v for k, v in cols.items() if k not in ("closed_at",)}
    records = _row_records(frame, {**settings, "columns": scols}, state, file=file, key=key,
                           name=name, personal=personal, salt=salt)
    records = _finish_records(records, events, model)
    return LoadedSource(name=name, shape="snapshot", events=events, records=records,
                        stage_log=log, quarantine=q.frame(),
                        reconciliation=pd.DataFrame([_reconcile(name, file, raw, q)]), notes=notes)


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows counted per kind of reason (row numbers and quoted values folded), e.g.
    all "duplicate of row N" together. Columns `source, reason, rows`, most rows first."""
    kind = (quarantine["reason"].astype(str)
            .str.replace(r"row \d+", "row N", regex=True)
            .str.replace(r"^(unparseable date|unparseable number|unknown stage|stage|lost-at stage) "
                         r"'[^']*'", r"\1 '…'", regex=True))
    out = (quarantine.assign(reason=kind).groupby(["source", "reason"]).size().rename("rows")
           .reset_index().sort_values("rows", ascending=False, kind="stable"))
    return out.reset_index(drop=True)
