"""Parsing the values of messy CRM exports: dates in any locale, Excel serials, decimal commas."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import DataError

__all__ = ["parse_dates", "parse_numbers", "parse_flags", "DATE_CONVENTIONS", "ParsedColumn"]

# Named conventions and the formats each allows, most specific first. An explicit strftime string in
# the YAML is used as is.
DATE_CONVENTIONS: dict[str, tuple[str, ...]] = {
    "dmy": ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
            "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%y %H:%M", "%d-%m-%y", "%d/%m/%y"),
    "mdy": ("%m/%d/%Y %I:%M %p", "%m/%d/%y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
            "%m/%d/%y %H:%M", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y %H:%M", "%m-%d-%Y"),
    "ymd": ("ISO8601",),
}
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # Excel's day 0, after its 1900 leap-year bug
_NUMERIC = re.compile(r"^\d{5}(\.\d+)?$")
_DMY_LIKE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{2,4})")
_ISO_LIKE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ParsedColumn:
    """Parsed values plus, per row, why a non-blank value could not be parsed (None when it could)."""

    values: pd.Series
    problems: pd.Series  # str reason or None, aligned with values


def _blank(raw: pd.Series) -> pd.Series:
    return raw.isna() | (raw.astype("string").str.strip() == "")


def detect_date_convention(raw: pd.Series, *, file: str, column: str) -> str:
    """Decide dmy / mdy / ymd from the values, or refuse when they are ambiguous.

    A date like 03-04-2025 is 3 April in Europe and 4 March in the US. Guessing silently would shift
    cohorts by months, so we only decide when some value proves it (a day above 12).
    """
    text = raw[~_blank(raw)].astype(str).str.strip()
    if text.empty:
        return "ymd"
    if text.str.match(_ISO_LIKE).all():
        return "ymd"
    parts = text.str.extract(_DMY_LIKE)
    parts = parts.dropna().astype(int)
    if parts.empty:
        return "ymd"
    first_over_12 = bool((parts[0] > 12).any())
    second_over_12 = bool((parts[1] > 12).any())
    if first_over_12 and not second_over_12:
        return "dmy"
    if second_over_12 and not first_over_12:
        return "mdy"
    example = text.iloc[0]
    raise DataError(
        "dates are ambiguous: every value reads both as day-month and as month-day",
        file=file, column=column, value=example,
        fix="set `date_format: dmy` (European, 31-12-2025) or `date_format: mdy` (US, 12/31/25) "
            "on this source in the engagement YAML",
    )


def parse_dates(raw: pd.Series, *, date_format: str | None, file: str, column: str,
                excel_serials: bool = True) -> ParsedColumn:
    """Parse a column of dates/timestamps to datetime64[ns], never guessing an ambiguous order.

    `date_format` is a convention (`dmy`, `mdy`, `ymd`), an explicit strftime string, or None to
    detect the convention from the values (refusing ambiguous columns). Datetime objects (from XLSX)
    pass through; 5-digit numbers are Excel serial dates when `excel_serials`.
    """
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if raw.empty:  # every row was set aside before its dates were read
        return ParsedColumn(out, pd.Series(None, index=raw.index, dtype="object"))
    blank = _blank(raw)
    is_dt = raw.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"))
    is_dt = is_dt.astype(bool) & ~blank.to_numpy(dtype=bool)
    if is_dt.any():
        out[is_dt] = pd.to_datetime(raw[is_dt].astype(object), errors="coerce").astype(
            "datetime64[ns]")
    text = raw[~blank & ~is_dt].astype(str).str.strip()
    if excel_serials and not text.empty:
        serial = text.str.match(_NUMERIC)
        if serial.any():
            days = text[serial].astype(float)
            out[days.index] = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype(
                "datetime64[ns]")
            text = text[~serial]
    if not text.empty:
        convention = date_format or detect_date_convention(text, file=file, column=column)
        formats = DATE_CONVENTIONS.get(convention, (convention,))
        todo = text
        for fmt in formats:
            if todo.empty:
                break
            if fmt == "ISO8601":
                parsed = pd.to_datetime(todo, errors="coerce", format="ISO8601", utc=True)
                parsed = parsed.dt.tz_convert(None) if hasattr(parsed, "dt") else parsed
            else:
                parsed = pd.to_datetime(todo, errors="coerce", format=fmt)
            ok = parsed.notna()
            out[parsed[ok].index] = parsed[ok].astype("datetime64[ns]")
            todo = todo[~ok]
    problems = pd.Series(None, index=raw.index, dtype="object")
    failed = ~blank & out.isna()
    if failed.any():
        shown = date_format or "detected"
        problems[failed] = "unparseable date " + raw[failed].astype(str).map(repr) + (
            f" in column {column!r} (date_format {shown})")
    problems[blank] = f"missing date in column {column!r}"
    return ParsedColumn(out, problems)


def parse_numbers(raw: pd.Series, *, decimal: str | None, thousands: str | None, file: str,
                  column: str) -> ParsedColumn:
    """Parse amounts written with a decimal comma or point, an optional thousands separator and
    currency signs. `decimal=None` reads a point, or a comma when no value has a point."""
    blank = _blank(raw)
    numeric = raw.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    out = pd.Series(np.nan, index=raw.index, dtype="float64")
    if numeric.any():
        out[numeric] = raw[numeric].astype(float)
    text = raw[~blank & ~numeric].astype(str).str.strip()
    text = text.str.replace(r"[€$£\s]|EUR", "", regex=True)
    if decimal is None:
        decimal = _detect_decimal(text)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    out[text.index] = pd.to_numeric(text, errors="coerce")
    problems = pd.Series(None, index=raw.index, dtype="object")
    failed = ~blank & out.isna()
    problems[failed] = ("unparseable number " + raw[failed].astype(str).map(repr)
                        + f" in column {column!r} (decimal {decimal!r})")
    return ParsedColumn(out, problems)


def _detect_decimal(text: pd.Series) -> str:
    """Where a value has both separators, the rightmost is the decimal one (1.250,50 vs 1,250.50);
    otherwise a comma alone is a decimal comma."""
    both = text[text.str.contains(",", regex=False) & text.str.contains(".", regex=False)]
    if len(both):
        return "," if (both.str.rfind(",") > both.str.rfind(".")).mean() >= 0.5 else "."
    return "," if text.str.contains(",", regex=False).any() else "."


def parse_flags(raw: pd.Series, *, true_values: list[str]) -> pd.Series:
    """Boolean columns such as Salesforce's IsWon: TRUE/FALSE, 1/0, ja/nee. Blank stays NA."""
    truthy = {t.casefold() for t in true_values}
    text = raw.astype("string").str.strip().str.casefold()
    out = text.isin(truthy).astype("boolean")
    out[text.isna() | (text == "")] = pd.NA
    return out
