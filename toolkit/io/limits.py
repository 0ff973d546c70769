"""Limits on what the toolkit reads. A client's export and its engagement YAML are untrusted input:
each limit lies far above any real CRM export and far below what would hang a run or exhaust the
memory of a consultant's laptop. docs/limits.md lists them; every one ends in a clear
error.

Only regular files are read (never a pipe, a device such as /dev/zero, a folder or a file of the
system such as /etc/passwd or /proc/self/environ), their size is checked before a byte is read,
and no more than that size is read. A workbook's parts are inspected as they stream out of the zip:
a cell that unpacks to millions of characters is refused before any cell is built.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a workbook is checked
    import zipfile

__all__ = ["MAX_SOURCE_BYTES", "MAX_XLSX_UNPACKED_BYTES", "MAX_XLSX_TEXT_CHARS",
           "MAX_XLSX_CELLS", "MAX_COLUMNS",
           "MAX_FIELD_CHARS", "MAX_YAML_BYTES", "MAX_YAML_NODES", "MAX_WINDOW_DAYS", "MAX_AMOUNT",
           "MAX_BENCHMARKS_BYTES", "YEARS", "SYSTEM_FOLDERS", "LimitError", "check_regular_file",
           "check_workbook_size", "read_limited"]

#: A source file (CSV or XLSX). A million-record stage history is about 300 MB.
MAX_SOURCE_BYTES = 2 * 1024**3
#: The unpacked contents of an XLSX (a zip: 1 MB can unpack to gigabytes; openpyxl needs
#: several times this in memory). The demo's 12,000-deal workbook unpacks to 7 MB.
MAX_XLSX_UNPACKED_BYTES = 512 * 1024**2
#: The characters of all a workbook's cells together, each shared string counted once per cell
#: that shows it (a 4 KB workbook can show one 100,000-character string in a million cells): at
#: this limit `funnel run` peaks under 1 GB. The demo's workbook has 2 million.
MAX_XLSX_TEXT_CHARS = 32 * 1024**2
#: The grid of a sheet (its last row times its last column: pandas builds every cell of it, and a
#: cell costs about 200 bytes on the way). 100,000 deals of 20 columns; larger: export as CSV.
MAX_XLSX_CELLS = 2_000_000
#: Columns in a source file (Salesforce's widest standard export has a few hundred).
MAX_COLUMNS = 2_000
#: Characters in one CSV field (a long note; Python's csv module stops at 131,072).
MAX_FIELD_CHARS = 131_072
#: The engagement YAML (the demo's is 5 KB).
MAX_YAML_BYTES = 1024**2
#: Values in the engagement YAML after its aliases are expanded (the demo has about 400).
MAX_YAML_NODES = 100_000
#: A conversion window (cohort_window_days, a KPI's window_days): ten years.
MAX_WINDOW_DAYS = 3_650
#: An amount (1e15: a thousand trillion in any currency). Larger ones are typos or placeholders
#: and are left blank with a note; the report's number formatting has 28 significant digits.
MAX_AMOUNT = 1e15
#: A firm's own benchmark table (the shipped one is 2 KB).
MAX_BENCHMARKS_BYTES = 16 * 1024**2
#: Folders of the operating system: a CRM export, a benchmark table or a key never lies there, and
#: their files (/etc/passwd, /proc/self/environ: size 0 on disk, yet full of text) are never read.
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/private/etc", "/private/var/run")
#: The years a date may have: what a timestamp (datetime64[ns]) holds.
YEARS = (1678, 2261)


class LimitError(ValueError):
    """A file or value outside a limit; `fix` says what to do, `row` and `column` where it is."""

    def __init__(self, message: str, fix: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        super().__init__(message)
        self.fix, self.row, self.column = fix, row, column


def _system_folder(path: str) -> str | None:
    """The system folder `path` lies in once its links are followed, else None."""
    real = os.path.realpath(path)
    for folder in SYSTEM_FOLDERS:
        if real == folder or real.startswith(folder + "/"):
            return real
    return None


def check_regular_file(path: Path, *, limit: int, what: str = "file") -> int:
    """The size of `path` when it is a regular file of at most `limit` bytes.

    Raises FileNotFoundError when nothing is there, and LimitError for a folder, a pipe, a device
    or a file in a system folder such as /etc or /proc (also behind a symbolic link), a link that
    loops, a path with a NUL character or too long for
    the system, or a file over the limit. Nothing is read.
    """
    text = os.fspath(path)
    if "\x00" in text:
        raise LimitError(f"the {what}'s path contains a NUL character",
                         "check the path in the engagement YAML")
    try:
        info = os.stat(text)  # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LimitError(f"the {what}'s path is a symbolic link that loops",
                             "point the path at the file itself") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise LimitError(f"the {what}'s path is too long for the file system "
                             f"({len(text)} characters)", "check the path") from None
        if exc.errno == errno.ENOTDIR:
            raise FileNotFoundError(text) from None
        raise LimitError(f"the {what} cannot be opened ({exc.strerror})",
                         "check the path and that you may read it") from None
    if stat.S_ISDIR(info.st_mode):
        raise LimitError(f"the {what}'s path is a folder, not a file",
                         "point the path at the export file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise LimitError(f"the {what} is not a regular file (a pipe, a device or a socket), so "
                         f"it is not read", "export the data to a file and point the path at it")
    real = _system_folder(text)
    if real is not None:
        raise LimitError(f"the {what} is a file of the operating system ({real}), not a file of "
                         f"this engagement, so it is not read",
                         "point the path at the export file (a symbolic link must lead to one)")
    if info.st_size > limit:
        raise LimitError(f"the {what} is {info.st_size:,} bytes, over the limit of {limit:,}",
                         "split the export (e.g. by year) into several sources, or filter it in "
                         "the CRM")
    return info.st_size


def read_limited(path: Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a file checked by `check_regular_file`, never more than `limit`: a file whose
    size on disk says nothing (a file of /proc says 0) or that grows while it is read ends in a
    LimitError, not in a full memory."""
    with open(path, "rb") as handle:
        # One read of the size the file says it has (one buffer, as read_bytes), then pieces
        # until the end or the limit: Python allocates what a read asks for up front.
        size = min(os.fstat(handle.fileno()).st_size, limit)
        data = handle.read(size + 1)
        if len(data) <= size:
            return data
        pieces, total = [data], len(data)
        while total <= limit and (piece := handle.read(min(_CHUNK * 16, limit + 1 - total))):
            pieces.append(piece)
            total += len(piece)
    if total > limit:
        raise LimitError(f"the {what} holds more than {limit:,} bytes, over the limit",
                         "split the export (e.g. by year) into several sources, or filter it in "
                         "the CRM")
    return b"".join(pieces)


