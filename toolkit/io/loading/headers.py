"""The source's settings and its header: the settings a source resolves to (preset and
given), the checks that every named column is there, and finding a column by its header."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.io.config import SourceConfig
from toolkit.io.loading.settings import EngagementReading, ReadingSettings, SourceSettings
from toolkit.io.presets import preset_defaults

__all__ = [
    "resolve_source",
]

_S = TypeVar("_S", bound=ReadingSettings)


def check_header(raw: pd.DataFrame, settings: ReadingSettings, *, file: str, key: str) -> None:
    """When the configured headers are not in the header row but a row below holds them (a title
    above the table), say which row and how to declare it."""
    wanted = [h for h in list(settings.columns.values())
              + list(settings.attributes.values()) if isinstance(h, str)]
    columns = [str(c).strip() for c in raw.columns]
    for header in wanted:
        # pandas renames a repeated header 'Datum' to 'Datum.1': which one is meant is unknowable
        if header in columns and f"{header}.1" in columns and f"{header}.1" not in wanted:
            positions = [i + 1 for i, c in enumerate(columns) if re.fullmatch(
                re.escape(header) + r"(\.\d+)?", c)]
            raise DataError(f"the header {header!r} appears {len(positions)} times (columns "
                            f"{positions})", file=file, column=header,
                            fix="rename the copies in the file (or drop them) so each header the "
                                "YAML names is unique")
    have = {c.casefold() for c in columns}
    missing = {h.strip().casefold() for h in wanted} - have
    if not missing:
        return
    header_row = settings.header_row or 1
    for i in range(min(len(raw), 20)):
        cells = {str(v).strip().casefold() for v in raw.iloc[i].tolist() if pd.notna(v)}
        if missing <= cells:
            row = header_row + 1 + i
            raise DataError(
                f"the headers {sorted(h for h in wanted if h.strip().casefold() in missing)} are "
                f"not in row {header_row}; row {row} looks like the header", file=file, row=row,
                fix=f"set `header_row: {row}` on this source in the engagement YAML "
                    f"({key.rsplit('.', 1)[0]})")
    _refuse_data_row_as_header(settings, wanted, missing, file=file, cells=columns)


# A cell no header holds: a date, a number or an e-mail address.
_DATA_CELL = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|^[-+]?[\d.,\s]*\d[\d.,\s]*$|@")


def _refuse_data_row_as_header(settings: ReadingSettings, wanted: list[str], missing: set[str], *,
                               file: str, cells: list[str]) -> None:
    """A header row that holds none of the YAML's headers is most likely a data row when it is
    declared (`header_row:`), or when its cells hold dates, numbers or e-mail addresses: say so
    without listing its cells, which may be names or e-mail addresses."""
    header_row = settings.header_row
    if (not header_row and wanted and missing >= {h.strip().casefold() for h in wanted}
            and any(_DATA_CELL.search(cell) for cell in cells if cell != "source_row")):
        # A file without its header row: "the file has [...]" would list a deal's values, names
        # and e-mail addresses included.
        raise DataError(
            f"row 1 holds none of the {len(wanted)} headers the YAML names "
            f"({sorted(wanted)[:5]}); it looks like a data row: the file seems to have no header "
            f"row (its cells are not shown: they may be personal data)", file=file, row=1,
            fix="export the file again with its header row, or set the source's `columns:` and "
                "`attributes:` to the file's own headers (open the file to see them)")
    if header_row and wanted and missing >= {h.strip().casefold() for h in wanted}:
        raise DataError(
            f"row {header_row} (`header_row: {header_row}`) holds none of the {len(wanted)} "
            f"headers the YAML names; it looks like a data row (its cells are not shown: they may "
            f"be personal data)", file=file, row=header_row,
            fix="set `header_row:` to the row with the column names (open the file to see it), or "
                "remove it to use the first row")


@shared_docs
def find_column(frame: pd.DataFrame | pd.Index, header: str, *, role: str, file: str, key: str
                ) -> str:
    """The column named `header`, case-insensitively.

    Parameters
    ----------
    frame : DataFrame or Index
        The file's rows, or its headers.
    header : str
        The header the YAML names.
    role : str
        What the column is for (``record_id``, ``created_at``), named in the error and its fix.
    {shared.file}
    {shared.key}

    Returns
    -------
    str
        The column as the file spells it.

    Raises
    ------
    DataError
        No column has that name; the error lists the file's columns.
    """
    found = header_in(frame, header)
    if found is not None:
        return found
    columns = frame.columns if isinstance(frame, pd.DataFrame) else frame
    available = [c for c in columns if c != "source_row" and not c.startswith("_")]
    raise DataError(
        f"column {header!r} (for {role}) not found; the file has {available}",
        file=file, column=header,
        fix=f"set `{key}.{role}` in the engagement YAML to the right header",
    )


def header_in(frame: pd.DataFrame | pd.Index, header: str | None) -> str | None:
    """The column named `header`, case-insensitively, or None: :func:`find_column` without the
    error.

    Parameters
    ----------
    frame : DataFrame or Index
        The file's rows, or its headers.
    header : str or None
        The header looked for; None finds None.

    Returns
    -------
    str or None
        The column as the file spells it, or None when there is none.
    """
    columns = frame.columns if isinstance(frame, pd.DataFrame) else frame
    if header is None or header in columns:
        return header
    folded = {c.casefold(): c for c in columns}
    return folded.get(header.casefold())


def _merge(defaults: dict, given: dict) -> dict:
    out = dict(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif value not in (None, {}, []) or key not in out:
            out[key] = value
    return out


def resolve_source(source: SourceConfig, *, engagement: EngagementReading | None = None
                   ) -> SourceSettings:
    """The source's settings with its preset's defaults filled in.

    Parameters
    ----------
    source : SourceConfig
        The source as the engagement YAML declares it.
    engagement : EngagementReading, optional
        What the engagement lends every file (its time zone, as-of date, blank markers, category
        folding and currency); None: the defaults.

    Returns
    -------
    SourceSettings
        The source's settings, its preset's defaults (``preset:``) under what the YAML gives
        (the YAML wins), including those of its per-record file (``records:``), with the
        columns the preset named (not the YAML) in ``preset_columns`` and
        ``preset_attributes``.
    """
    engagement = engagement or EngagementReading()
    given = source.model_dump()
    records_given = given.pop("records")
    records: ReadingSettings | None = None
    preset_columns: dict[str, str] = {}
    preset_attributes: dict[str, str] = {}
    if source.preset:
        defaults = dict(preset_defaults(source.preset, source.shape))
        records_default = defaults.pop("records", None)
        merged = _merge(defaults, given)
        if records_given is not None and records_default:
            records = ReadingSettings.from_keys(
                _merge(records_default, records_given), engagement=engagement,
                preset_columns={role: header
                                for role, header in records_default.get("columns", {}).items()
                                if role not in (records_given.get("columns") or {})})
        elif records_given is not None:
            records = ReadingSettings.from_keys(records_given, engagement=engagement)
        # Which columns the preset supplied (not the YAML): an export without one of its optional
        # columns (a Pipedrive deals list without `Deal - Stage`) still loads, with a note.
        preset_columns = {role: header for role, header in defaults.get("columns", {}).items()
                          if role not in given["columns"]}
        preset_attributes = {name: header
                             for name, header in defaults.get("attributes", {}).items()
                             if name not in given["attributes"]}
    else:
        merged = given
        if records_given is not None:
            records = ReadingSettings.from_keys(records_given, engagement=engagement)
    if not source.dated:
        # A lead list without dates: a preset's date columns are not read (the YAML may not name
        # them at all: see SourceConfig).
        merged["columns"] = {role: header for role, header in merged["columns"].items()
                             if role not in _DATE_ROLES}
    return SourceSettings.from_keys(merged, records=records, preset_columns=preset_columns,
                                    preset_attributes=preset_attributes, engagement=engagement)


_DATE_ROLES = ("created_at", "closed_at", "changed_at")

# Roles a preset may name that an export can lack: the loader then does without them.
_OPTIONAL_PRESET_ROLES = ("current_stage", "value", "closed_at", "lost_at_stage", "is_deleted",
                          "is_closed", "is_won", "currency", "is_active")


def drop_absent_preset_columns(raw: pd.DataFrame, settings: _S, *, file: str,
                                notes: list[str]) -> _S:
    """The settings without the preset's optional columns (and attributes) that `raw` lacks:
    the loader does without them, and the notes say which."""
    have = {str(c).strip().casefold() for c in raw.columns}
    dropped, roles, names = [], [], []
    for role, header in settings.preset_columns.items():
        if role in _OPTIONAL_PRESET_ROLES and header.casefold() not in have:
            if role == "current_stage" and "status" not in settings.columns:
                continue  # without a status the stage is needed: "column not found" says so
            roles.append(role)
            if role != "currency":  # a one-currency org exports no currency column: no news
                dropped.append(header)
    for name, header in settings.preset_attributes.items():
        if header.casefold() not in have:
            names.append(name)
            dropped.append(header)
    if dropped:
        notes.append(f"{Path(file).name}: the preset's column(s) {dropped} are not in this export; "
                     f"loaded without them")
    return settings.without(columns=tuple(roles), attributes=tuple(names))
