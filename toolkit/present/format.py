"""The one formatter: every number, share, amount, interval, p-value, duration and date a reader
sees, in the engagement's language and currency (Babel's CLDR data for each locale).

::

    fmt = formatter("nl", currency="EUR")
    fmt.percent(0.3614)                              # '36,1%'
    fmt.count(1234)                                  # '1.234'
    fmt.interval(0.361, 0.353, 0.371)                # '36,1% (35,3–37,1%)'
    fmt.amount_interval(284_000, -167_703.8, 735_703.8)   # '€ 284.000 (€ 0–735.704)'
    fmt.p_value(1e-9)                                # '< 0,001'
    fmt.days(427.552)                                # '428 dagen'

Rules, the same in every table and sentence:

- a missing value (None, NaN, NaT, pd.NA) is shown as an en dash, never as ``nan``;
- shares are percentages with one decimal; counts are whole numbers with thousands separators;
- amounts are in the engagement's currency without cents, and an interval of an amount never goes
  below zero (an amount cannot be negative; a normal-approximation bound below zero is shown as 0);
- p-values below 0.001 are shown as "< 0.001", others with three decimals;
- a rounded value never shows a minus zero ("-0.0");
- a range of values that can be negative reads "−0.2 to +1.5" (an en dash between signed numbers is
  unreadable); otherwise "35.3–37.1%".
"""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel import units as babel_units
from babel.core import Locale

from toolkit.base.exceptions import OptionError
from toolkit.present.messages import check_language, translations

__all__ = ["MISSING", "LOCALES", "KINDS", "Formatter", "formatter", "is_missing"]

#: What a reader sees where there is no value.
MISSING = "–"

#: The Babel locale of each report language. British English: day-month dates, as in Dutch.
LOCALES = {"nl": "nl_NL", "en": "en_GB"}

#: The kinds of value :meth:`Formatter.value` knows.
KINDS = ("percent", "count", "number", "amount", "days", "weeks", "years", "p_value", "date",
         "month", "period", "text")

Kind = Literal["percent", "count", "number", "amount", "days", "weeks", "years", "p_value",
               "date", "month", "period", "text"]

_DASH = "–"  # en dash between the bounds of a range


def is_missing(value: Any) -> bool:
    """Whether `value` means "no value": None, NaN, NaT, pd.NA (not an empty string).

    Parameters
    ----------
    value : object
        Any value.

    Returns
    -------
    bool
    """
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _rounded(x: float, decimals: int) -> float:
    # `+ 0.0` turns a -0.0 that rounding left into 0.0: a reader never sees "-0.0".
    return round(float(x), decimals) + 0.0


def _telling_decimals(percent: float, decimals: int, *, most: int = 3) -> int:
    """`decimals`, or more (up to `most`) when rounding would turn a share that is neither none
    nor all into "0%" or "100%": 17 of 12,000 reads "0,1%", never "0%", which says "none"."""
    # only a share strictly between none and all (a signed difference near zero is a "0.0")
    while decimals < most and 0.0 < percent < 100.0 and _rounded(percent, decimals) in (0.0, 100.0):
        decimals += 1
    return decimals


def _pattern(decimals: int, *, signed: bool = False, grouping: bool = True) -> str:
    body = ("#,##0" if grouping else "0") + ("." + "0" * decimals if decimals > 0 else "")
    return f"+{body};-{body}" if signed else body


