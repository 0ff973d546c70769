"""Limits on what the toolkit reads. A client's export and its engagement YAML are untrusted input:
each limit lies far above any real CRM export and far below what would hang a run or exhaust the
memory of a consultant's laptop. The README's "Limits" lists them; every one ends in a clear error.

Only regular files are read (never a pipe, a device such as /dev/zero or a folder), and their size
is checked before a byte is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["MAX_SOURCE_BYTES", "MAX_XLSX_UNPACKED_BYTES", "MAX_COLUMNS", "MAX_FIELD_CHARS",
           "MAX_YAML_BYTES", "MAX_YAML_NODES", "MAX_WINDOW_DAYS", "YEARS", "LimitError",
           "check_regular_file", "check_workbook_size"]

#: A source file (CSV or XLSX). A million-record stage history is about 300 MB.
MAX_SOURCE_BYTES = 2 * 1024**3
#: The unpacked contents of an XLSX (a zip: 1 MB can unpack to gigabytes; openpyxl needs
#: several times this in memory). The demo's 12,000-deal workbook unpacks to 7 MB.
MAX_XLSX_UNPACKED_BYTES = 512 * 1024**2
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
#: The years a date may have: what a timestamp (datetime64[ns]) holds.
YEARS = (1678, 2261)


class LimitError(ValueError):
    """A file or value outside a limit; `fix` says what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def check_regular_file(path: Path, *, limit: int, what: str = "file") -> int:
    """The size of `path` when it is a regular file of at most `limit` bytes.

    Raises FileNotFoundError when nothing is there, and LimitError for a folder, a pipe, a device
    (also behind a symbolic link), a link that loops, a path with a NUL character or too long for
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
    if info.st_size > limit:
        raise LimitError(f"the {what} is {info.st_size:,} bytes, over the limit of {limit:,}",
                         "split the export (e.g. by year) into several sources, or filter it in "
                         "the CRM")
    return info.st_size


def check_workbook_size(path: Path) -> None:
    """Refuse an XLSX whose unpacked parts exceed MAX_XLSX_UNPACKED_BYTES (a zip bomb), before
    any part is unpacked. A file that is not a zip is left to the reader's own error."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise LimitError(f"the workbook unpacks to {unpacked:,} bytes, over the limit of "
                         f"{MAX_XLSX_UNPACKED_BYTES:,}",
                         "open it in Excel, remove what the analysis does not need and save it "
                         "again, or export the sheet as CSV")
