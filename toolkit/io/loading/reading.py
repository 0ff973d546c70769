"""Reading one input into a raw table of text: the bytes the engagement read once, the checks
of the file (regular, not too wide, the title lines above the header), CSV and Excel."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.io.limits import (
    MAX_COLUMNS,
    MAX_FIELD_CHARS,
    MAX_SOURCE_BYTES,
    LimitError,
    check_regular_file,
    check_workbook_size,
    read_limited,
)
from toolkit.io.loading.delimited import decoded_body, head_lines, read_delimited
from toolkit.io.loading.headers import drop_absent_preset_columns
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.settings import ReadingSettings, SourceSettings

__all__ = [
    "read_table",
]


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    return max(counts, key=counts.__getitem__)


@shared_docs
def read_table(path: Path, reading: ReadingSettings | None = None, *,
               notes: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or XLSX as raw values (strings from CSV; XLSX keeps its dates and numbers).

    Parameters
    ----------
    path : Path
        The file (``.csv``, ``.txt``, ``.tsv``, ``.xlsx``, ``.xlsm``, ``.xls``).
    reading : ReadingSettings, optional
        The file's reading settings: ``header_row`` (default 1), ``encoding``, ``delimiter``,
        ``sheet`` (None: all detected).
    {shared.notes}

    Returns
    -------
    DataFrame
        One row per data row, with ``source_row`` (1-based as a spreadsheet shows it: the
        header is row 1).

    Raises
    ------
    DataError
        An empty, unreadable or oversized file, an encoding that does not decode it, or a
        header row that is not the header; each names the file and the fix.

    Notes
    -----
    The CSV encoding defaults to UTF-8 (with or without BOM) and falls back to cp1252, the
    Windows encoding of Dutch Excel exports, with a note.
    """
    check_source_file(path)
    suffix = path.suffix.lower()
    reading = reading if reading is not None else ReadingSettings(path=str(path))
    header_row = reading.header_row or 1
    data = _input_bytes(path)
    if not data or data.isspace():  # (strip() would copy a big file)
        raise DataError(f"the file is empty ({len(data)} bytes)", file=str(path),
                        fix="export it again from the CRM and check that the export finished")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = _read_workbook(path, reading.sheet, header_row, data=data)
    elif suffix in (".csv", ".txt", ".tsv"):
        if data[:4] == b"PK\x03\x04":  # the zip signature every .xlsx starts with
            raise DataError("this is an Excel workbook saved under a .csv name", file=str(path),
                            fix=f"rename it to {path.stem}.xlsx (and the source's `path`), or save "
                                f"it from Excel as CSV")
        encoding = reading.encoding
        tried = [encoding] if encoding else ["utf-8-sig", "cp1252"]
        if not encoding and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            tried = ["utf-16"]  # Excel's "Unicode text" export starts with a UTF-16 byte-order mark
        body = kind = None
        for enc in tried:
            try:
                body, kind = decoded_body(data, enc)
                if enc in ("cp1252", "utf-16") and notes is not None and not encoding:
                    notes.append(f"{path.name}: not UTF-8; read as {enc}. Set `encoding:` to make "
                                 f"this explicit.")
                break
            except UnicodeDecodeError as exc:
                bad = exc
            except LookupError:
                raise DataError(f"{enc!r} is not an encoding Python knows", file=str(path),
                                value=enc, fix="set `encoding:` to e.g. utf-8, cp1252 or latin-1"
                                ) from None
        if body is None or kind is None:  # (set together)
            line = data[: bad.start].count(b"\n") + 1
            raise DataError(f"cannot decode with encoding {tried[-1]!r} ({bad.reason})",
                            file=str(path), row=line, value=data[bad.start:bad.end],
                            fix="set `encoding:` to the file's encoding (utf-8, cp1252, latin-1)")
        del data  # the file's bytes are no longer needed (a big export is hundreds of MB)
        lines, whole = head_lines(body, kind, header_row + 19)
        if whole and len(lines) < header_row:
            raise DataError(f"the file has {len(lines)} line(s), so row {header_row} cannot be the "
                            f"header", file=str(path), value=header_row,
                            fix="check `header_row:` on this source (1 = the first line)")
        header_line = lines[header_row - 1]
        delimiter = reading.delimiter or _sniff_delimiter(header_line)
        _check_width(header_line.count(delimiter) + 1, file=str(path), row=header_row)
        _check_title_lines(lines, delimiter, header_row, file=str(path))
        frame = read_delimited(body, kind, delimiter, header_row, file=str(path))
        if frame.shape[1] == 1:
            other = _sniff_delimiter(header_line)
            if other != delimiter and header_line.count(other):
                raise DataError(
                    f"the header reads as one column with delimiter {delimiter!r}; the file seems "
                    f"to use {other!r}", file=str(path), row=header_row,
                    fix=f"set `delimiter: {other!r}` on this source (or remove `delimiter:` to "
                        f"detect it)")
    else:
        raise DataError(f"unsupported file type {suffix!r}", file=str(path),
                        fix="export as .csv or .xlsx")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise DataError(f"the file has a header (row {header_row}) but no data rows below it",
                        file=str(path),
                        fix="export it again without a filter that excludes every deal, or remove "
                            "this source")
    first = header_row + 1  # spreadsheet numbering: the row below the header
    frame["source_row"] = np.arange(first, len(frame) + first)
    return frame