class Formatter:
    """Formats values for one language and currency. Build it with :func:`formatter`.

    Parameters
    ----------
    language
        ``"nl"`` or ``"en"``: the locale of the numbers and dates, and of the few words the
        formatter writes ("to", "points").
    currency
        ISO 4217 code of the engagement's amounts (``EUR``, ``USD`` ...).
    """

    def __init__(self, language: str = "en", *, currency: str = "EUR") -> None:
        self.language = check_language(language)
        if not isinstance(currency, str) or not babel_numbers.is_currency(currency):
            raise OptionError(f"The value for `currency` must be an ISO 4217 currency code such as "
                               f"'EUR' or 'USD', but {currency!r} was passed. Fix: set `currency:` "
                               f"in the engagement YAML to the code of the amounts' currency.")
        self.currency = currency
        self.locale = Locale.parse(LOCALES[self.language])
        self._translations = translations(self.language)
        # The locale's own currency pattern (where the symbol goes, a space or not), without cents:
        # a board reads "€ 284.000", not "€ 284.000,00".
        standard = self.locale.currency_formats["standard"].pattern
        self._amount_pattern = standard.replace(".00", "").replace(",##0.0", ",##0")

    def __repr__(self) -> str:
        return f"Formatter(language={self.language!r}, currency={self.currency!r})"

    # -- words --------------------------------------------------------------------------------
    def gettext(self, message: str) -> str:
        """`message` in this language (the message catalogue)."""
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural message for `n`, by this language's plural rule."""
        return self._translations.ngettext(singular, plural, n)

    # -- numbers ------------------------------------------------------------------------------
    def _decimal(self, x: float, decimals: int, *, signed: bool = False) -> str:
        return babel_numbers.format_decimal(_rounded(x, decimals),
                                            format=_pattern(decimals, signed=signed),
                                            locale=self.locale, decimal_quantization=True)

    def number(self, x: Any, decimals: int | None = None, *, signed: bool = False) -> str:
        """A plain number with thousands separators. `decimals` None picks them by size: 0 from
        100 up, 1 from 10, 2 from 1, 3 below (so a float never shows more than three)."""
        if is_missing(x):
            return MISSING
        x = float(x)
        if not math.isfinite(x):
            return MISSING
        if decimals is None:
            size = abs(x)
            decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
            if float(x).is_integer():
                decimals = 0
        return self._decimal(x, decimals, signed=signed and _rounded(x, decimals) != 0)

    def count(self, n: Any) -> str:
        """A count as a whole number with thousands separators: 1234.0 -> '1.234' (nl)."""
        if is_missing(n) or not math.isfinite(float(n)):
            return MISSING
        return self._decimal(float(n), 0)

    def percent(self, share: Any, decimals: int = 1, *, signed: bool = False) -> str:
        """A share (0.361) as a percentage with one decimal: '36,1%' (nl), '36.1%' (en)."""
        if is_missing(share) or not math.isfinite(float(share)):
            return MISSING
        decimals = _telling_decimals(float(share) * 100, decimals)
        value = _rounded(float(share) * 100, decimals) / 100 + 0.0
        body = _pattern(decimals, signed=signed and value != 0)
        parts = body.split(";")
        percent = ";".join(p + "%" for p in parts)
        return babel_numbers.format_percent(value, format=percent, locale=self.locale,
                                            decimal_quantization=True)

    def points(self, difference: Any, decimals: int = 1, *, signed: bool = True) -> str:
        """A difference of two shares in percentage points, signed: '+2,6 procentpunt' (nl);
        ``signed=False`` for a size whose direction the sentence's verb says ('lowered by 7,7
        procentpunt')."""
        if is_missing(difference) or not math.isfinite(float(difference)):
            return MISSING
        return self.gettext("{value} points").format(
            value=self.number(float(difference) * 100, decimals, signed=signed))

    def amount(self, x: Any, *, signed: bool = False) -> str:
        """An amount in the engagement's currency, without cents: '€ 284.000' (nl, EUR)."""
        if is_missing(x) or not math.isfinite(float(x)):
            return MISSING
        value = _rounded(float(x), 0)
        text = babel_numbers.format_currency(value, self.currency, format=self._amount_pattern,
                                             locale=self.locale, currency_digits=False,
                                             decimal_quantization=True)
        if signed and value > 0:
            text = "+" + text
        return text

    def compact_amount(self, x: Any, currency: str | None = None) -> str:
        """An amount shortened for a figure's narrow space: '€ 1,2K', '€ 2,3 mln.' (nl), '€1.2k'
        (en), whole below a thousand; in `currency` (default the engagement's)."""
        if is_missing(x) or not math.isfinite(float(x)):
            return MISSING
        code = currency or self.currency
        return babel_numbers.format_compact_currency(_rounded(float(x), 0), code,
                                                     locale=self.locale, fraction_digits=1)

    def p_value(self, p: Any) -> str:
        """A p-value: '< 0,001' below one in a thousand, '> 0,999' from 0,9995 up (a Dutch
        '1,000' reads as a thousand), else three decimals ('0,012')."""
        if is_missing(p) or not math.isfinite(float(p)):
            return MISSING
        p = float(p)
        if p < 0.001:
            return "< " + self._decimal(0.001, 3)
        if p >= 0.9995:
            return "> " + self._decimal(0.999, 3)
        return self._decimal(p, 3)

    def p_phrase(self, p: Any, name: str = "p") -> str:
        """A p-value after its name, as a figure, a table, the CLI and a page all write it:
        'p < 0,001', 'p > 0,999', 'p = 0,012' (`name` e.g. 'p_adj'); without a value 'p –'."""
        shown = self.p_value(p)
        if shown == MISSING:
            return f"{name} {MISSING}"
        return f"{name} {shown}" if shown.startswith(("<", ">")) else f"{name} = {shown}"

    # -- durations and dates ------------------------------------------------------------------
    def _unit(self, x: Any, unit: str, decimals: int) -> str:
        if is_missing(x) or not math.isfinite(float(x)):
            return MISSING
        value = _rounded(float(x), decimals)
        if decimals == 0:
            value = int(value)
        return babel_units.format_unit(value, unit, locale=self.locale, length="long",
                                       format=_pattern(decimals))

    def days(self, d: Any) -> str:
        """A duration in whole days: 427.552 -> '428 dagen' (nl), 1 -> '1 day' (en)."""
        if isinstance(d, pd.Timedelta):
            d = d / pd.Timedelta(days=1)
        return self._unit(d, "duration-day", 0)

    def weeks(self, w: Any) -> str:
        """A duration in whole weeks: '12 weken' (nl)."""
        return self._unit(w, "duration-week", 0)

    def years(self, y: Any, decimals: int = 0) -> str:
        """A duration in years: '1 jaar', '2 jaar' (nl); '1 year', '2 years' (en)."""
        return self._unit(y, "duration-year", decimals)

    def date(self, d: Any, *, length: Literal["long", "medium"] = "medium") -> str:
        """A date: '5 mrt 2025' (nl, medium) or '5 maart 2025' (nl, long)."""
        if is_missing(d):
            return MISSING
        day = pd.Timestamp(d).date()
        return babel_dates.format_date(day, "d MMMM y" if length == "long" else "medium",
                                       locale=self.locale)

    def month(self, d: Any, *, length: Literal["long", "medium"] = "long") -> str:
        """A month: 'maart 2025' (nl, long) or 'mrt 2025' (nl, medium)."""
        if is_missing(d):
            return MISSING
        if isinstance(d, pd.Period):
            d = d.start_time
        day = pd.Timestamp(d).date()
        return babel_dates.format_date(day, "MMMM y" if length == "long" else "MMM y",
                                       locale=self.locale)

    def month_name(self, number: int) -> str:
        """The name of a calendar month 1-12: 'maart' (nl), 'March' (en)."""
        return babel_dates.get_month_names("wide", locale=self.locale)[int(number)]

    def period(self, value: Any) -> str:
        """A period label as the data give it ('2025-03', '2025Q1', '2025', a pd.Period): the
        month, quarter ('K1 2025' nl, 'Q1 2025' en) or year in this language; other text as is."""
        if is_missing(value):
            return MISSING
        if isinstance(value, pd.Period):
            freq = value.freqstr[0].upper()
            start = value.start_time.date()
            if freq == "Q":
                return babel_dates.format_date(start, "QQQ y", locale=self.locale)
            if freq in ("Y", "A"):
                return str(value.year)
            if freq == "M":
                return self.month(start)
            return self.date(start)
        if isinstance(value, datetime | date | pd.Timestamp | np.datetime64):
            return self.date(value)
        text = str(value).strip()
        for freq in ("M", "Q", "Y"):
            try:
                if freq == "M" and len(text) == 7 and text[4] == "-":
                    return self.period(pd.Period(text, freq="M"))
                if freq == "Q" and "Q" in text.upper() and len(text) <= 7:
                    return self.period(pd.Period(text.upper().replace("-", ""), freq="Q"))
                if freq == "Y" and len(text) == 4 and text.isdigit():
                    return text
            except (ValueError, TypeError):
                continue
        return text

    # -- ranges and intervals -----------------------------------------------------------------
    def value(self, x: Any, kind: Kind = "number", *, decimals: int | None = None) -> str:
        """`x` formatted as a `kind` (:data:`KINDS`)."""
        if kind == "percent":
            return self.percent(x, 1 if decimals is None else decimals)
        if kind == "count":
            return self.count(x)
        if kind == "number":
            return self.number(x, decimals)
        if kind == "amount":
            return self.amount(x)
        if kind == "days":
            return self.days(x)
        if kind == "weeks":
            return self.weeks(x)
        if kind == "years":
            return self.years(x, decimals or 0)
        if kind == "p_value":
            return self.p_value(x)
        if kind == "date":
            return self.date(x)
        if kind == "month":
            return self.month(x)
        if kind == "period":
            return self.period(x)
        if kind == "text":
            return MISSING if is_missing(x) else str(x)
        raise OptionError(f"The value for `kind` must be one of {list(KINDS)}, but {kind!r} was "
                           f"passed.")

    def range(self, low: Any, high: Any, kind: Kind = "percent", *,
              decimals: int | None = None) -> str:
        """The bounds of a range: '35,3–37,1%'; '€ 0–735.704' (an amount's low bound is never
        below zero); '−0,2 tot +1,5' when a bound of a number is negative."""
        if is_missing(low) and is_missing(high):
            return MISSING
        if kind == "amount":
            low = max(float(low), 0.0) if not is_missing(low) else low
            high = max(float(high), 0.0) if not is_missing(high) else high
            if is_missing(low) or is_missing(high):
                return self.gettext("{low} to {high}").format(low=self.amount(low),
                                                              high=self.amount(high))
            return f"{self.amount(low)}{_DASH}{self._decimal(float(high), 0)}"
        negative = any(not is_missing(b) and float(b) < 0 for b in (low, high))
        if kind == "percent":
            d = 1 if decimals is None else decimals
            if negative:
                return self.gettext("{low} to {high}").format(
                    low=self.percent(low, d, signed=True), high=self.percent(high, d, signed=True))
            if is_missing(low) or is_missing(high):
                return self.gettext("{low} to {high}").format(low=self.percent(low, d),
                                                              high=self.percent(high, d))
            # "35,3–37,1%": the % sign once, after the range
            return f"{self.number(float(low) * 100, d)}{_DASH}{self.percent(high, d)}"
        if kind in ("number", "count") and negative:
            places = 0 if kind == "count" else decimals
            shown = [self.number(b, places) for b in (low, high)]
            if not any(text.startswith("-") for text in shown):  # rounds to 0: no sign to show
                return f"{shown[0]}{_DASH}{shown[1]}"
            return self.gettext("{low} to {high}").format(
                low=self.number(low, places, signed=True),
                high=self.number(high, places, signed=True))
        if kind in ("days", "weeks", "years"):
            unit = {"days": "duration-day", "weeks": "duration-week", "years": "duration-year"}
            if is_missing(low) or is_missing(high):
                return self.gettext("{low} to {high}").format(low=self.value(low, kind),
                                                              high=self.value(high, kind))
            return self._unit_range(low, high, unit[kind])
        return f"{self.value(low, kind, decimals=decimals)}{_DASH}" \
               f"{self.value(high, kind, decimals=decimals)}"

    def _unit_range(self, low: Any, high: Any, unit: str) -> str:
        # "12–20 weken": the number range, then the unit in the plural the high bound needs
        text = self._unit(high, unit, 0)
        return f"{self._decimal(float(low), 0)}{_DASH}{text}"

    def interval(self, value: Any, low: Any, high: Any, kind: Kind = "percent", *,
                 decimals: int | None = None) -> str:
        """A value with its interval: '36,1% (35,3–37,1%)' (nl), '36.1% (35.3–37.1%)' (en). Without
        bounds, the value alone; without a value, a dash."""
        shown = self.value(value, kind, decimals=decimals)
        if shown == MISSING or (is_missing(low) and is_missing(high)):
            return shown
        return f"{shown} ({self.range(low, high, kind, decimals=decimals)})"

    def amount_interval(self, value: Any, low: Any, high: Any) -> str:
        """An amount with its interval, never below zero: '€ 284.000 (€ 0–735.704)'."""
        return self.interval(value, low, high, "amount")


@cache
def formatter(language: str = "en", currency: str = "EUR") -> Formatter:
    """The formatter of a language and currency (one per process and pair)."""
    return Formatter(language, currency=currency)

