"""Text on the terminal: tables laid out in columns, and control characters from a client file
shown escaped, never obeyed."""

from __future__ import annotations

import re
from typing import Any, TextIO

import pandas as pd

from toolkit.present.format import Formatter, formatter
from toolkit.present.tables import (
    AUDIT_MEANINGS,
    DisplayTable,
    display_table,
)


def text_table(table: DisplayTable, *, extra: tuple[str, list[str]] | None = None,
                indent: str = "  ") -> str:
    """A shown table as aligned plain text, every row and column (a terminal is no page: nothing
    is cut); numbers right-aligned. `extra` appends a last column of free text (its header and
    one cell per row), left unpadded so a long sentence does not widen the others."""
    headers = list(table.headers)
    rows = [[cell.text for cell in row] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str], last: str | None) -> str:
        parts = [cell.rjust(w) if table.numeric[i] else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(cells, widths, strict=True))]
        if last is not None:
            parts.append(last)
        return (indent + "  ".join(parts)).rstrip()

    head = line(headers, extra[0] if extra else None)
    body = [line(r, extra[1][i] if extra else None) for i, r in enumerate(rows)]
    return "\n".join([head] + body)


def audit_table(findings: pd.DataFrame, fmt: Formatter | None = None) -> str:
    """Every check of the audit with its records, rows, share and meaning (its words and numbers
    in `fmt`'s language; English by default)."""
    fmt = fmt or formatter("en")
    shown = display_table(findings, ["check", "records", "rows", "share"], fmt=fmt)
    meanings = [fmt.gettext(AUDIT_MEANINGS[str(c)]) if str(c) in AUDIT_MEANINGS else str(m)
                for c, m in zip(findings["check"], findings["meaning"], strict=True)]
    return text_table(shown, extra=(fmt.gettext("Meaning"), meanings))


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                               r"\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                 else f"\\u{ord(m.group()):04x}", text)


class SafeStream:
    """A text stream that passes everything but control characters on to `stream`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


