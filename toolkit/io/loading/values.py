"""A row's values: its dates (parsed and checked for plausibility), its amount (in the
engagement's currency) and its attributes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.io.categories import fold_spellings, read_blank_markers
from toolkit.io.limits import (
    MAX_AMOUNT,
    YEARS,
)
from toolkit.io.loading.headers import find_column
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.rows import as_text
from toolkit.io.loading.settings import EngagementReading, ReadingSettings
from toolkit.io.parsing import ParsedColumn, parse_dates, parse_numbers
from toolkit.io.privacy import PseudonymKey, pseudonymise

MAX_CATEGORY_LEVELS = 50  # more distinct values than this: free text or an identifier


@shared_docs
def source_attributes(frame: pd.DataFrame, attributes: Mapping[str, str], *, file: str,
                      key: str, personal: list[str], pseudonym_key: PseudonymKey | None,
                      settings: ReadingSettings | None = None, notes: list[str] | None = None
                      ) -> pd.DataFrame:
    """The segment attributes of `frame`, cleaned and with personal ones pseudonymised.

    Parameters
    ----------
    frame : DataFrame
        The file's rows.
    attributes : mapping of str to str
        Each attribute's name and the header it is read from.
    {shared.file}
    {shared.key}
    personal : list of str
        The attributes to pseudonymise.
    pseudonym_key : PseudonymKey or None
        The key to pseudonymise with; needed when `personal` names an attribute.
    settings : ReadingSettings, optional
        The file's settings: what its engagement lends (``missing_values``,
        ``fold_categories``) is read. None: no blank markers, spellings folded.
    {shared.notes}

    Returns
    -------
    DataFrame
        One column per attribute, on `frame`'s index: declared blank markers
        (``missing_values``) read as missing and spellings differing only in case, spaces,
        hyphens, invisible characters or look-alike letters folded (``fold_categories``), both
        said in the notes, before a personal column is pseudonymised.

    Raises
    ------
    DataError
        An attribute's header is not in the file.
    TypeError
        `personal` names an attribute but no `pseudonym_key` was passed.
    """
    lent = settings.engagement if settings is not None else EngagementReading()
    markers = list(lent.missing_values)
    fold = lent.fold_categories
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
            few = values.nunique() <= MAX_CATEGORY_LEVELS
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
        if name in personal:
            if pseudonym_key is None:  # a caller's mistake: the loaders always pass the key
                raise TypeError(f"`pseudonym_key` is needed to pseudonymise the personal column "
                                f"`{name}`, but None was passed.")
            values = pseudonymise(values, pseudonym_key)
        out[name] = values
    return out


def read_dates(frame: pd.DataFrame, header: str, settings: ReadingSettings, q: Quarantine, *, role: str,
           file: str, key: str, required: bool, headers: pd.Index | None = None
           ) -> tuple[pd.DataFrame, pd.Series]:
    # `role` names the internal column (_at, _created); the YAML calls them changed_at, created_at
    yaml_role = {"at": "changed_at", "created": "created_at", "closed": "closed_at"}.get(role, role)
    col = find_column(frame if headers is None else headers, header, role=yaml_role, file=file,
                      key=key)
    # An expected close date of an open deal may lie ahead; every other date may not.
    parsed = parse_date_column(frame[col], settings, file=file, column=col, future_ok=role == "closed")
    values = parsed.values
    bad = parsed.problems.notna() if required else (
        parsed.problems.notna() & parsed.codes.ne("missing_date"))
    frame = frame.assign(**{f"_{role}": values})
    frame = q.add(frame, bad, parsed.problems.fillna(""), code=parsed.codes, column=col,
                  values=frame[col])
    return frame, frame[f"_{role}"]


EARLIEST = pd.Timestamp("1990-01-01")  # no CRM export holds real deals from before this


def dates_within_range(raw: pd.Series, settings: ReadingSettings, *, file: str, column: str) -> ParsedColumn:
    """parse_dates; when a value's year lies outside what a timestamp holds, that value gets a
    problem naming it (its row is quarantined) and the rest are parsed. The common case pays
    nothing: the years are only looked at when parsing overflowed."""
    def parse(values: pd.Series) -> ParsedColumn:
        return parse_dates(values, date_format=settings.date_format, file=file,
                           column=column, timezone=settings.timezone,
                           to_timezone=settings.engagement.timezone)
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


def parse_date_column(raw: pd.Series, settings: ReadingSettings, *, file: str, column: str,
                 future_ok: bool = False) -> ParsedColumn:
    """parse_dates with the source's format and time zone, plus the plausibility bounds: a date
    after the as-of date (or today) or before 1990 gets a problem naming the value."""
    parsed = dates_within_range(raw, settings, file=file, column=column)
    values, problems, codes = parsed.values, parsed.problems.copy(), parsed.codes.copy()
    as_of = settings.engagement.as_of
    if as_of is None:
        today = pd.Timestamp.now(tz=settings.engagement.timezone or None).tz_localize(None)
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
    early = (values < EARLIEST).to_numpy()
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


def note_dates_left_empty(dates: ParsedColumn, frame: pd.DataFrame, *, file: str, column: str,
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


def parse_amounts(frame: pd.DataFrame, col: str, settings: ReadingSettings, *, file: str, notes: list[str]
             ) -> pd.Series:
    """The amounts of a column. An unparseable, negative, infinite or absurd amount is left
    blank, not the row set aside: the stage change or record it belongs to is still real. The
    notes list them."""
    parsed = parse_numbers(frame[col], decimal=settings.decimal,
                           thousands=settings.thousands, file=file, column=col)
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


def in_currency(frame: pd.DataFrame, values: pd.Series, settings: ReadingSettings, *, file: str, key: str,
                 notes: list[str]) -> pd.Series:
    """Amounts in the engagement's `currency` only. A multi-currency export (a `currency` column,
    e.g. Salesforce's CurrencyIsoCode) would otherwise sum pesos and dollars into one won value:
    an amount in another currency is left blank (the toolkit does not convert) and the notes say
    how many, per currency."""
    cols = settings.columns
    if "currency" not in cols:
        return values
    col = find_column(frame, cols["currency"], role="currency", file=file, key=key)
    currency = (settings.engagement.currency or "EUR").upper()
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


def add_value_and_attributes(target: pd.DataFrame, frame: pd.DataFrame,
                              settings: ReadingSettings, *,
                              file: str, key: str, attr_key: str, personal: list[str],
                              pseudonym_key: PseudonymKey | None,
                              notes: list[str] | None = None) -> None:
    """Fill `target` (one row per row of `frame`) with the amount and the segment attributes."""
    cols = settings.columns
    if "value" in cols:
        col = find_column(frame, cols["value"], role="value", file=file, key=key)
        notes = [] if notes is None else notes
        target["value"] = in_currency(frame, parse_amounts(frame, col, settings, file=file,
                                                       notes=notes),
                                       settings, file=file, key=key, notes=notes).to_numpy()
    attrs = source_attributes(frame, settings.attributes, file=file, key=attr_key,
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
