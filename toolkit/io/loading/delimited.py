"""Delimited text from the bytes of a file: decoding (UTF-8, UTF-16, the single-byte
encodings), the first lines, and the fields read by Arrow's CSV reader or by pandas."""

from __future__ import annotations

import codecs
import re
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError

# Single-byte encodings whose bytes below 0x80 are ASCII: the delimiter, quotes and line ends of a
# file in one of them are the same bytes as in UTF-8, so the file can be split into fields before
# its text is decoded (and only the values with other bytes need decoding).
_ASCII_SINGLE_BYTE = ("cp1252", "iso8859-1", "iso8859-15")
_DECODE_CHUNK = 1 << 24
_MAX_ARROW_COLUMNS = 4096  # wider files are read by pandas


def decoded_body(data: bytes, encoding: str) -> tuple[bytes | memoryview, str]:
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


def head_lines(body: bytes | memoryview, kind: str, wanted: int) -> tuple[list[str], bool]:
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


def read_delimited(body: bytes | memoryview, kind: str, delimiter: str, header_row: int, *,
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
    """Give the memory Arrow freed back to the system.

    Notes
    -----
    Arrow's allocator keeps freed memory for its own later use, and NumPy and Python cannot use
    it: on a big export the process grew by hundreds of MB of memory no table held.
    """
    import pyarrow as pa
    pa.default_memory_pool().release_unused()


def _has_quotes(body: bytes | memoryview) -> bool:
    """Whether the file has a double quote at all. Without one no value can hold a line break,
    and pyarrow reads the file in parallel blocks cut at line ends (twice as fast)."""
    # a view only skips the byte-order mark of the file's bytes: search those, without a copy
    whole = body.obj if isinstance(body, memoryview) else body
    return b'"' in (whole if isinstance(whole, bytes) else bytes(whole))


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
