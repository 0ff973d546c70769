"""Loading CRM exports (history, wide, snapshot) into the tidy events/records tables.

Every source row is either used or quarantined with a reason; `rows_in == rows_used +
rows_quarantined` holds per file. Row numbers are as a spreadsheet shows them: the header is row 1
(or the source's `header_row` when title rows sit above it), the first data row the one below it.
Blank rows are quarantined rather than skipped, so the numbers stay those of the file.

Dates are checked for plausibility: a stage or creation date after the engagement's `as_of` (or
today) or before 1990-01-01 is almost always a mistyped year; its row is quarantined with the value.
An unparseable or negative amount is left blank (the row's stage change is still real) and listed in
the notes.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError, UnknownStageError
from toolkit.base.phases import IGNORE, LOST, PhaseModel, normalise_stage
from toolkit.base.vocabulary import reason_codes
from toolkit.io.categories import fold_spellings, read_blank_markers
from toolkit.io.config import RecordsConfig, SourceConfig
from toolkit.io.limits import (
    MAX_AMOUNT,
    MAX_COLUMNS,
    MAX_FIELD_CHARS,
    MAX_SOURCE_BYTES,
    YEARS,
    LimitError,
    check_regular_file,
    check_workbook_size,
    read_limited,
)
from toolkit.io.parsing import ParsedColumn, parse_dates, parse_flags, parse_numbers
from toolkit.io.presets import preset_defaults
from toolkit.io.privacy import PrivacyConfig, PseudonymKey, check_personal, personal_columns, pseudonymise

__all__ = ["LoadedSource", "load_source", "read_table", "resolve_source", "quarantine_summary",
           "check_phase_order",
           "QUARANTINE_COLUMNS",
           "EVENT_COLUMNS", "STAGE_LOG_COLUMNS"]

QUARANTINE_COLUMNS = ["source", "file", "source_row", "record_id", "column", "value", "reason",
                      "reason_code"]
EVENT_COLUMNS = ["record_id", "phase", "entered_at", "source_stage", "source_row", "source"]
STAGE_LOG_COLUMNS = ["record_id", "at", "target", "source_stage", "source_row", "source"]


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
    check_source_file(path)
    suffix = path.suffix.lower()
    header_row = reading.get("header_row") or 1
    data = _input_bytes(path)
    if not data or data.isspace():  # (strip() would copy a big file)
        raise DataError(f"the file is empty ({len(data)} bytes)", file=str(path),
                        fix="export it again from the CRM and check that the export finished")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = _read_workbook(path, reading.get("sheet"), header_row, data=data)
    elif suffix in (".csv", ".txt", ".tsv"):
        if data[:4] == b"PK\x03\x04":  # the zip signature every .xlsx starts with
            raise DataError("this is an Excel workbook saved under a .csv name", file=str(path),
                            fix=f"rename it to {path.stem}.xlsx (and the source's `path`), or save "
                                f"it from Excel as CSV")
        encoding = reading.get("encoding")
        tried = [encoding] if encoding else ["utf-8-sig", "cp1252"]
        if not encoding and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            tried = ["utf-16"]  # Excel's "Unicode text" export starts with a UTF-16 byte-order mark
        body = kind = None
        for enc in tried:
            try:
                body, kind = _decoded(data, enc)
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
        if body is None:
            line = data[: bad.start].count(b"\n") + 1
            raise DataError(f"cannot decode with encoding {tried[-1]!r} ({bad.reason})",
                            file=str(path), row=line, value=data[bad.start:bad.end],
                            fix="set `encoding:` to the file's encoding (utf-8, cp1252, latin-1)")
        del data  # the file's bytes are no longer needed (a big export is hundreds of MB)
        lines, whole = _head_lines(body, kind, header_row + 19)
        if whole and len(lines) < header_row:
            raise DataError(f"the file has {len(lines)} line(s), so row {header_row} cannot be the "
                            f"header", file=str(path), value=header_row,
                            fix="check `header_row:` on this source (1 = the first line)")
        header_line = lines[header_row - 1]
        delimiter = reading.get("delimiter") or _sniff_delimiter(header_line)
        _check_width(header_line.count(delimiter) + 1, file=str(path), row=header_row)
        _check_title_lines(lines, delimiter, header_row, file=str(path))
        frame = _read_delimited(body, kind, delimiter, header_row, file=str(path))
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
def read_inputs(inputs: dict[Path, bytes]):
    """Within this block, `read_table` takes each file's bytes from `inputs` (once: a reader
    consumes them, so a big export is not held twice) instead of reading the file again."""
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
    """A source's absolute path, `..` folded but links not followed: an error names the file the
    YAML names (not what a link points at), and a link that loops is reported, not a crash."""
    import os
    return Path(os.path.abspath(base_dir / path))


def check_source_file(path: Path) -> None:
    """Only a regular file within the limits of `toolkit.io.limits` is read: never a pipe or a device
    (a source pointing at /dev/zero would be read until memory runs out), with its size checked
    before a byte is read."""
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
            row = header_row + offset
            raise DataError(
                f"row {header_row} holds one field ({head[0][:60]!r}) but row {row} has {n}; row "
                f"{row} looks like the header", file=file, row=row,
                fix=f"set `header_row: {row}` on this source in the engagement YAML (or check "
                    f"`delimiter:`, now {delimiter!r})")


# Single-byte encodings whose bytes below 0x80 are ASCII: the delimiter, quotes and line ends of a
# file in one of them are the same bytes as in UTF-8, so the file can be split into fields before
# its text is decoded (and only the values with other bytes need decoding).
_ASCII_SINGLE_BYTE = ("cp1252", "iso8859-1", "iso8859-15")
_DECODE_CHUNK = 1 << 24
_MAX_ARROW_COLUMNS = 4096  # wider files are read by pandas


def _decoded(data: bytes, encoding: str) -> tuple[bytes | memoryview, str]:
    """The file's bytes checked against `encoding`, without its byte-order marks, as (body, kind).

    `kind` is "utf-8" when the body is UTF-8, or the single-byte encoding the body is still in.
    Raises UnicodeDecodeError (the one `data.decode(encoding)` raises) when the file is not in
    that encoding, LookupError for an unknown encoding. Other encodings (UTF-16) are decoded and
    re-encoded as UTF-8. Nothing holds the whole text as a Python string: a 300 MB export would
    need up to four times that.
    """
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for start in range(0, len(data), _DECODE_CHUNK):
                decoder.decode(data[start:start + _DECODE_CHUNK])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            data.decode(encoding)  # raises the same error with its position in the whole file
            raise
        start = 0
        while data.startswith(_UTF8_BOM, start):
            start += len(_UTF8_BOM)
        return memoryview(data)[start:], "utf-8"
    if name in _ASCII_SINGLE_BYTE:
        undefined = [bytes([b]) for b in range(0x80, 0x100) if _undefined(bytes([b]), name)]
        if any(b in data for b in undefined):
            data.decode(encoding)  # raises the error naming the first undefined byte
        return data, name
    return data.decode(encoding).lstrip("\ufeff").encode("utf-8"), "utf-8"


_UTF8_BOM = codecs.BOM_UTF8


def _undefined(byte: bytes, encoding: str) -> bool:
    try:
        byte.decode(encoding)
    except UnicodeDecodeError:
        return True
    return False


def _head_lines(body: bytes | memoryview, kind: str, wanted: int) -> tuple[list[str], bool]:
    """The file's first `wanted` lines or more (as `str.splitlines` splits the whole text), and
    whether they are all of them. Decodes a prefix cut at a line feed, doubled until it holds
    enough lines."""
    size = 1 << 16
    while True:
        if size >= len(body):
            return bytes(body).decode(kind).splitlines(), True
        prefix = bytes(body[:size])
        cut = prefix.rfind(b"\n")
        if cut >= 0:
            lines = prefix[:cut + 1].decode(kind).splitlines()
            if len(lines) >= wanted:
                return lines, False
        size *= 2


def _read_delimited(body: bytes | memoryview, kind: str, delimiter: str, header_row: int, *,
                    file: str) -> pd.DataFrame:
    """The rows below the header as text (blank cells missing), with pandas' semantics: a row
    with fewer fields is filled with blanks, one with more is an error; blank lines are rows.

    Read with pyarrow's multithreaded CSV reader when the file is regular (every row as wide as
    the header, unique non-blank headers): it parses 5-8x faster than pandas' and gives the same
    frame. Anything else is read by pandas, so its rules (and messages) apply unchanged.
    """
    frame = _read_delimited_arrow(body, kind, delimiter, header_row)
    if frame is not None:
        return frame
    from io import StringIO
    text = bytes(body).decode(kind)
    try:
        # Blank lines are kept (and quarantined later) so row numbers stay those of the file.
        frame = pd.read_csv(StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=[""], skipinitialspace=False, engine="c",
                            header=header_row - 1, skip_blank_lines=False)
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas reads a first data row with more fields than the header as "the first
            # column(s) are the index" and shifts every column of the file: refused, as the same
            # row further down is.
            raise DataError(
                f"the row has {frame.shape[1] + frame.index.nlevels} fields where the header has "
                f"{frame.shape[1]}", file=file, row=header_row + 1,
                fix=f"check `delimiter:` (now {delimiter!r}); a value containing {delimiter!r} must "
                    f"be in double quotes")
        return frame
    except pd.errors.EmptyDataError:
        raise DataError(f"no header in row {header_row}", file=file, row=header_row,
                        fix="check `header_row:` and that the export is not empty") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            want, line, saw = (int(g) for g in found.groups())
            raise DataError(
                f"the row has {saw} fields where the header has {want}", file=file, row=line,
                fix=f"check `delimiter:` (now {delimiter!r}); a value containing {delimiter!r} must "
                    f"be in double quotes") from None
        raise DataError(f"not a valid delimited file ({exc})", file=file,
                        fix=f"check `delimiter:` (now {delimiter!r}) and quoting") from None


def _read_delimited_arrow(body: bytes | memoryview, kind: str, delimiter: str, header_row: int
                          ) -> pd.DataFrame | None:
    """The frame `pd.read_csv` would give, parsed by pyarrow; None when the file is not regular
    enough to be sure of that (the caller then reads it with pandas)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    if header_row != 1 or len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        return None
    irregular: list[int] = []

    def refuse(row: Any) -> str:  # a row wider or narrower than the header: pandas decides
        irregular.append(1)
        return "skip"

    text_type = pa.large_string() if kind == "utf-8" else pa.large_binary()
    try:
        # The header is read as row 0, so that pyarrow splits it too (not a second parser).
        table = pacsv.read_csv(pa.py_buffer(body), read_options=pacsv.ReadOptions(
            autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                             newlines_in_values=_has_quotes(body),
                                             ignore_empty_lines=False,
                                             # pyarrow decodes a row as UTF-8 before it calls a
                                             # handler (a traceback on a cp1252 row): without
                                             # one, an irregular row is an ArrowInvalid
                                             invalid_row_handler=refuse if kind == "utf-8"
                                             else None),
            convert_options=pacsv.ConvertOptions(
                check_utf8=False, strings_can_be_null=True, null_values=[""],
                column_types={f"f{i}": text_type for i in range(_MAX_ARROW_COLUMNS)}))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if irregular or not table.num_rows or any(t != text_type for t in table.schema.types):
        return None
    names = [column[0].as_py() for column in table.columns]
    if any(n is None for n in names):
        return None  # pandas names a blank header 'Unnamed: 3'
    names = [n.decode(kind) if isinstance(n, bytes) else n for n in names]
    if len(set(names)) != len(names):
        return None  # pandas renames a repeated header ('Datum.1')
    columns = table.slice(1).columns
    del table
    release_arrow_memory()
    for i in range(len(columns)):  # one column at a time, each freed once replaced
        column = columns[i] if kind == "utf-8" else _decode_column(columns[i], kind)
        # One chunk per column, as pandas builds it: a take (each filter of the rows) on the
        # reader's hundreds of chunks costs more than this one copy.
        columns[i] = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        del column
        release_arrow_memory()
    return pa.table(columns, names=names).to_pandas()  # text columns as pandas' `str` dtype