# The bytes of each input, read once by the engagement (which hashes them for its cache key and the
# run's manifest) and handed to the reader here, so the tables come from exactly the bytes that were
# hashed, even when a file changes while it is being loaded.
_INPUTS: dict[str, bytes] = {}


@contextlib.contextmanager
def read_inputs(inputs: dict[Path, bytes]) -> Iterator[None]:
    """Within this block, `read_table` takes each file's bytes from `inputs` instead of reading
    the file again.

    Parameters
    ----------
    inputs : dict of Path to bytes
        The files' bytes by path, as read (and checked) once before. A reader takes them out,
        so a big export is not held twice.
    """
    paths = [str(path) for path in inputs]
    _INPUTS.update({str(path): data for path, data in inputs.items()})
    del inputs  # only _INPUTS holds the bytes now, and a reader takes them out of it
    try:
        yield
    finally:
        for path in paths:
            _INPUTS.pop(path, None)


def _input_bytes(path: Path) -> bytes:
    data = _INPUTS.pop(str(path), None)
    if data is not None:
        return data
    try:
        return read_limited(path, limit=MAX_SOURCE_BYTES, what="export")
    except LimitError as exc:
        raise DataError(str(exc), file=str(path), fix=exc.fix) from None


def source_path(base_dir: Path, path: str) -> Path:
    """A source's absolute path, ``..`` folded but links not followed.

    Parameters
    ----------
    base_dir : Path
        The folder of the engagement YAML.
    path : str
        The source's ``path`` as the YAML gives it.

    Returns
    -------
    Path
        The absolute path. Links stay unresolved, so an error names the file the YAML names
        (not what a link points at), and a link that loops is reported, not a crash.
    """
    import os
    return Path(os.path.abspath(base_dir / path))


def check_source_file(path: Path) -> None:
    """Refuse a source file that is not a regular file within the limits of `toolkit.io.limits`.

    Parameters
    ----------
    path : Path
        The source file.

    Raises
    ------
    DataError
        The file does not exist, is a pipe or a device (a source pointing at /dev/zero would be
        read until memory runs out) or is over a size limit, checked before a byte is read.
    """
    try:
        check_regular_file(path, limit=MAX_SOURCE_BYTES, what="export")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            check_workbook_size(path)
    except FileNotFoundError:
        raise DataError("file not found", file=str(path),
                        fix="check `path` of this source (relative paths are relative to the "
                            "engagement YAML)") from None
    except LimitError as exc:
        raise DataError(str(exc), file=repr(str(path))[1:-1], row=exc.row, column=exc.column,
                        fix=exc.fix) from None