_CHUNK = 1 << 20  # a workbook part is inspected in pieces of 1 MB as it is unpacked
_TOO_LARGE_FIX = ("open it in Excel, remove what the analysis does not need and save it again, or "
                  "export the sheet as CSV")


def check_workbook_size(path: Path) -> None:
    """Refuse a workbook (a zip of XML parts) that would exhaust the memory, before openpyxl builds
    a single cell: parts that unpack to more than MAX_XLSX_UNPACKED_BYTES (read from the zip's
    directory), a cell of more than MAX_FIELD_CHARS characters, inline or in the shared-string
    table, cells that show more than MAX_XLSX_TEXT_CHARS characters together, or a sheet whose
    grid (last row times last column) holds more than MAX_XLSX_CELLS cells. The parts are
    streamed through an XML parser in pieces, so the check itself holds one piece at a time.
    A file that is not a zip is left to the reader's own error.
    """
    import zipfile
    import zlib
    try:
        with zipfile.ZipFile(path) as archive:
            items = archive.infolist()
            unpacked = sum(item.file_size for item in items)
            if unpacked > MAX_XLSX_UNPACKED_BYTES:
                raise LimitError(f"the workbook unpacks to {unpacked:,} bytes, over the limit of "
                                 f"{MAX_XLSX_UNPACKED_BYTES:,}", _TOO_LARGE_FIX)
            names = {item.filename for item in items}
            shared = (_shared_string_lengths(archive, "xl/sharedStrings.xml")
                      if "xl/sharedStrings.xml" in names else [])
            total = 0
            for name in sorted(n for n in names if n.startswith("xl/worksheets/")
                               and n.endswith(".xml")):
                total += _sheet_text(archive, name, shared, already=total)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
        return
    over = next((i for i, n in enumerate(shared) if n > MAX_FIELD_CHARS), None)
    if over is not None:  # a string no cell shows, but openpyxl would still build it
        raise LimitError(f"the workbook's shared-string table holds a text of more than "
                         f"{MAX_FIELD_CHARS:,} characters (string {over + 1})", _TOO_LARGE_FIX)


