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
    if first_over_12 and second_over_12:
        day_first = text.loc[parts.index[parts[0] > 12][0]]
        month_first = text.loc[parts.index[parts[1] > 12][0]]
        raise DataError(
            f"the column mixes day-month dates (e.g. {day_first!r}) and month-day dates (e.g. "
            f"{month_first!r}); no single order reads them all", file=file, column=column,
            value=month_first,
            fix="export the column again in one format; or set `date_format: dmy` (or `mdy`) on "
                "this source, and the rows in the other order are quarantined as unparseable")
    example = text.iloc[0]
    raise DataError(
        "dates are ambiguous: every value reads both as day-month and as month-day",
        file=file, column=column, value=example,
        fix="set `date_format: dmy` (European, 31-12-2025) or `date_format: mdy` (US, 12/31/25) "
            "on this source in the engagement YAML",
    )


def parse_dates(raw: pd.Series, *, date_format: str | None, file: str, column: str,
                excel_serials: bool = True, timezone: str | None = None,
                to_timezone: str | None = None) -> ParsedColumn:
    """Parse a column of dates/timestamps to datetime64[ns], never guessing an ambiguous order.

    `date_format` is a convention (`dmy`, `mdy`, `ymd`), an explicit strftime string, or None to
    detect the convention from the values (refusing ambiguous columns). Datetime objects (from XLSX)
    pass through; 5-digit numbers are Excel serial dates when `excel_serials`. Year-first ISO values
    (2025-01-03) cannot be misread, so a dmy or mdy column reads them too (two exports pasted
    together).

    Time zones: a value with an offset (`Z`, `+01:00`) is converted to `to_timezone` (UTC when
    None); a value without one is in `timezone` (the source's zone, default: already local) and is
    converted to `to_timezone` when both are given. The result is tz-naive.
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
    if is_dt.any() and timezone and to_timezone:
        out[is_dt] = _convert_naive(out[is_dt], timezone, to_timezone)
    text = raw[~blank & ~is_dt].astype(str).str.strip()
    if excel_serials and not text.empty:
        serial = text.str.match(_NUMERIC)
        if serial.any():
            days = text[serial].astype(float)
            out[days.index] = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype(
                "datetime64[ns]")
            text = text[~serial]
    if not text.empty and (date_format is None or date_format in DATE_CONVENTIONS):
        iso = text.str.match(_ISO_LIKE)
        if iso.any():
            out[text[iso].index] = _parse_iso(text[iso], timezone, to_timezone)
            text = text[~iso]
    if not text.empty:
        convention = date_format or detect_date_convention(text, file=file, column=column)
        formats = DATE_CONVENTIONS.get(convention, (convention,))
        todo = text
        for fmt in formats:
            if todo.empty:
                break
            if fmt == "ISO8601":
                parsed = _parse_iso(todo, timezone, to_timezone)
            else:
                parsed = pd.to_datetime(todo, errors="coerce", format=fmt)
                if timezone and to_timezone:
                    parsed = _convert_naive(parsed, timezone, to_timezone)
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


_THOUSANDS_POINT = r"\.(?=\d{3}(?:\D|$))"
_THOUSANDS_COMMA = r",(?=\d{3}(?:\D|$))"
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _parse_iso(text: pd.Series, timezone: str | None, to_timezone: str | None) -> pd.Series:
    """ISO 8601 strings, with or without an offset, as tz-naive local times (see parse_dates)."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    aware = text.str.contains(_OFFSET)
    if aware.any():
        stamps = pd.to_datetime(text[aware], errors="coerce", format="ISO8601", utc=True)
        out[aware] = stamps.dt.tz_convert(to_timezone or "UTC").dt.tz_localize(None).astype(
            "datetime64[ns]")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], errors="coerce", format="ISO8601")
        if timezone and to_timezone:
            naive = _convert_naive(naive, timezone, to_timezone)
        out[~aware] = naive.astype("datetime64[ns]")
    return out


def _convert_naive(values: pd.Series, timezone: str, to_timezone: str) -> pd.Series:
    """Naive local times of one zone -> naive local times of another (e.g. a UTC export)."""
    values = pd.to_datetime(values).astype("datetime64[ns]")
    local = values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert(to_timezone).dt.tz_localize(None)


def parse_numbers(raw: pd.Series, *, decimal: str | None, thousands: str | None, file: str,
                  column: str) -> ParsedColumn:
    """Parse amounts written with a decimal comma or point, an optional thousands separator and
    currency signs. `decimal=None` reads a point, or a comma when no value has a point."""
    blank = _blank(raw)
    # astype(bool): on an empty column map() returns a string dtype, which `&` below refuses.
    numeric = raw.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                      ).astype(bool)
    out = pd.Series(np.nan, index=raw.index, dtype="float64")
    if numeric.any():
        out[numeric] = raw[numeric].astype(float)
    text = raw[~blank & ~numeric].astype(str).str.strip()
    text = text.str.replace(r"[€$£\s\u00a0]|EUR|USD|GBP", "", regex=True)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    shown = decimal
    if decimal is None:
        # A value with both separators shows its own convention (the rightmost is the decimal
        # one); the others follow the column.
        column_decimal = _detect_decimal(text)
        per_value = pd.Series(column_decimal, index=text.index)
        both = (text.str.contains(",", regex=False) & text.str.contains(".", regex=False)).to_numpy(
            dtype=bool, na_value=False)
        if both.any():
            mixed = text[both]
            per_value[both] = np.where(mixed.str.rfind(",") > mixed.str.rfind("."), ",", ".")
        shown = column_decimal if (per_value == column_decimal).all() else "per value"
    else:
        per_value = pd.Series(decimal, index=text.index)
    comma = (per_value == ",").to_numpy(dtype=bool)
    # Only a separator before a group of three digits is a thousands separator; any other stray
    # separator leaves the value unparseable rather than silently ten times too large. Each rule
    # runs on its own values only (both over every value cost seconds on a big export).
    text = text.astype(object)
    if comma.any():
        text[comma] = (text[comma].astype(str).str.replace(_THOUSANDS_POINT, "", regex=True)
                       .str.replace(",", ".", regex=False))
    if (~comma).any():
        text[~comma] = text[~comma].astype(str).str.replace(_THOUSANDS_COMMA, "", regex=True)
    out[text.index] = pd.to_numeric(text, errors="coerce")
    problems = pd.Series(None, index=raw.index, dtype="object")
    failed = ~blank & out.isna()
    problems[failed] = ("unparseable number " + raw[failed].astype(str).map(repr)
                        + f" in column {column!r} (decimal {shown!r})")
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