def _check_width(columns: int, *, file: str, row: int) -> None:
    if columns > MAX_COLUMNS:
        raise DataError(f"the header has {columns:,} columns, over the limit of {MAX_COLUMNS:,}",
                        file=file, row=row,
                        fix="export only the columns the analysis needs, or check `delimiter:`")


def _check_title_lines(lines: list[str], delimiter: str, header_row: int, *, file: str) -> None:
    """A title line above the table ("Export pipeline 30-06-2025") reads as a one-column header;
    find the row that looks like the real header and say how to declare it."""
    import csv
    head = lines[header_row - 1: header_row + 19]
    counts = []
    reader = csv.reader(head, delimiter=delimiter)
    try:
        for row in reader:
            counts.append(len(row))
    except csv.Error as exc:
        raise DataError(f"a field could not be read ({exc}); a field over {MAX_FIELD_CHARS:,} "
                        f"characters or an unclosed quote", file=file,
                        row=header_row + reader.line_num - 1,
                        fix="check that row in a text editor: close the quote, or shorten the "
                            "field") from None
    if not counts or counts[0] != 1:
        return
    for offset, n in enumerate(counts[1:], start=1):
        if n > 1:
            header_guess = header_row + offset
            raise DataError(
                f"row {header_row} holds one field ({head[0][:60]!r}) but row {header_guess} has "
                f"{n}; row {header_guess} looks like the header", file=file, row=header_guess,
                fix=f"set `header_row: {header_guess}` on this source in the engagement YAML (or check "
                    f"`delimiter:`, now {delimiter!r})")


def _read_workbook(path: Path, sheet: str | int | None, header_row: int,
                   data: bytes | None = None) -> pd.DataFrame:
    from io import BytesIO

    from openpyxl import load_workbook
    book = path if data is None else BytesIO(data)  # the bytes read once (see read_inputs)
    try:
        names = load_workbook(book, read_only=True).sheetnames
    except Exception as exc:  # openpyxl raises zip, XML and key errors for a damaged file
        raise DataError(f"cannot open the workbook ({type(exc).__name__}: {exc})", file=str(path),
                        fix="open it in Excel and save it again as .xlsx") from None
    if isinstance(sheet, str) and sheet not in names:
        raise DataError(f"the workbook has no sheet {sheet!r}; its sheets are {names}",
                        file=str(path), value=sheet,
                        fix="set `sheet:` to one of those names (or a 0-based position)")
    if isinstance(sheet, int) and not 0 <= sheet < len(names):
        raise DataError(f"the workbook has {len(names)} sheet(s) {names}, so there is no sheet at "
                        f"position {sheet}", file=str(path), value=sheet,
                        fix="set `sheet:` to one of those names (or a 0-based position)")
    try:
        frame = pd.read_excel(book, sheet_name=0 if sheet is None else sheet, dtype=object,
                              engine="openpyxl", header=header_row - 1)
    except Exception as exc:  # a damaged sheet inside a sound zip: XML, zip and value errors
        raise DataError(f"cannot read the sheet ({type(exc).__name__}: {str(exc)[:200]})",
                        file=str(path), fix="open it in Excel and save it again as .xlsx") from None
    _check_width(frame.shape[1], file=str(path), row=header_row)
    return frame


class OpenedSource(NamedTuple):
    """A source's file as read: its settings without the preset's columns it lacks, its path
    (and as text), the notes so far, the raw rows, its quarantine and the YAML key of its
    columns."""

    settings: SourceSettings
    path: Path
    file: str
    notes: list[str]
    raw: pd.DataFrame
    q: Quarantine
    key: str


def open_source(settings: SourceSettings, base_dir: Path, name: str) -> OpenedSource:
    """Read a source's file (see :class:`OpenedSource`)."""
    path = source_path(base_dir, settings.path)
    notes: list[str] = []
    raw = read_table(path, settings, notes=notes)
    settings = drop_absent_preset_columns(raw, settings, file=str(path), notes=notes)
    return OpenedSource(settings, path, str(path), notes, raw, Quarantine(name, str(path)),
                        f"sources[{name}].columns")