def _stream(archive: zipfile.ZipFile, name: str, parser: Any) -> None:
    """Feed one part of the zip to an expat `parser`, a piece at a time. A part with a document
    type declaration (where entity bombs live; Excel never writes one) is refused."""
    import xml.parsers.expat

    def no_doctype(*_: object) -> None:
        raise LimitError(f"the workbook's part {name} declares a document type, which Excel never "
                         f"writes", _TOO_LARGE_FIX)

    parser.StartDoctypeDeclHandler = no_doctype
    try:
        with archive.open(name) as part:
            while piece := part.read(_CHUNK):
                parser.Parse(piece, False)
            parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError:
        return  # a damaged part: openpyxl says so in its own words


def _shared_string_lengths(archive: zipfile.ZipFile, name: str) -> list[int]:
    """The length of each shared string (`<si>`), counted as it streams; a length is capped just
    over MAX_FIELD_CHARS, and their sum may not pass MAX_XLSX_TEXT_CHARS."""
    import xml.parsers.expat
    lengths: list[int] = []
    inside = [False]

    def start(tag: str, _attrs: dict) -> None:
        if tag.rpartition(":")[2] == "si":
            inside[0] = True
            lengths.append(0)
            if len(lengths) > MAX_XLSX_CELLS:  # each is a string object once read, shown or not
                raise LimitError(f"the workbook's shared-string table holds more than "
                                 f"{MAX_XLSX_CELLS:,} strings, over the limit", _TOO_LARGE_FIX)

    def end(tag: str) -> None:
        if tag.rpartition(":")[2] == "si":
            inside[0] = False

    total = [0]

    def text(data: str) -> None:
        if inside[0] and lengths[-1] <= MAX_FIELD_CHARS:
            lengths[-1] = min(lengths[-1] + len(data), MAX_FIELD_CHARS + 1)
        total[0] += len(data)
        if total[0] > MAX_XLSX_TEXT_CHARS:
            raise LimitError(f"the workbook's shared strings hold more than "
                             f"{MAX_XLSX_TEXT_CHARS:,} characters, over the limit", _TOO_LARGE_FIX)

    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text
    _stream(archive, name, parser)
    return lengths


_COLUMN_NUMBERS: dict[str, int] = {}  # filled as columns are met: A 1, B 2, ...