def release_arrow_memory() -> None:
    """Give the memory Arrow freed back to the system. Arrow's allocator keeps freed memory for
    its own later use, and NumPy and Python cannot use it: on a big export the process grew by
    hundreds of MB of memory no table held."""
    import pyarrow as pa
    pa.default_memory_pool().release_unused()


def _has_quotes(body: bytes | memoryview) -> bool:
    """Whether the file has a double quote at all. Without one no value can hold a line break,
    and pyarrow reads the file in parallel blocks cut at line ends (twice as fast)."""
    return b'"' in (body.obj if isinstance(body, memoryview) else body)


def _decode_column(column: Any, encoding: str) -> Any:
    """A column of single-byte-encoded values as UTF-8 text. Pure ASCII values are already UTF-8;
    the others are decoded once per distinct value (a few names with accents, typically)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if all(chunk.buffers()[2] is None
           or not np.frombuffer(chunk.buffers()[2], dtype=np.uint8).max(initial=0) & 0x80
           for chunk in column.chunks):
        return column.cast(pa.large_string())
    codes = pc.dictionary_encode(column.combine_chunks())
    decoded = pa.array([v.decode(encoding) for v in codes.dictionary.to_pylist()],
                       type=pa.large_string())
    return decoded.take(codes.indices)


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


def _check_header(raw: pd.DataFrame, settings: dict, *, file: str, key: str) -> None:
    """When the configured headers are not in the header row but a row below holds them (a title
    above the table), say which row and how to declare it."""
    wanted = [h for h in list(settings.get("columns", {}).values())
              + list(settings.get("attributes", {}).values()) if isinstance(h, str)]
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
    header_row = settings.get("header_row") or 1
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


def _refuse_data_row_as_header(settings: dict, wanted: list[str], missing: set[str], *,
                               file: str, cells: list[str]) -> None:
    """A header row that holds none of the YAML's headers is most likely a data row when it is
    declared (`header_row:`), or when its cells hold dates, numbers or e-mail addresses: say so
    without listing its cells, which may be names or e-mail addresses."""
    header_row = settings.get("header_row")
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


def find_column(frame: pd.DataFrame | pd.Index, header: str, *, role: str, file: str, key: str
                ) -> str:
    """The column of `frame` (or among the headers `frame`) named `header`, case-insensitively."""
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
    """`find_column` without the error: the matching column, or None."""
    columns = frame.columns if isinstance(frame, pd.DataFrame) else frame
    if header is None or header in columns:
        return header
    folded = {c.casefold(): c for c in columns}
    return folded.get(header.casefold())


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
            settings["records"]["_preset_columns"] = {
                role: header for role, header in records_default.get("columns", {}).items()
                if role not in (records_given.get("columns") or {})}
        else:
            settings["records"] = records_given
    else:
        settings = given
        settings["records"] = records_given
    if not source.dated:
        # A lead list without dates: a preset's date columns are not read (the YAML may not name
        # them at all: see SourceConfig).
        settings["columns"] = {role: header for role, header in settings["columns"].items()
                               if role not in _DATE_ROLES}
    if source.preset:
        # Which columns the preset supplied (not the YAML): an export without one of its optional
        # columns (a Pipedrive deals list without `Deal - Stage`) still loads, with a note.
        settings["_preset_columns"] = {
            role: header for role, header in defaults.get("columns", {}).items()
            if role not in given["columns"]}
        settings["_preset_attributes"] = {
            name: header for name, header in defaults.get("attributes", {}).items()
            if name not in given["attributes"]}
    return settings


_DATE_ROLES = ("created_at", "closed_at", "changed_at")

# Roles a preset may name that an export can lack: the loader then does without them.
_OPTIONAL_PRESET_ROLES = ("current_stage", "value", "closed_at", "lost_at_stage", "is_deleted",
                          "is_closed", "is_won", "currency", "is_active")


def _drop_absent_preset_columns(raw: pd.DataFrame, settings: dict, *, file: str,
                                notes: list[str]) -> None:
    have = {str(c).strip().casefold() for c in raw.columns}
    dropped = []
    for role, header in settings.get("_preset_columns", {}).items():
        if role in _OPTIONAL_PRESET_ROLES and header.casefold() not in have:
            if role == "current_stage" and "status" not in settings["columns"]:
                continue  # without a status the stage is needed: "column not found" says so
            settings["columns"].pop(role, None)
            if role != "currency":  # a one-currency org exports no currency column: no news
                dropped.append(header)
    for name, header in settings.get("_preset_attributes", {}).items():
        if header.casefold() not in have:
            settings.get("attributes", {}).pop(name, None)
            dropped.append(header)
    if dropped:
        notes.append(f"{Path(file).name}: the preset's column(s) {dropped} are not in this export; "
                     f"loaded without them")


# --- helpers ------------------------------------------------------------------------------------

class Quarantine:
    """Collects set-aside rows; a row is quarantined once, with its first reason."""

    def __init__(self, source: str, file: str) -> None:
        self.source, self.file = source, file
        self.parts: list[pd.DataFrame] = []
        self.rows: set[int] = set()

    def add(self, frame: pd.DataFrame, mask: pd.Series,
            reason: pd.Series | str | Callable[[pd.DataFrame], pd.Series], *,
            code: pd.Series | str, column: str | None = None, values: pd.Series | None = None,
            record_ids: pd.Series | None = None) -> pd.DataFrame:
        """Quarantine `frame[mask]` and return the remaining rows.

        `reason` is one text, a text per row, or a function giving the texts of the rows set
        aside (so that a message is built only for a row that needs one); `code` is its reason
        code (``toolkit.base.vocabulary.REASONS``), one or one per row."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return frame  # nothing set aside: no copy of every column
        if mask.any():
            hit = frame[mask]
            if callable(reason):
                reasons = reason(hit)
            else:
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
                "reason_code": code if isinstance(code, str) else code[mask].to_numpy(),
            })
            self.parts.append(part)
            self.rows.update(hit["source_row"].tolist())
        return frame[~mask]

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_quarantine()
        out = pd.concat(self.parts, ignore_index=True)
        out = out.astype({"source_row": "int64", "record_id": "string", "value": "string"})
        out["reason_code"] = reason_codes(out["reason_code"], index=out.index)
        return out


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({"source": pd.Series(dtype="object"), "file": pd.Series(dtype="object"),
                         "source_row": pd.Series(dtype="int64"),
                         "record_id": pd.Series(dtype="string"),
                         "column": pd.Series(dtype="object"), "value": pd.Series(dtype="string"),
                         "reason": pd.Series(dtype="object"),
                         "reason_code": reason_codes([])})


