"""Parsing the values of messy CRM exports: dates in any locale, Excel serials, decimal commas."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # imported where used: reading dates need not load pyarrow at start-up
    import pyarrow as pa

from toolkit.base.exceptions import DataError

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
# Python's `\s` on ASCII text, spelled for RE2 (whose `\s` misses \x0b and \x1c-\x1f).
_ASCII_SPACE = "[\t\n\x0b\x0c\r\x1c-\x1f ]"
# The same patterns for pyarrow's RE2 on ASCII values, where they mean exactly what Python's `re`
# means (digits are 0-9, `$` may precede one final newline).
_NUMERIC_RE2 = r"^[0-9]{5}(\.[0-9]+)?\n?$"
_ISO_LIKE_RE2 = f"^{_ASCII_SPACE}*[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}"


@dataclass(frozen=True)
class ParsedColumn:
    """Parsed values plus, per row, why a value could not be parsed (None when it could): the
    sentence in `problems`, its reason code (``toolkit.base.vocabulary.REASONS``) in `codes`."""

    values: pd.Series
    problems: pd.Series  # str reason or None, aligned with values
    codes: pd.Series  # reason code or None, aligned with values


def _blank(raw: pd.Series) -> pd.Series:
    return raw.isna() | (raw.astype("string").str.strip() == "")


def _is_text(raw: pd.Series) -> bool:
    """A column of strings (every CSV column): no value in it is a datetime or a number object."""
    return isinstance(raw.dtype, pd.StringDtype)


def _arrow(text: pd.Series) -> pa.Array:
    """A column of strings as one contiguous Arrow `large_string` array (pandas may hold it in
    chunks). Always `large_string`: the date reader reads the offsets buffer as int64, and pandas
    gives a plain `string` (int32 offsets) when `pd.options.mode.string_storage` is "python"."""
    import pyarrow as pa
    values = pa.array(text.astype("string").array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if values.type == pa.large_string() else values.cast(pa.large_string())


def _match(text: pd.Series, pattern: re.Pattern, re2: str) -> pd.Series:
    """`text.str.match(pattern)` for a column of strings: RE2 (`re2`, the same pattern spelled for
    ASCII) on the ASCII values, Python's `re` on the others. pandas would run Python's `re` on
    every value here, one by one: seconds on a big export."""
    import pyarrow as pa
    import pyarrow.compute as pc
    out = np.zeros(len(text), dtype=bool)
    if text.empty:
        return pd.Series(out, index=text.index)
    values = _arrow(text)
    ascii_ = pc.fill_null(pc.string_is_ascii(values), False).to_numpy(zero_copy_only=False)
    if ascii_.any():
        found = pc.match_substring_regex(values.filter(pa.array(ascii_)), re2)
        out[ascii_] = pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    if not ascii_.all():
        out[~ascii_] = text[~ascii_].str.match(pattern).to_numpy(dtype=bool, na_value=False)
    return pd.Series(out, index=text.index)


def detect_date_convention(raw: pd.Series, *, file: str, column: str) -> str:
    """Decide dmy / mdy / ymd from the values, or refuse when they are ambiguous.

    A date like 03-04-2025 is 3 April in Europe and 4 March in the US. Guessing silently would shift
    cohorts by months, so we only decide when some value proves it (a day above 12).
    """
    text = raw[~_blank(raw)].astype(str).str.strip()
    if text.empty:
        return "ymd"
    if _match(text, _ISO_LIKE, _ISO_LIKE_RE2).all():
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
    if _is_text(raw) and len(raw) > 1:
        # Each value reads on its own (the convention is decided from the set of values, the
        # examples in its messages are the first in the file's order, which distinct values
        # keep), so a column that repeats its dates (a creation date on every stage row) is
        # read once per distinct value.
        codes, distinct = pd.factorize(raw)
        if 0 < len(distinct) <= len(raw) // 2:
            once = parse_dates(pd.Series(distinct, dtype=raw.dtype), date_format=date_format,
                               file=file, column=column, excel_serials=excel_serials,
                               timezone=timezone, to_timezone=to_timezone)
            missing = codes < 0
            values = once.values.to_numpy()[codes]
            values[missing] = np.datetime64("NaT")
            problems = once.problems.to_numpy()[codes]
            problems[missing] = f"missing date in column {column!r}"
            reasons = once.codes.to_numpy()[codes]
            reasons[missing] = "missing_date"
            return ParsedColumn(pd.Series(values, index=raw.index, dtype="datetime64[ns]"),
                                pd.Series(problems, index=raw.index, dtype="object"),
                                pd.Series(reasons, index=raw.index, dtype="object"))
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if raw.empty:  # every row was set aside before its dates were read
        return ParsedColumn(out, pd.Series(None, index=raw.index, dtype="object"),
                            pd.Series(None, index=raw.index, dtype="object"))
    blank = _blank(raw)
    if _is_text(raw):  # a CSV column: no datetime objects to look for, value by value
        is_dt = pd.Series(False, index=raw.index)
    else:
        is_dt = raw.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64))
                        or hasattr(v, "isoformat"))
    is_dt = is_dt.astype(bool) & ~blank.to_numpy(dtype=bool)
    if is_dt.any():
        out[is_dt] = pd.to_datetime(raw[is_dt].astype(object), errors="coerce").astype(
            "datetime64[ns]")
    if is_dt.any() and timezone and to_timezone:
        out[is_dt] = _convert_naive(out[is_dt], timezone, to_timezone)
    text = raw[~blank & ~is_dt].astype(str).str.strip()
    if excel_serials and not text.empty:
        serial = _match(text, _NUMERIC, _NUMERIC_RE2)
        if serial.any():
            days = text[serial].astype(float)
            out[days.index] = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype(
                "datetime64[ns]")
            text = text[~serial]
    if not text.empty and (date_format is None or date_format in DATE_CONVENTIONS):
        iso = _match(text, _ISO_LIKE, _ISO_LIKE_RE2)
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
                parsed = _to_datetime(todo, fmt)
                if timezone and to_timezone:
                    parsed = _convert_naive(parsed, timezone, to_timezone)
            ok = parsed.notna()
            out[parsed[ok].index] = parsed[ok].astype("datetime64[ns]")
            todo = todo[~ok]
    problems = pd.Series(None, index=raw.index, dtype="object")
    reasons = pd.Series(None, index=raw.index, dtype="object")
    failed = ~blank & out.isna()
    if failed.any():
        shown = date_format or "detected"
        problems[failed] = "unparseable date " + raw[failed].astype(str).map(repr) + (
            f" in column {column!r} (date_format {shown})")
        reasons[failed] = "unparseable_date"
    problems[blank] = f"missing date in column {column!r}"
    reasons[blank] = "missing_date"
    return ParsedColumn(out, problems, reasons)


# Python's strptime patterns of the directives (what pandas' `to_datetime(format=...)` matches a
# value against, see `_strptime.TimeRE`), spelled for RE2 on ASCII text; and their two-character
# alternatives (four for a year), which most exports write and which can be read by position.
_STRPTIME_RE2 = {"d": "3[0-1]|[1-2][0-9]|0[1-9]|[1-9]| [1-9]", "m": "1[0-2]|0[1-9]|[1-9]",
                 "Y": "[0-9]{4}", "y": "[0-9]{2}", "H": "2[0-3]|[0-1][0-9]|[0-9]",
                 "M": "[0-5][0-9]|[0-9]", "S": "6[0-1]|[0-5][0-9]|[0-9]"}
_FIXED_RE2 = {"d": "3[0-1]|[1-2][0-9]|0[1-9]| [1-9]", "m": "1[0-2]|0[1-9]", "Y": "[0-9]{4}",
              "y": "[0-9]{2}", "H": "2[0-3]|[0-1][0-9]", "M": "[0-5][0-9]", "S": "6[0-1]|[0-5][0-9]"}
_NS_YEARS = (1678, 2261)  # years a datetime64[ns] holds whole


@dataclass(frozen=True)
class _Strptime:
    """A format as RE2 patterns: `pattern` matches exactly the ASCII values pandas'
    `to_datetime(format=...)` reads (a named group per directive); `fixed` the subset written
    with two-digit fields and one space, each directive at `positions` (start, width)."""

    pattern: str
    fixed: str
    width: int
    positions: dict[str, tuple[int, int]]


def _strptime_re2(fmt: str) -> _Strptime | None:
    """The format as RE2 patterns; None for a format the fast path does not take (other
    directives, two directives without a separator, no day, month or year)."""
    pattern, fixed, positions, at, after_directive = [], [], {}, 0, False
    for part in re.findall(r"%.|\s+|.", fmt, flags=re.S):
        if part.startswith("%") and len(part) == 2:
            key = part[1]
            if key not in _STRPTIME_RE2 or key in positions or after_directive:
                return None
            pattern.append(f"(?P<{key}>{_STRPTIME_RE2[key]})")
            fixed.append(f"({_FIXED_RE2[key]})")
            positions[key] = (at, 4 if key == "Y" else 2)
            at += positions[key][1]
            after_directive = True
        elif part.isspace() and part.isascii():
            pattern.append(_ASCII_SPACE + "+")  # strptime reads one space as any run of spaces
            fixed.append(_ASCII_SPACE)
            at += 1
            after_directive = False
        elif part.isascii() and not part.isdigit() and part != "%":
            pattern.append(re.escape(part))
            fixed.append(re.escape(part))
            at += 1
            after_directive = False
        else:
            return None
    if not ({"d", "m"} <= positions.keys() and positions.keys() & {"Y", "y"}):
        return None
    # strptime ignores case (which only letters need: RE2 is slower with it) and wants the whole
    # value
    flag = "(?i)" if any(c.isalpha() for c in re.sub("%.", "", fmt)) else ""
    return _Strptime(f"{flag}^{''.join(pattern)}$", f"{flag}^{''.join(fixed)}$", at, positions)


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    """`pd.to_datetime(text, errors="coerce", format=fmt)` (as datetime64[us]).

    For the usual day/month/year/hour/minute/second formats the ASCII values are matched with
    RE2 and computed with NumPy (fields read by position where they have two digits): the same
    dates, many times faster than pandas' value-by-value strptime. A value this cannot decide (not
    ASCII, an impossible day such as 31-02, a year a datetime64[ns] cannot hold) is left to
    pandas, so every value reads as pandas reads it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    spec = _strptime_re2(fmt)
    if spec is None or text.empty:
        return pd.to_datetime(text, errors="coerce", format=fmt).astype("datetime64[us]")
    n = len(text)
    values = _arrow(text)
    ascii_ = pc.fill_null(pc.string_is_ascii(values), False).to_numpy(zero_copy_only=False)
    fixed = pc.fill_null(pc.match_substring_regex(values, spec.fixed), False).to_numpy(
        zero_copy_only=False) & ascii_
    fields = {key: np.zeros(n, dtype=np.int32) for key in spec.positions}
    if fixed.any():
        block = values if fixed.all() else values.filter(pa.array(fixed))
        start = int(np.frombuffer(block.buffers()[1], dtype=np.int64)[block.offset])
        cells = np.frombuffer(block.buffers()[2], dtype=np.uint8)[
            start:start + len(block) * spec.width].reshape(len(block), spec.width)
        for key, (at, width) in spec.positions.items():
            number = np.zeros(len(block), dtype=np.int32)
            for i in range(at, at + width):  # a space stands for a leading zero (" 5": day 5)
                digit = cells[:, i].astype(np.int32) - ord("0")
                number = number * 10 + np.where(cells[:, i] == ord(" "), 0, digit)
            if fixed.all():
                fields[key] = number
            else:
                fields[key][fixed] = number
    other = ascii_ & ~fixed
    matched = fixed
    if other.any():  # one-digit fields, several spaces: read by RE2's groups
        rows = np.flatnonzero(other)
        # Capturing groups is RE2's slow path: first find the values that match at all.
        some = values if len(rows) == n else values.take(pa.array(rows))
        hit = pc.fill_null(pc.match_substring_regex(some, spec.pattern), False).to_numpy(
            zero_copy_only=False)
        rows = rows[hit]
        if len(rows):
            found = pc.extract_regex(values.take(pa.array(rows)), spec.pattern)
            matched = fixed.copy()
            matched[rows] = True
            for key in spec.positions:
                fields[key][rows] = pc.cast(pc.utf8_trim_whitespace(found.field(key)),
                                            pa.int32()).to_numpy(zero_copy_only=False)
    if not matched.any() and ascii_.all():
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"),
                         index=text.index)
    zero = np.zeros(n, dtype=np.int32)
    if "Y" in spec.positions:
        year = fields["Y"]
    else:  # strptime's two-digit years: 69-99 are 1900s, 00-68 the 2000s
        year = fields["y"] + np.where(fields["y"] <= 68, 2000, 1900).astype(np.int32)
    month, day = fields["m"], fields["d"]
    second = fields.get("S", zero)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
                          dtype=np.int32)[month.clip(1, 12) - 1]
    decided = (matched & (day <= month_days + (leap & (month == 2))) & (second < 60)
               & (year >= _NS_YEARS[0]) & (year <= _NS_YEARS[1]))
    months = np.where(decided, (year - 1970) * 12 + month - 1, 0)
    days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + day - 1
    seconds = ((days * 24 + fields.get("H", zero)) * 60 + fields.get("M", zero)) * 60 + second
    out = np.where(decided, seconds * 1_000_000, np.iinfo(np.int64).min).view("datetime64[us]")
    result = pd.Series(out, index=text.index)
    rest = ~decided & (matched | ~ascii_)  # an ASCII value the pattern refuses is no date
    if rest.any():
        result[rest] = pd.to_datetime(text[rest], errors="coerce", format=fmt).astype(
            "datetime64[us]")
    return result


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
    if _is_text(raw):  # a CSV column: no number objects to look for, value by value
        numeric = pd.Series(False, index=raw.index)
    else:
        # astype(bool): on an empty column map() returns a string dtype, which `&` refuses.
        numeric = raw.map(lambda v: isinstance(v, (int, float, np.number))
                          and not isinstance(v, bool)).astype(bool)
    out = pd.Series(np.nan, index=raw.index, dtype="float64")
    if numeric.any():
        out[numeric] = raw[numeric].astype(float)
    text = raw[~blank & ~numeric].astype(str).str.strip()
    # The rules below read each value on its own, so each distinct amount is read once (a big
    # export repeats its amounts on every stage row) and the results are spread back by code.
    codes, distinct = pd.factorize(text)
    text = pd.Series(distinct, dtype=text.dtype)
    # the no-break space written as itself: pyarrow's RE2 (pandas 3.0's Arrow strings) knows no `\u`
    text = text.str.replace("[€$£\\s\u00a0]|EUR|USD|GBP", "", regex=True)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    shown = decimal
    if decimal is None:
        # A value with both separators shows its own convention (the rightmost is the decimal
        # one); the others follow the column.
        column_decimal = _detect_decimal(text, rows=np.bincount(codes, minlength=len(text)))
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
    numbers = pd.to_numeric(text, errors="coerce")
    out[~blank & ~numeric] = np.asarray(numbers, dtype="float64")[codes]
    problems = pd.Series(None, index=raw.index, dtype="object")
    reasons = pd.Series(None, index=raw.index, dtype="object")
    failed = ~blank & out.isna()
    problems[failed] = ("unparseable number " + raw[failed].astype(str).map(repr)
                        + f" in column {column!r} (decimal {shown!r})")
    reasons[failed] = "unparseable_number"
    return ParsedColumn(out, problems, reasons)


def _detect_decimal(text: pd.Series, rows: np.ndarray | None = None) -> str:
    """Where a value has both separators, the rightmost is the decimal one (1.250,50 vs 1,250.50)
    in most rows (`rows`: how many rows hold each value; one each by default); otherwise a comma
    alone is a decimal comma."""
    rows = np.ones(len(text), dtype=np.int64) if rows is None else rows
    has_both = (text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
                ).to_numpy(dtype=bool, na_value=False)
    if has_both.any():
        both = text[has_both]
        comma_right = (both.str.rfind(",") > both.str.rfind(".")).to_numpy(dtype=bool)
        weights = rows[has_both]
        return "," if weights[comma_right].sum() / weights.sum() >= 0.5 else "."
    return "," if text.str.contains(",", regex=False).any() else "."


def parse_flags(raw: pd.Series, *, true_values: Iterable[str]) -> pd.Series:
    """Boolean columns such as Salesforce's IsWon: TRUE/FALSE, 1/0, ja/nee. Blank stays NA."""
    truthy = {t.casefold() for t in true_values}
    text = raw.astype("string").str.strip().str.casefold()
    out = text.isin(truthy).astype("boolean")
    out[text.isna() | (text == "")] = pd.NA
    return out