def _column_number(letters: str) -> int:
    """A spreadsheet column's number: A is 1, Z 26, AA 27, XFD 16,384."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    if len(_COLUMN_NUMBERS) < 20_000:
        _COLUMN_NUMBERS[letters] = number
    return number


class _SheetScan:
    """What one sheet's XML shows, counted as expat streams it: the characters of each cell (a
    shared string by its length), their sum, and the sheet's extent. The handlers run once per
    element of a sheet of a million cells, so they do little and keep their state in slots."""

    __slots__ = ("name", "shared", "total", "row", "rows", "columns", "column", "last", "ref",
                 "shared_cell", "chars", "index", "in_value", "in_cell")

    def __init__(self, name: str, shared: list[int], already: int) -> None:
        self.name, self.shared, self.total = name, shared, already
        self.row = self.rows = self.columns = self.column = self.chars = 0
        self.last = self.ref = self.index = ""
        self.shared_cell = self.in_value = self.in_cell = False

    def start(self, tag: str, attrs: dict) -> None:
        if tag == "c" or tag.endswith(":c"):
            self.in_cell, self.chars, self.index = True, 0, ""
            self.shared_cell = attrs.get("t") == "s"
            ref = self.ref = attrs.get("r") or ""
            letters = ref.rstrip("0123456789")
            if len(letters) < len(ref):
                self.row = int(ref[len(letters):])
            column = _COLUMN_NUMBERS.get(letters)
            if column is None:
                column = (_column_number(letters.upper()) if letters.isalpha()
                          and len(letters) <= 3 else self.column + 1)
            self.column = column
            grew = False
            if column > self.columns:
                self.columns, grew = column, True
            if self.row > self.rows:
                self.rows, grew = self.row, True
            if grew and self.rows * self.columns > MAX_XLSX_CELLS:
                self._too_wide(ref)
        elif tag == "v" or tag.endswith(":v"):
            self.in_value = self.in_cell
        elif tag == "row" or tag.endswith(":row"):
            r = attrs.get("r", "")
            self.row = int(r) if r.isdigit() else self.row + 1
            self.column = 0

    def end(self, tag: str) -> None:
        if tag == "v" or tag.endswith(":v"):
            self.in_value = False
        elif (tag == "c" or tag.endswith(":c")) and self.in_cell:
            self.in_cell = False
            if self.shared_cell and self.index.strip().isdigit():
                index = int(self.index)
                length = self.shared[index] if index < len(self.shared) else 0
                self._check(length)
                self._add(length)

    def text(self, data: str) -> None:
        if not self.in_cell:
            return
        self.chars += len(data)
        if self.shared_cell:
            if self.in_value and len(self.index) < 12:
                self.index += data  # a shared string's index
        else:
            self._add(len(data))
        if self.chars > MAX_FIELD_CHARS:
            self._check(self.chars)

    def _check(self, length: int) -> None:
        if length > MAX_FIELD_CHARS:
            column = self.ref.rstrip("0123456789") or None
            raise LimitError(f"cell {self.ref or '?'} of the sheet ({self.name.rsplit('/', 1)[-1]}) "
                             f"holds more than {MAX_FIELD_CHARS:,} characters, over the limit for "
                             f"one field", "shorten or remove that cell in Excel and save the "
                             "workbook again, or export the sheet as CSV", row=self.row or None,
                             column=column)

    def _add(self, length: int) -> None:
        self.total += length
        if self.total > MAX_XLSX_TEXT_CHARS:
            raise LimitError(f"the workbook's cells hold more than {MAX_XLSX_TEXT_CHARS:,} "
                             f"characters together (shared strings counted in every cell that "
                             f"shows them), over the limit", _TOO_LARGE_FIX)

    def _too_wide(self, ref: str) -> None:
        rows, columns = max(self.rows, self.row), max(self.columns, self.column)
        raise LimitError(f"the sheet ({self.name.rsplit('/', 1)[-1]}) spans {rows:,} rows by "
                         f"{columns:,} columns (to cell {ref or '?'}), over the limit of "
                         f"{MAX_XLSX_CELLS:,} cells", "delete the empty rows and columns beyond "
                         "the table in Excel and save it again, or export the sheet as CSV (read "
                         "faster and in less memory)")


def _sheet_text(archive: zipfile.ZipFile, name: str, shared: list[int], *, already: int) -> int:
    """The characters the cells of one sheet show (a shared string once per cell that shows it),
    refusing a cell over MAX_FIELD_CHARS by its place, a sum over MAX_XLSX_TEXT_CHARS and a grid
    of more than MAX_XLSX_CELLS cells."""
    import xml.parsers.expat
    scan = _SheetScan(name, shared, already)
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True  # one call per text, not per piece of it
    parser.StartElementHandler, parser.EndElementHandler = scan.start, scan.end
    parser.CharacterDataHandler = scan.text
    _stream(archive, name, parser)
    return scan.total - already