def as_text(series: pd.Series) -> pd.Series:
    """The values as trimmed text, blank as missing. (Arrow trims a million values in
    milliseconds: trimming only the distinct values and spreading them back took longer.)"""
    out = series.astype("string").str.strip()
    return out.mask(out == "")


def _map_stages(frame: pd.DataFrame, stage_col: str, model: PhaseModel, *, unknown: str,
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
    target = _per_distinct(frame["_stage"], model.map_stages)
    unknown_mask = target.isna() & frame["_stage"].notna()
    if unknown_mask.any():
        if unknown == "error":
            raise UnknownStageError(file, stage_col, _stage_counts(frame.loc[unknown_mask, "_stage"]),
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


def _per_distinct(values: pd.Series, function: Callable[[pd.Series], pd.Series]) -> pd.Series:
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


def _stage_counts(stages: pd.Series) -> dict[str, int]:
    """Rows per unknown stage, spellings that differ only in case or spaces counted together under
    the most common one (the mapping ignores those differences too)."""
    spelled = stages.map(lambda s: " ".join(str(s).split()))
    counts = spelled.groupby(spelled.map(normalise_stage)).agg(
        rows="size", name=lambda v: v.value_counts().index[0])
    return dict(zip(counts["name"], counts["rows"].astype(int), strict=True))


_MAX_CATEGORY_LEVELS = 50  # more distinct values than this: free text or an identifier


def source_attributes(frame: pd.DataFrame, attributes: dict[str, str], *, file: str, key: str,
                personal: list[str], pseudonym_key: PseudonymKey | None,
                settings: dict | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """The segment attributes of `frame`: declared blank markers (`missing_values`) read as
    missing and spellings differing only in case, spaces, hyphens, invisible characters or
    look-alike letters folded (`fold_categories`),
    both reported in the notes, before any personal column is pseudonymised."""
    settings = settings or {}
    markers = settings.get("_missing_values") or []
    fold = settings.get("_fold_categories", True)
    out = pd.DataFrame(index=frame.index)
    for name, header in attributes.items():
        col = find_column(frame, header, role=name, file=file, key=f"{key}.attributes")
        values = as_text(frame[col])
        values, blanked = read_blank_markers(values, markers)
        folds: list[dict] = []
        if fold:
            values, folds = fold_spellings(values)
        if notes is not None and blanked:
            notes.append(f"{Path(file).name}: {blanked} value(s) of `{name}` are a blank marker "
                         f"({', '.join(map(repr, markers))}) and read as missing")
        if notes is not None and folds:
            rows = sum(f["rows"] for f in folds)
            # Examples only of a real category (few values, not personal): free text such as a
            # lost reason can name people, and a note must never quote them.
            few = values.nunique() <= _MAX_CATEGORY_LEVELS
            shown = "" if name in personal or not few else ": " + "; ".join(
                f"{', '.join(repr(v[:40]) for v in f['variants'])} -> {f['kept'][:40]!r}"
                for f in folds[:5])
            notes.append(f"{Path(file).name}: `{name}` has {len(folds)} categor(ies) spelled "
                         f"more than one way (case, spaces or hyphens); {rows} value(s) folded"
                         f"{shown}. Set `fold_categories: false` to keep them apart")
            alike = [f for f in folds if f["look_alike"]]
            if alike:  # spellings nobody can tell apart on screen: say what made them differ
                kept = "" if name in personal or not few else " (" + ", ".join(
                    ascii(f["kept"][:40]) for f in alike[:5]) + ")"
                notes.append(f"{Path(file).name}: `{name}` has {len(alike)} categor(ies) whose "
                             f"spellings look alike but hold invisible characters (zero-width "
                             f"spaces, direction marks) or letters of another script (a Cyrillic "
                             f"'е' for 'e'){kept}; folded into the most common spelling. Correct "
                             f"them in the CRM")
        out[name] = pseudonymise(values, pseudonym_key) if name in personal else values
    return out


@dataclass(frozen=True)
class _Runs:
    """Rows sorted by record: each row's record (0, 1, ... in that order) and the row where each
    record's rows start. Per-record values are then taken and reduced by position: grouping,
    joining and mapping by the string ids cost seconds on a million records."""

    of_row: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray) -> _Runs:
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
        ints = np.where(np.isnat(values), _NOT_ENTERED, values.view(np.int64))
        least = np.minimum.reduceat(ints, self.starts)
        return np.where(least == _NOT_ENTERED, np.iinfo(np.int64).min, least).view(values.dtype)


def _record_order(frame: pd.DataFrame) -> np.ndarray:
    """The positions that sort `frame` by record (`_record_code`, ranked as the ids sort), time
    (`_at`) and file row, as `sort_values(..., kind="stable")` on the ids would, by integer codes
    (two stable argsorts: a history is mostly in time order already)."""
    rows = frame["source_row"].to_numpy()
    order = (np.arange(len(frame)) if (rows[1:] > rows[:-1]).all()
             else np.argsort(rows, kind="stable"))
    at = frame["_at"].to_numpy(dtype="datetime64[ns]")
    at = np.where(np.isnat(at), _NOT_ENTERED, at.view(np.int64))  # missing last, as pandas does
    order = order[np.argsort(at[order], kind="stable")]
    codes = frame["_record_code"].to_numpy()
    codes = np.where(codes < 0, np.iinfo(np.int64).max, codes)
    return order[np.argsort(codes[order], kind="stable")]


def _phase_index(targets: pd.Series, model: PhaseModel) -> pd.Series:
    """Each value's position among the phases (float; NaN for lost, a missing or another value),
    looked up once per distinct value."""
    codes, distinct = pd.factorize(targets)  # a missing value: code -1, which takes the last
    where = np.append(pd.Index(model.keys).get_indexer(pd.Index(distinct, dtype=object)), -1)
    where = where[codes]
    return pd.Series(np.where(where >= 0, where, np.nan), index=targets.index)


def _order_by(*keys: np.ndarray) -> np.ndarray:
    """The positions that sort rows by `keys` (integer arrays, the first key first), as a stable
    `sort_values` would: one stable argsort per key, the last key first."""
    order = np.arange(len(keys[0]))
    for key in reversed(keys):
        order = order[np.argsort(key[order], kind="stable")]
    return order


def _sort_key(values: pd.Series) -> np.ndarray:
    """Integers that sort as `sort_values` sorts `values`, missing values last: dates as their
    nanoseconds, text (record ids) as the rank of its distinct values (so rows are then sorted by
    integers, not by text)."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        at = values.to_numpy(dtype="datetime64[ns]")
        return np.where(np.isnat(at), _NOT_ENTERED, at.view(np.int64))
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


def _repeats(frame: pd.DataFrame, same: list[str], order: np.ndarray
             ) -> tuple[pd.Series, pd.Series]:
    """`frame.duplicated(same)`, and for each repeat the `source_row` of the first row it repeats.
    `same` holds the record and its time, so a repeat and its first row are neighbours in `order`
    (see `_record_order`): only the rows that share a record and a time with a neighbour are
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
            _first_row_of(some, same, some.index[repeat.to_numpy()]))


def _whole_rows(headers: pd.Index, raw: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
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


def _headers(headers: pd.Index, frame: pd.DataFrame) -> pd.Index:
    """The columns the whole `frame` would have: the file's, then those added to it."""
    return pd.Index(list(headers) + [c for c in frame.columns if c not in headers])


def _note_conflicts(frame: pd.DataFrame, cols: list[str], runs: _Runs, *, file: str,
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


def _last_value_per_record(frame: pd.DataFrame, cols: list[str], runs: _Runs
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


# --- outcome from an ordered stage log ------------------------------------------------------------

def _resolve_outcomes(log: pd.DataFrame, model: PhaseModel, codes: np.ndarray | None = None
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


def _isin(values: pd.Series, among: pd.Index | pd.Series) -> np.ndarray:
    """`values.isin(among)` for record ids: hashed in Arrow (pandas' isin on Arrow strings goes
    through Python value by value, seconds on a million records)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not isinstance(values.dtype, pd.StringDtype):
        return values.isin(among).to_numpy(dtype=bool)
    found = pc.is_in(pa.array(values.array), value_set=pa.array(pd.Series(among).astype(
        values.dtype).array), skip_nulls=False)
    return found.to_numpy(zero_copy_only=False)


def _positions(values: pd.Series, among: pd.Index | pd.Series) -> np.ndarray:
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


def _lost_at_codes(events: pd.DataFrame, records: pd.DataFrame,
                   owners: np.ndarray | None = None) -> np.ndarray:
    """Per record (a row of `records`, indexed by record id), the phase code of the highest phase
    it reached before its final loss; -1 for a record not lost or without such a phase (events
    are already only kept phase rows)."""
    out = np.full(len(records), -1, dtype=np.int64)
    lost = (records["outcome"] == "lost").to_numpy(dtype=bool)
    if not lost.any() or events.empty:
        return out
    at = _positions(events["record_id"], records.index) if owners is None else owners
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


def _empty_events(model: PhaseModel) -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": pd.Series(dtype="string"), "phase": pd.Series(dtype=model.dtype),
        "entered_at": pd.Series(dtype="datetime64[ns]"), "source_stage": pd.Series(dtype="string"),
        "source_row": pd.Series(dtype="int64"), "source": pd.Series(dtype="object")})


def _quotable_headers(settings: dict, personal: list[str]) -> set[str]:
    """The file's headers (case-folded) whose values a reason may quote: the mapped columns and
    the attributes that are not personal."""
    attributes = settings.get("attributes") or {}
    headers = [h for h in (settings.get("columns") or {}).values() if isinstance(h, str)]
    headers += [h for name, h in attributes.items() if name not in personal and isinstance(h, str)]
    return {h.strip().casefold() for h in headers}


def personal_attributes(source: SourceConfig, settings: dict, privacy: PrivacyConfig | None,
              engagement_file: str = "") -> list[str]:
    attributes = {**(settings.get("attributes") or {}),
                  **((settings.get("records") or {}).get("attributes") or {})}
    check_personal(list(source.personal), attributes, file=engagement_file,
                   key=f"sources[{source.name}].personal")
    names = list(attributes)
    return personal_columns(list(source.personal), names, privacy or PrivacyConfig())


# --- the three shapes ----------------------------------------------------------------------------

def load_source(source: SourceConfig, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                pseudonym_key: PseudonymKey | None, engagement_file: str = "",
                timezone: str = "Europe/Amsterdam", privacy: PrivacyConfig | None = None,
                as_of: object = None, missing_values: list[str] | None = None,
                fold_categories: bool = True, currency: str = "EUR") -> LoadedSource:
    """Load one source of the engagement into tidy tables (see module docstring).

    `as_of` (the engagement's measurement date; None: today) bounds the dates: a stage or creation
    date after it, or before 1990, is almost always a typo in the year, so its row is quarantined.
    """
    settings = resolve_source(source)
    settings["_engagement_tz"] = timezone
    settings["_as_of"] = as_of
    settings["_missing_values"] = list(missing_values or [])
    settings["_fold_categories"] = fold_categories
    settings["_currency"] = currency
    loader = {"history": _load_history, "wide": _load_wide, "snapshot": _load_snapshot}
    return loader[source.shape](settings, model=model, base_dir=base_dir,
                                unknown_stages=unknown_stages, pseudonym_key=pseudonym_key,
                                engagement_file=engagement_file, name=source.name or "source",
                                personal=personal_attributes(source, settings, privacy, engagement_file))


def _common_rows(frame: pd.DataFrame, settings: dict, q: Quarantine, *, file: str, key: str,
                 carry: list[str] | None = None) -> pd.DataFrame:
    """Set aside blank rows, deleted rows and rows without a record id; attach `_record_id`.

    `carry`: the file's columns the rows kept need (besides `source_row` and the ones read here);
    None: all of them."""
    _check_header(frame, settings, file=file, key=key)
    headers = frame.columns
    blank = _blank_rows(frame.drop(columns="source_row"))
    cols = settings["columns"]
    if carry is not None:
        wanted = set(carry)
        carry = wanted | {cols.get("is_deleted"), header_in(headers, cols.get("record_id"))}
        frame = frame[[c for c in headers if c in carry or c == "source_row"]]
    frame = q.add(frame, blank, "blank row", code="blank_row")
    if "is_deleted" in cols and cols["is_deleted"] in headers:
        deleted = parse_flags(frame[cols["is_deleted"]], true_values=settings["true_values"])
        frame = q.add(frame, deleted.fillna(False).astype(bool), "deleted in the CRM",
                      code="deleted", column=cols["is_deleted"])
    if "record_id" not in cols:
        raise DataError("no record id column configured", file=file,
                        fix=f"set `{key}.record_id` to the column that identifies a deal")
    rid_col = find_column(headers, cols["record_id"], role="record_id", file=file, key=key)
    rid = as_text(frame[rid_col])
    frame = frame.assign(_record_id=rid)
    if carry is not None:  # the caller needs neither the id column nor the deleted flags
        frame = frame[[c for c in frame.columns
                       if c in wanted or c in ("source_row", "_record_id")]]
    return q.add(frame, rid.isna(), f"missing record id in column {rid_col!r}",
                 code="missing_record_id", column=rid_col)


def _blank_rows(cells: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is missing or only spaces. Column by column, each only on the rows
    still blank so far (after the first column hardly any are)."""
    blank = np.ones(len(cells), dtype=bool)
    for position in range(cells.shape[1]):  # by position: two headers may read the same
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        values = cells.iloc[rows, position]
        empty = values.isna() | (values.astype("string").str.strip() == "")
        blank[rows] = empty.fillna(True).to_numpy(dtype=bool)
    return pd.Series(blank, index=cells.index)


def _first_row_of(frame: pd.DataFrame, same: list[str], rows: pd.Index) -> pd.Series:
    """For each of `rows` (repeats), the `source_row` of the first row with the same values of
    `same`; grouped among the repeated rows only, not the whole file."""
    repeated = frame[frame.duplicated(same, keep=False)]
    return repeated.groupby(same)["source_row"].transform("first")[rows]


def _dedupe_records(frame: pd.DataFrame, q: Quarantine, settings: dict, personal: list[str],
                    cells_of: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per record files: a repeated record id is set aside, the first row is kept.

    When the repeated row disagrees with the first (another region, another amount) the reason
    names the columns and both values, so the analyst can tell which row is right. Values are
    quoted only for the columns the YAML maps and does not call personal; for a personal column
    (and the owner) or a column the YAML does not mention (it may hold an e-mail address) the
    reason names the column only: a reason is never personal data. `cells_of`: the rows as
    read, when `frame` carries only some of their columns (the same index).
    """
    shown = _quotable_headers(settings, personal)
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


def _dates(frame: pd.DataFrame, header: str, settings: dict, q: Quarantine, *, role: str,
           file: str, key: str, required: bool, headers: pd.Index | None = None
           ) -> tuple[pd.DataFrame, pd.Series]:
    # `role` names the internal column (_at, _created); the YAML calls them changed_at, created_at
    yaml_role = {"at": "changed_at", "created": "created_at", "closed": "closed_at"}.get(role, role)
    col = find_column(frame if headers is None else headers, header, role=yaml_role, file=file,
                      key=key)
    # An expected close date of an open deal may lie ahead; every other date may not.
    parsed = _parse_dates(frame[col], settings, file=file, column=col, future_ok=role == "closed")
    values = parsed.values
    bad = parsed.problems.notna() if required else (
        parsed.problems.notna() & parsed.codes.ne("missing_date"))
    frame = frame.assign(**{f"_{role}": values})
    frame = q.add(frame, bad, parsed.problems.fillna(""), code=parsed.codes, column=col,
                  values=frame[col])
    return frame, frame[f"_{role}"]


_EARLIEST = pd.Timestamp("1990-01-01")  # no CRM export holds real deals from before this




def _dates_within_range(raw: pd.Series, settings: dict, *, file: str, column: str) -> ParsedColumn:
    """parse_dates; when a value's year lies outside what a timestamp holds, that value gets a
    problem naming it (its row is quarantined) and the rest are parsed. The common case pays
    nothing: the years are only looked at when parsing overflowed."""
    def parse(values: pd.Series) -> ParsedColumn:
        return parse_dates(values, date_format=settings.get("date_format"), file=file,
                           column=column, timezone=settings.get("timezone"),
                           to_timezone=settings.get("_engagement_tz"))
    try:
        return parse(raw)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        pass
    years = pd.to_numeric(raw.astype("string").str.extract(r"(?<!\d)(\d{4,})(?!\d)")[0],
                          errors="coerce")
    objects = raw.map(lambda v: getattr(v, "year", None) if not isinstance(v, str) else None)
    years = years.fillna(pd.to_numeric(objects, errors="coerce"))
    wild = ((years < YEARS[0]) | (years > YEARS[1]))  # 9999, 3000, 0001: typos.fillna(False).astype(bool)
    parsed = parse(raw.mask(wild))
    problems, codes = parsed.problems.copy(), parsed.codes.copy()
    problems[wild] = ("date " + raw[wild].astype(str).map(repr) + f" in column {column!r} has "
                      "the year " + years[wild].astype(int).astype(str) + ", which no CRM date "
                      "has: check the year (a typo or a placeholder such as 31-12-9999?)")
    codes[wild] = "implausible_year"
    return ParsedColumn(parsed.values, problems, codes)


def _parse_dates(raw: pd.Series, settings: dict, *, file: str, column: str,
                 future_ok: bool = False) -> ParsedColumn:
    """parse_dates with the source's format and time zone, plus the plausibility bounds: a date
    after the as-of date (or today) or before 1990 gets a problem naming the value."""
    parsed = _dates_within_range(raw, settings, file=file, column=column)
    values, problems, codes = parsed.values, parsed.problems.copy(), parsed.codes.copy()
    as_of = settings.get("_as_of")
    if as_of is None:
        today = pd.Timestamp.now(tz=settings.get("_engagement_tz") or None).tz_localize(None)
        limit, label = today.normalize() + pd.Timedelta(days=1), f"today ({today:%Y-%m-%d})"
        fix = "check the year (a typo?), or the export's time zone"
    else:
        limit = pd.Timestamp(as_of)
        # A plain date means the whole day: a stage change that afternoon is not in the future.
        if not isinstance(as_of, datetime):
            limit = limit + pd.Timedelta(days=1)
        label = f"the as-of date {pd.Timestamp(as_of):%Y-%m-%d}"
        fix = "check the year (a typo?), or set a later `as_of` in the engagement YAML"
    # Messages only for the rows out of bounds: building one per row costs seconds on a big export.
    early = (values < _EARLIEST).to_numpy()
    if early.any():
        problems[early] = ("date " + raw[early].astype(str).map(repr)
                           + f" in column {column!r} is before 1990-01-01: check the year (a typo?)")
        codes[early] = "date_before_1990"
    if not future_ok:
        late = (values >= limit).to_numpy()
        if late.any():
            problems[late] = ("date " + raw[late].astype(str).map(repr)
                              + f" in column {column!r} is after {label}: {fix}")
            codes[late] = "date_after_as_of"
    return ParsedColumn(values, problems, codes)


def _open_source(settings: dict, base_dir: Path, name: str):
    """Read a source's file: (path, file, notes, raw rows, its quarantine, YAML key of columns)."""
    path = source_path(base_dir, settings["path"])
    notes: list[str] = []
    raw = read_table(path, settings, notes=notes)
    _drop_absent_preset_columns(raw, settings, file=str(path), notes=notes)
    return path, str(path), notes, raw, Quarantine(name, str(path)), f"sources[{name}].columns"


def _events_from_log(log: pd.DataFrame, model: PhaseModel, name: str,
                     runs: _Runs | None = None) -> pd.DataFrame:
    """The events table: one row per (record, phase entered), the first entry into the phase.

    Later rows at the same phase (a second CRM stage of the phase, a return after moving back)
    stay in the stage log for the audit; lost exits are never events. `runs`: the log is sorted
    by record, time and file row, and these are its records (see `_Runs`).
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


def _load_history(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                  pseudonym_key: PseudonymKey | None, engagement_file: str, name: str,
                  personal: list[str]) -> LoadedSource:
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    cols = settings["columns"]
    if settings.get("stage"):
        # A file that holds one stage only (a closed-deals file): every row is that stage.
        if "stage" in cols:
            raise DataError("this source sets both `stage:` (one stage for every row) and a "
                            "`stage` column", file=file,
                            fix=f"keep one: remove `stage:` or `{key}.stage`")
    for role in ("stage", "changed_at"):
        if role not in cols and not (role == "stage" and settings.get("stage")):
            raise DataError(f"a history source needs a `{role}` column", file=file,
                            fix=f"set `{key}.{role}` (or `stage:` when every row is one stage), "
                                f"or use a preset")
    # Each check below sets rows aside, copying every column it carries: so the checks carry only
    # the columns they read. Of the rest of the file only the columns read after them are kept
    # (the amount, its currency, the creation date, the attributes), and taken once, for the rows
    # kept, in their final order (`_whole_rows`).
    headers = raw.columns
    checked = [c for c in (header_in(headers, cols.get(role)) for role in ("stage", "changed_at"))
               if c]
    later = [cols.get(role) for role in ("value", "currency", "created_at")]
    later += list((settings.get("attributes") or {}).values())
    read = {header_in(headers, h) for h in later if isinstance(h, str)}
    frame = _common_rows(raw, settings, q, file=file, key=key, carry=checked)
    rows_in = len(raw)
    raw = raw[[c for c in headers if c in read]]
    if settings.get("stage"):
        frame = frame.assign(**{_CONSTANT_STAGE: settings["stage"]})
        cols = settings["columns"] = {**cols, "stage": _CONSTANT_STAGE}
    stage_col = find_column(_headers(headers, frame), cols["stage"], role="stage", file=file,
                            key=key)
    frame = _map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q, file=file,
                        engagement=engagement_file)
    frame, at = _dates(frame, cols["changed_at"], settings, q, role="at", file=file, key=key,
                       required=True, headers=_headers(headers, frame))
    frame = frame.drop(columns=[c for c in frame.columns if c in headers
                                and c != "source_row" and not c.startswith("_")])
    frame = frame.assign(_record_code=pd.factorize(frame["_record_id"], sort=True)[0])
    # Ties (bulk imports share one timestamp) keep the file's order: a stable, documented choice.
    order = _record_order(frame)
    # The same stage change exported twice carries no information: keep the first.
    frame = frame.assign(_stage_norm=_per_distinct(frame["_stage"],
                                                   lambda s: s.map(normalise_stage)))
    same = ["_record_id", "_stage_norm", "_at"]
    dup, first = _repeats(frame, same, order)
    frame = q.add(frame, dup, lambda hit: "duplicate of row " + first[hit.index].astype(str),
                  code="duplicate_row")
    if dup.any():  # the order of the rows left
        order = (np.cumsum(~dup.to_numpy()) - 1)[order[~dup.to_numpy()[order]]]
    frame = frame.take(order)
    runs = _Runs.of(frame["_record_code"].to_numpy())
    log = pd.DataFrame({"record_id": frame["_record_id"].astype("string"), "at": frame["_at"],
                        "target": frame["_target"].astype(str),
                        "source_stage": frame["_stage"].astype("string"),
                        "source_row": frame["source_row"].astype("int64"), "source": name},
                       index=frame.index)
    state, reversed_won = _resolve_outcomes(log, model, codes=runs.of_row)
    frame = q.add(frame, reversed_won,
                  lambda hit: "won stage reversed: the record's final state is "
                  + hit["_record_id"].map(state["outcome"]).astype(str),
                  code="won_reversed", column=stage_col, values=frame["_stage"])
    if reversed_won.any():  # (a record keeps its last row, which decided its state)
        kept = ~reversed_won.to_numpy()
        log, runs = log[kept], _Runs.of(runs.of_row[kept])
    events = _events_from_log(log, model, name, runs=runs)
    frame = _whole_rows(headers, raw, frame.drop(columns=["_stage_norm", "_target",
                                                           "_record_code"]))
    del raw  # the rows as read are not needed any more (hundreds of MB on a big export)
    release_arrow_memory()

    value = None
    if "value" in cols:
        col = find_column(frame, cols["value"], role="value", file=file, key=key)
        frame = frame.assign(_value=_in_currency(
            frame, _amounts(frame, col, settings, file=file, notes=notes), settings,
            file=file, key=key, notes=notes))
        value = "_value"
    attrs = source_attributes(frame, settings.get("attributes", {}), file=file, key=f"sources[{name}]",
                        personal=personal, pseudonym_key=pseudonym_key, settings=settings,
                        notes=notes)
    # From here on only these columns are read (the file's others are freed; an attribute may be
    # named as its own header).
    created = cols.get("created_at") if cols.get("created_at") in frame.columns else None
    kept = ["_record_id", "_at"] + ([value] if value else []) + ([created] if created else [])
    frame = pd.concat([frame[kept], attrs], axis=1)
    carry = ([value] if value else []) + list(attrs.columns)
    _note_conflicts(frame, list(attrs.columns), runs, file=file, notes=notes)
    # The records are the runs, in the order of the log's last rows (`state`): one row each.
    records = state.assign(created_at=frame["_at"].array.take(runs.starts))  # rows in time order
    for col, values in _last_value_per_record(frame, carry, runs).items():
        records["value" if col == "_value" else col] = values
    records.index = records.index.astype("string")
    records.index.name = "record_id"
    if created:
        parsed = _parse_dates(frame[created], settings, file=file, column=created)
        crm_created = pd.Series(runs.least(parsed.values), index=records.index)
        records["created_at"] = crm_created.fillna(records["created_at"])
        del parsed
    del frame, attrs  # the rows are in the log, the records and the events now
    release_arrow_memory()

    mismatches = None
    quarantines = [q.frame()]
    recon = [reconcile(name, file, rows_in, q)]
    if settings.get("records"):
        reasons = quarantines[0]
        # Records whose every stage row is an ignored stage (test deals) are not records.
        ignored = set(reasons.loc[reasons["reason_code"].eq("ignored_stage"),
                                  "record_id"].dropna()) - set(records.index)
        records, events, mismatches, rq, rows = _attach_records_file(
            records, events, settings["records"], model=model, base_dir=base_dir,
            pseudonym_key=pseudonym_key, name=name,
            personal=personal, engagement_tz=settings["_engagement_tz"], ignored_ids=ignored,
            notes=notes, as_of=settings["_as_of"],
            inherited={k: settings[k] for k in ("_missing_values", "_fold_categories",
                                                "_currency") if k in settings})
        quarantines.append(rq.frame())
        recon.append(reconcile(name, rq.file, rows, rq))
    records = finish_records(records, events, model)
    _note_phaseless(records, events, file=file, notes=notes)
    quarantine = pd.concat(quarantines, ignore_index=True)
    return LoadedSource(name=name, shape="history", events=events, records=records,
                        stage_log=log.reset_index(drop=True), quarantine=quarantine,
                        reconciliation=pd.DataFrame(recon), notes=notes,
                        outcome_mismatches=mismatches)


def reconcile(name: str, file: str, raw: pd.DataFrame | int, q: Quarantine) -> dict[str, Any]:
    """One file's reconciliation; `raw` is the rows read, or how many (once they are freed)."""
    rows_in = raw if isinstance(raw, int) else len(raw)
    rows_q = len(q.rows)
    return {"source": name, "file": file, "rows_in": rows_in, "rows_used": rows_in - rows_q,
            "rows_quarantined": rows_q}


def _attach_records_file(records: pd.DataFrame, events: pd.DataFrame, reading: dict, *,
                         model: PhaseModel, base_dir: Path, pseudonym_key: PseudonymKey | None,
                         name: str, personal: list[str], engagement_tz: str, ignored_ids: set,
                         notes: list[str], as_of: object = None, inherited: dict | None = None):
    """Join a per-record file (e.g. Salesforce Opportunity.csv) onto the history's records.

    The file supplies the creation date, amount and segment attributes. The outcome is the
    history's final state, unless the file has won/closed flags (`is_won` + `is_closed`, or a
    `status`): those win (DESIGN.md: a status or won/closed flag wins over a stage name), as they
    are the CRM's own verdict. Where they disagree with the history the record's events follow the
    flags (see `_flags_win`), the notes say how many, and the table of disagreements goes to the
    audit (`outcome_mismatch`).
    """
    path = source_path(base_dir, reading["path"])
    file = str(path)
    reading = {**RecordsConfig(**{k: v for k, v in reading.items()
                                  if k in RecordsConfig.model_fields}).model_dump(),
               "_engagement_tz": engagement_tz, "_as_of": as_of, **(inherited or {}),
               "_preset_columns": reading.get("_preset_columns", {})}
    raw = read_table(path, reading, notes=notes)
    _drop_absent_preset_columns(raw, reading, file=file, notes=notes)
    q = Quarantine(f"{name}.records", file)
    key = f"sources[{name}].records.columns"
    frame = _common_rows(raw, reading, q, file=file, key=key)
    frame = q.add(frame, frame["_record_id"].isin(ignored_ids),
                  "all of this record's stage rows are declared `ignore`", code="ignored_record")
    frame = _dedupe_records(frame, q, reading, personal)
    cols = reading["columns"]
    out = pd.DataFrame(index=pd.Index(frame["_record_id"].astype("string"), name="record_id"))
    if "created_at" in cols:
        frame, created = _dates(frame, cols["created_at"], reading, q, role="created", file=file,
                                key=key, required=False)
        out = out.loc[frame["_record_id"].astype("string")]
        out["created_at"] = created.to_numpy()
    _add_value_and_attributes(out, frame, reading, file=file, key=key,
                              attr_key=f"sources[{name}].records", personal=personal,
                              pseudonym_key=pseudonym_key, notes=notes)
    file_outcome = None
    if "status" in cols or ("is_closed" in cols and "is_won" in cols):
        frame, flagged = _flag_outcomes(frame, reading, model, q, file=file, key=key)
        out = out.loc[frame["_record_id"].astype("string")]  # a bad status is quarantined
        file_outcome = pd.Series(flagged.to_numpy(), index=out.index)
    file_closed = None
    if "closed_at" in cols:
        frame, closed_at = _dates(frame, cols["closed_at"], reading, q, role="closed", file=file,
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
        other = pd.Series((codes.notna() & (codes != (reading.get("_currency") or "EUR").upper())
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
            merged, events = _flags_win(merged, events, mismatches, file_closed, rows, model,
                                        name=name)
            notes.append(f"{path.name}: {len(mismatches)} record(s) have won/closed flags that "
                         f"differ from their stage history's final state; the flags count (the "
                         f"audit lists them as `outcome_mismatch`)")
    return merged, events, mismatches, q, raw


def _flags_win(records: pd.DataFrame, events: pd.DataFrame, mismatches: pd.DataFrame,
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
    latest = events[_isin(events["record_id"], ids)].groupby(
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
    drop = _isin(events["record_id"], unwon) & (events["phase"] == model.won_phase).to_numpy()
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


def _note_phaseless(records: pd.DataFrame, events: pd.DataFrame, *, file: str,
                    notes: list[str]) -> None:
    """Records that reached no phase (only a lost row, only ignored or undated stages) are in the
    records table, the outcome counts and the win rate, but in no phase count: say how many."""
    none = ~_isin(records["record_id"], events["record_id"])
    if none.any():
        by = records.loc[none, "outcome"].value_counts().to_dict()
        parts = ", ".join(f"{n} {o}" for o, n in sorted(by.items()))
        notes.append(f"{Path(file).name}: {int(none.sum())} record(s) reached no phase ({parts}): "
                     f"no stage row or date maps to a phase; they count in the outcomes, not in "
                     f"the phase counts")


def finish_records(records: pd.DataFrame, events: pd.DataFrame, model: PhaseModel,
                   owners: np.ndarray | None = None) -> pd.DataFrame:
    """Put records in the contract's column order with the contract's dtypes. `owners`: each
    event's record as its row in `records`, when the caller knows it."""
    records = records.copy()
    records["lost_at_phase"] = pd.Categorical.from_codes(_lost_at_codes(events, records, owners),
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


def _stage_columns(headers: pd.Index, settings: dict, *, file: str, name: str,
                   notes: list[str]) -> dict[str, str]:
    """`stage_columns` as source column -> CRM stage, plus the columns `stage_column_pattern`
    matches (`headers`: the frame's columns). Written the other way round (stage -> column: every
    key is no column of the file and every value is one) it is understood, with a note; a key
    that is no column otherwise is refused naming the columns the file has."""
    given = _given_stage_columns(headers, settings, file=file, name=name, notes=notes)
    pattern = settings.get("stage_column_pattern")
    if pattern:
        rx = re.compile(pattern)
        for col in headers:
            m = rx.match(col)
            if m and col not in given:
                given[col] = m.group("stage")
    return given


def _given_stage_columns(headers: pd.Index, settings: dict, *, file: str, name: str,
                         notes: list[str]) -> dict[str, str]:
    given = dict(settings.get("stage_columns") or {})
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
                   settings: dict, model: PhaseModel, *, file: str, key: str, name: str,
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
            closed_col = settings["columns"].get("closed_at")
            at = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]")
            if closed_col:
                col = find_column(frame, closed_col, role="closed_at", file=file, key=key)
                at = pd.Series(_parse_dates(frame[col], settings, file=file, column=col,
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
    order = _order_by(_sort_key(rid)[row], at.astype("datetime64[ns]").view(np.int64),
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


def _load_wide(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
               pseudonym_key: PseudonymKey | None, engagement_file: str, name: str,
               personal: list[str]) -> LoadedSource:
    """One row per record with a date column per stage; melted into a stage log."""
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    # The checks carry only the columns they read (the stage date columns, the creation and close
    # dates, the flags), as the snapshot's do; the file's others are taken once for the rows kept
    # (`_whole_rows`). A mistake in the stage columns is refused below, in its turn.
    headers = raw.columns
    try:
        read = list(_stage_columns(pd.Index(list(headers) + ["_record_id"]), settings, file=file,
                                   name=name, notes=[]))
        read += [header_in(headers, settings["columns"].get(role)) for role in (
            "created_at", "closed_at", "status", "is_won", "is_closed", "is_active")]
        carry = [c for c in read if c in headers]
    except Exception:  # noqa: BLE001 (refused with its own message below, after the rows' checks)
        carry = None
    frame = _dedupe_records(_common_rows(raw, settings, q, file=file, key=key, carry=carry), q,
                            settings, personal, cells_of=raw)
    stage_columns = _stage_columns(_headers(headers, frame), settings, file=file, name=name,
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
        p = _parse_dates(frame[col], settings, file=file, column=col)
        parsed[col] = p.values
        bad = p.problems.notna() & p.codes.ne("missing_date")
        first = problems.isna() & bad  # a row keeps the problem of its first bad column
        problems = problems.where(~first, p.problems)
        codes = codes.where(~first, p.codes)
    frame = q.add(frame, problems.notna(), problems.fillna(""), code=codes)
    if "created_at" not in settings["columns"] and targets:
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
    frame, flagged = _flag_outcomes(frame, settings, model, q, file=file, key=key,
                                    headers=_headers(headers, frame))
    rows_in = len(raw)
    frame = _whole_rows(headers, raw, frame)
    del raw  # the rows as read are not needed any more
    if len(frame) < kept:  # a status no one can read set its row aside
        log, log_rows = log[_isin(log["record_id"], frame["_record_id"].astype("string"))], None
    runs = None
    if flagged is None and log_rows is not None:
        # No flags: each record's outcome is its last won or lost date, by row positions.
        state = _wide_states(log, log_rows, frame, model)
        runs, log = _Runs.of(log_rows), log.reset_index(drop=True)
    else:
        log, state = _wide_outcomes(log, frame, flagged, settings, model, file=file, key=key,
                                    name=name, notes=notes)
    events = _events_from_log(log, model, name, runs=runs)
    records = _row_records(frame, settings, state, file=file, key=key, name=name,
                           personal=personal, pseudonym_key=pseudonym_key, notes=notes)
    records = finish_records(records, events, model)
    _note_phaseless(records, events, file=file, notes=notes)
    return LoadedSource(name=name, shape="wide", events=events, records=records, stage_log=log,
                        quarantine=q.frame(), reconciliation=pd.DataFrame(
                            [reconcile(name, file, rows_in, q)]), notes=notes)


def _row_records(frame: pd.DataFrame, settings: dict, state: pd.DataFrame, *, file: str,
                 key: str, name: str, personal: list[str], pseudonym_key: PseudonymKey | None,
                 notes: list[str] | None = None, parsed: dict[str, pd.Series] | None = None
                 ) -> pd.DataFrame:
    """Records of a one-row-per-record file: the row's own columns, the outcome from the log and
    from `status` / `current_stage` when the file has them. `parsed`: date columns (by role) the
    caller has parsed already, one value per row of `frame`."""
    cols = settings["columns"]
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
                dates = _parse_dates(frame[col], settings, file=file, column=col,
                                     future_ok=role == "closed_at")
                unusable = _note_dates_left_empty(dates, frame, file=file, column=col,
                                                  notes=notes)
                vals = pd.Series(dates.values.where(~unusable).to_numpy(), index=idx)
            records[role] = vals if role == "created_at" else records[role].where(
                records[role].notna(), vals)
    _add_value_and_attributes(records, frame, settings, file=file, key=key,
                              attr_key=f"sources[{name}]", personal=personal,
                              pseudonym_key=pseudonym_key, notes=notes)
    return records


def _note_dates_left_empty(dates: ParsedColumn, frame: pd.DataFrame, *, file: str, column: str,
                           notes: list[str] | None) -> np.ndarray:
    """Which of a record's own creation or close dates cannot be used (unreadable, before 1990, in
    the future): they are left empty, not the record set aside, as its stage dates are still
    real. The notes say so, like an amount left blank, so no value disappears silently."""
    bad = (dates.problems.notna() & dates.codes.ne("missing_date")).to_numpy()
    if notes is None or not bad.any():
        return bad
    examples = "; ".join(f"row {r}: {why}" for r, why in zip(
        frame.loc[bad, "source_row"].head(3), dates.problems[bad].head(3), strict=True))
    more = f" and {int(bad.sum()) - 3} more" if bad.sum() > 3 else ""
    notes.append(f"{Path(file).name}: {int(bad.sum())} date(s) in column {column!r} could not be "
                 f"used and were left empty (the records are kept): {examples}{more}")
    return bad


def _amounts(frame: pd.DataFrame, col: str, settings: dict, *, file: str, notes: list[str]
             ) -> pd.Series:
    """The amounts of a column. An unparseable, negative, infinite or absurd amount is left
    blank, not the row set aside: the stage change or record it belongs to is still real. The
    notes list them."""
    parsed = parse_numbers(frame[col], decimal=settings.get("decimal"),
                           thousands=settings.get("thousands"), file=file, column=col)
    values = parsed.values
    negative = values < 0
    # An amount over MAX_AMOUNT (1e31: a typo or a placeholder) would dwarf every real sum and
    # cannot be formatted as money: left blank like an infinite one.
    absurd = np.isfinite(values) & (values.abs() > MAX_AMOUNT)
    why = parsed.problems.notna().map({True: "unparseable amount", False: None}).where(
        ~negative, "negative amount").where(~absurd, f"over {MAX_AMOUNT:.0e}, not a plausible "
                                                     f"amount").where(~np.isinf(values),
                                                                      "not a finite amount")
    bad = why.notna()
    if bad.any():
        examples = ", ".join(f"row {r} {str(v)!r} ({w})" for r, v, w in zip(
            frame.loc[bad, "source_row"].head(5), frame.loc[bad, col].head(5),
            why[bad].head(5), strict=True))
        more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
        notes.append(f"{Path(file).name}: {int(bad.sum())} amount(s) left blank in column {col!r}: "
                     f"{examples}{more}")
    return values.where(~bad)


def _in_currency(frame: pd.DataFrame, values: pd.Series, settings: dict, *, file: str, key: str,
                 notes: list[str]) -> pd.Series:
    """Amounts in the engagement's `currency` only. A multi-currency export (a `currency` column,
    e.g. Salesforce's CurrencyIsoCode) would otherwise sum pesos and dollars into one won value:
    an amount in another currency is left blank (the toolkit does not convert) and the notes say
    how many, per currency."""
    cols = settings["columns"]
    if "currency" not in cols:
        return values
    col = find_column(frame, cols["currency"], role="currency", file=file, key=key)
    currency = (settings.get("_currency") or "EUR").upper()
    codes = as_text(frame[col]).str.upper()
    other = values.notna() & codes.notna() & (codes != currency)
    if other.any():
        per = codes[other].value_counts()
        notes.append(f"{Path(file).name}: {int(other.sum())} amount(s) are in another currency "
                     f"than the engagement's {currency} ("
                     + ", ".join(f"{c} {n}" for c, n in per.items())
                     + "); left blank, as the toolkit does not convert currencies. Set "
                       "`currency:` to the main one, or convert the amounts before loading")
    return values.where(~other)


def _add_value_and_attributes(target: pd.DataFrame, frame: pd.DataFrame, settings: dict, *,
                              file: str, key: str, attr_key: str, personal: list[str],
                              pseudonym_key: PseudonymKey | None,
                              notes: list[str] | None = None) -> None:
    """Fill `target` (one row per row of `frame`) with the amount and the segment attributes."""
    cols = settings["columns"]
    if "value" in cols:
        col = find_column(frame, cols["value"], role="value", file=file, key=key)
        notes = [] if notes is None else notes
        target["value"] = _in_currency(frame, _amounts(frame, col, settings, file=file,
                                                       notes=notes),
                                       settings, file=file, key=key, notes=notes).to_numpy()
    attrs = source_attributes(frame, settings.get("attributes", {}), file=file, key=attr_key,
                        personal=personal, pseudonym_key=pseudonym_key, settings=settings,
                        notes=notes)
    for col in attrs.columns:
        values = attrs[col]
        if isinstance(values.dtype, pd.StringDtype) and values.notna().any():
            # what the values as Python objects would be read back as, without the round trip
            # (which cost a second per million records and attribute)
            target[col] = values.astype("str").array
        else:
            target[col] = values.to_numpy()


def _flag_outcomes(frame: pd.DataFrame, settings: dict, model: PhaseModel, q: Quarantine, *,
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
    cols = settings["columns"]
    among = frame if headers is None else headers  # where a column is looked up
    if "status" in cols:
        col = find_column(among, cols["status"], role="status", file=file, key=key)
        text = as_text(frame[col])
        folded = text.str.casefold()
        mapped = _per_distinct(text, model.map_stages)
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
                                             key=key)], true_values=settings["true_values"])
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
                             true_values=settings["true_values"])
        closed = closed.fillna(False).astype(bool)
        return frame, pd.Series(np.where(won, "won", np.where(closed, "lost", "open")),
                                index=frame.index)
    if "is_active" in cols and "_target" in frame.columns:
        # An archive flag (Odoo's `Active`): a record in a won stage is won, archived or not; an
        # archived one elsewhere is lost (at the stage it keeps); an active one is open.
        active = parse_flags(frame[find_column(among, cols["is_active"], role="is_active",
                                               file=file, key=key)],
                             true_values=settings["true_values"])
        won = (frame["_target"].astype("object") == model.won_phase).to_numpy()
        archived = (active == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712 (NA-aware)
        return frame, pd.Series(np.where(won, "won", np.where(archived, "lost", "open")),
                                index=frame.index)
    return frame, None


def _entry_phase(settings: dict, model: PhaseModel, *, file: str, key: str) -> str:
    """The phase a record's creation date dates: the first phase, unless the source says its
    creation date is a later milestone (`created_phase`, e.g. an engage date)."""
    entry = settings.get("created_phase") or model.first_phase
    if entry not in model.keys or entry == model.won_phase:
        raise DataError(f"`created_phase` {entry!r} is not a phase before the last one",
                        file=file, value=entry,
                        fix=f"set `{key.rsplit('.', 1)[0]}.created_phase` to one of "
                            f"{model.keys[:-1]}")
    return entry


def _load_snapshot(settings: dict, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
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
    path, file, notes, raw, q, key = _open_source(settings, base_dir, name)
    dated = settings.get("dated", True)
    notes.insert(0, f"{path.name}: snapshot shape: phase entry dates are unknown; durations "
                    f"between phases cannot be measured from it" if dated else
                    f"{path.name}: lead list without dates (`dated: false`): counts, conversions "
                    f"and segment comparisons only; cohorts by month, durations, seasonality, "
                    f"control charts and before/after need dates and say so")
    cols = settings["columns"]
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
    entry = _entry_phase(settings, model, file=file, key=key)
    # Each check below sets rows aside, copying every column it carries: so the checks carry only
    # the columns they read, and the file's other columns are taken once, for the rows kept
    # (`_whole_rows`), before the records are built. A column is looked up among all the file's
    # headers (`_headers`), so a message naming the file's columns names them all.
    headers = raw.columns
    checked = [header_in(headers, cols.get(role)) for role in (
        "current_stage", "created_at", "closed_at", "status", "is_won", "is_closed", "is_active",
        "lost_at_stage")]
    frame = _dedupe_records(_common_rows(raw, settings, q, file=file, key=key,
                                         carry=[c for c in checked if c]),
                            q, settings, personal, cells_of=raw)
    stage_col = None
    if "current_stage" in cols:
        stage_col = find_column(_headers(headers, frame), cols["current_stage"],
                                role="current_stage", file=file, key=key)
        frame = _map_stages(frame, stage_col, model, unknown=unknown_stages, quarantine=q,
                            file=file, engagement=engagement_file, blank_ok=has_flags)
    frame = frame.assign(_closed=pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
                         _created=pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    if dated:
        frame, created = _dates(frame, cols["created_at"], settings, q, role="created", file=file,
                                key=key, required=True, headers=_headers(headers, frame))
    if "closed_at" in cols:
        frame, closed = _dates(frame, cols["closed_at"], settings, q, role="closed", file=file,
                               key=key, required=False, headers=_headers(headers, frame))
        # Closed before it was created (calendar days, as CRMs often drop the time) cannot be.
        early = frame["_closed"].dt.normalize() < frame["_created"].dt.normalize()
        col = find_column(_headers(headers, frame), cols["closed_at"], role="closed_at",
                          file=file, key=key)
        created_col = find_column(_headers(headers, frame), cols["created_at"],
                                  role="created_at", file=file, key=key)
        frame = q.add(frame, early, lambda hit: "closed date " + hit[col].astype(str).map(repr)
                      + " is before the creation date "
                      + hit[created_col].astype(str).map(repr) + f" ({created_col!r})",
                      code="closed_before_created", column=col, values=frame[col])
    frame, flagged = _flag_outcomes(frame, settings, model, q, file=file, key=key,
                                    won_alone=True, notes=notes, headers=_headers(headers, frame))
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
        col = find_column(_headers(headers, frame), cols["lost_at_stage"], role="lost_at_stage",
                          file=file, key=key)
        text = as_text(frame[col])
        lost_at = _per_distinct(text, model.map_stages)
        bad = (outcome == "lost") & text.notna() & ~lost_at.isin(model.keys[:-1])
        kept = len(frame)
        frame = q.add(frame, bad, lambda hit: "lost-at stage " + hit[col].astype(str).map(repr)
                      + " does not map to a phase before the last", code="unknown_lost_stage",
                      column=col, values=frame[col])
        if len(frame) < kept:
            lost_at, target, outcome = (lost_at[frame.index], target[frame.index],
                                        outcome[frame.index])
    order = {k: i for i, k in enumerate(model.keys)}
    won_i, entry_i = len(model.keys) - 1, order[entry]
    # The current stage's phase; a won stage on a record its flags call open or lost is capped
    # below the last phase (reaching the last phase is winning).
    current_i = _phase_index(target, model).clip(upper=won_i - 1)
    lost_i = _phase_index(lost_at, model).where(lost_at.isin(model.keys[:-1]))
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
    order = _order_by(_sort_key(rid)[log_row], _sort_key(pd.Series(log_at)),
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
    frame = _whole_rows(headers, raw, frame)
    del raw  # the rows as read are not needed any more
    records = _row_records(frame, {**settings, "columns": scols}, state, file=file, key=key,
                           name=name, personal=personal, pseudonym_key=pseudonym_key, notes=notes,
                           parsed={"created_at": created} if dated else None)
    records = finish_records(records, events, model, owners=ev_row)
    return LoadedSource(name=name, shape="snapshot", events=events, records=records,
                        stage_log=log.reset_index(drop=True), quarantine=q.frame(),
                        reconciliation=pd.DataFrame([reconcile(name, file, rows_in, q)]),
                        notes=notes)


def check_phase_order(events: pd.DataFrame, model: PhaseModel, *, file: str,
                      min_records: int = 3) -> None:
    """Refuse a phase model whose order the data contradicts.

    For each pair of consecutive phases (a, b) it counts the records that entered both, and among
    them those that entered b strictly before a. When at least `min_records` records entered both
    and most of them entered b first, the declared order is almost surely swapped (or a stage is
    mapped to the wrong phase): every conversion between them would be wrong, so this raises a
    DataError naming the two phases, the counts and the fix. A few such records are regressions,
    which the audit counts instead.
    """
    first = _first_entries(events, model)
    for a, b in model.transitions():
        first_a, first_b = first[:, model.keys.index(a)], first[:, model.keys.index(b)]
        both = (first_a != _NOT_ENTERED) & (first_b != _NOT_ENTERED)
        backwards = int((first_b[both] < first_a[both]).sum())
        if both.sum() >= min_records and backwards > both.sum() / 2:
            raise DataError(
                f"{backwards} of {int(both.sum())} records that entered both {a!r} and {b!r} entered "
                f"{b!r} first, but `phases` puts {a!r} before {b!r}", file=file,
                fix=f"reorder `phases` so that {b!r} comes before {a!r}, or check which CRM stages "
                    f"`stage_mapping` sends to these two phases")


_NOT_ENTERED = np.iinfo(np.int64).max


def _first_entries(events: pd.DataFrame, model: PhaseModel) -> np.ndarray:
    """When each record first entered each phase, as int64 nanoseconds in a (record, phase) grid
    (`_NOT_ENTERED` where it did not, or only undated): the minimum of `entered_at` per record and
    phase, by integer codes (a groupby on the string ids cost a second on a million records)."""
    records, _ = pd.factorize(events["record_id"])
    phase = events["phase"]
    if isinstance(phase.dtype, pd.CategoricalDtype):
        where = np.array([model.keys.index(str(c)) if str(c) in model.keys else -1
                          for c in phase.cat.categories] + [-1], dtype=np.int64)
        phases = where[phase.cat.codes.to_numpy()]  # code -1 (missing) takes the last: -1
    else:
        phases = pd.Index(model.keys).get_indexer(phase.astype(str))
    at = events["entered_at"].to_numpy(dtype="datetime64[ns]")
    use = (records >= 0) & (phases >= 0) & ~np.isnat(at)
    grid = np.full(((records.max() + 1 if len(records) else 0), len(model.keys)), _NOT_ENTERED,
                   dtype=np.int64)
    np.minimum.at(grid.reshape(-1), records[use] * len(model.keys) + phases[use],
                  at[use].view(np.int64))
    return grid


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows counted per kind of reason (row numbers and quoted values folded), e.g.
    all "duplicate of row N" together. Columns `source, reason_code, reason, rows`, most rows
    first."""
    codes = quarantine["reason_code"]
    kind = quarantine["reason"].astype(str).str.replace(r"row \d+", "row N", regex=True)
    # the reasons that quote the value they could not read: one kind whatever the value
    quoted = codes.isin(_QUOTES_A_VALUE).to_numpy(dtype=bool)
    kind = kind.mask(quoted, kind.str.replace(r"'[^']*'", "'…'", n=1, regex=True))
    out = (quarantine.assign(reason=kind)
           .groupby(["source", "reason_code", "reason"], observed=True).size().rename("rows")
           .reset_index().sort_values("rows", ascending=False, kind="stable"))
    return out.reset_index(drop=True)


_QUOTES_A_VALUE = ("unparseable_date", "unparseable_number", "unknown_stage", "ignored_stage",
                   "unknown_lost_stage")
