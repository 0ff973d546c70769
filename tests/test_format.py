"""The one formatter, against values worked out by hand from the CLDR conventions of each locale:
Dutch writes 36,1% and 1.234 (decimal comma, thousands dot), English 36.1% and 1,234."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from toolkit.base.exceptions import ToolkitError
from toolkit.present.format import MISSING, Formatter, formatter

NL = formatter("nl", "EUR")
EN = formatter("en", "EUR")


@pytest.mark.parametrize(("fmt", "expected"), [(NL, "36,1%"), (EN, "36.1%")])
def test_a_share_is_a_percentage_with_one_decimal(fmt, expected):
    assert fmt.percent(0.3614) == expected  # 0.3614 * 100 = 36.14 -> 36.1


@pytest.mark.parametrize(("fmt", "expected"), [(NL, "1.234"), (EN, "1,234")])
def test_a_count_has_thousands_separators_and_no_decimals(fmt, expected):
    assert fmt.count(1234) == expected
    assert fmt.count(1234.0) == expected  # a count stored as float (pandas after a join)
    assert fmt.count(np.int64(1234)) == expected


def test_large_numbers_never_in_scientific_notation():
    assert NL.number(1.001e7) == "10.010.000"
    assert EN.number(1.001e7) == "10,010,000"
    assert EN.count(8651.0) == "8,651"


def test_an_interval_reads_value_then_bounds_with_the_sign_once():
    assert NL.interval(0.361, 0.353, 0.371) == "36,1% (35,3–37,1%)"
    assert EN.interval(0.361, 0.353, 0.371) == "36.1% (35.3–37.1%)"


def test_an_amount_is_in_the_engagement_currency_without_cents():
    # Dutch puts a (non-breaking) space between the symbol and the number, English none
    assert NL.amount(284_000) == "€\u00a0284.000"
    assert EN.amount(284_000.4) == "€284,000"
    # the issue: `currency: USD` showed EUR
    assert formatter("en", "USD").amount(284_000) == "US$284,000"
    assert formatter("nl", "USD").amount(1234) == "US$\u00a01.234"


def test_an_amount_interval_never_goes_below_zero():
    # the issue: "Average deal size 284,000 (-167,703.8–735,703.8)"
    assert NL.amount_interval(284_000, -167_703.8, 735_703.8) == "€\u00a0284.000 (€\u00a00–735.704)"
    assert EN.amount_interval(284_000, -167_703.8, 735_703.8) == "€284,000 (€0–735,704)"


@pytest.mark.parametrize(("p", "nl", "en"), [
    (0.0, "< 0,001", "< 0.001"),          # the issue: "p = 0"
    (7.9e-56, "< 0,001", "< 0.001"),      # the issue: "7.9e-56"
    (0.000999, "< 0,001", "< 0.001"),
    (0.001, "0,001", "0.001"),
    (0.0123, "0,012", "0.012"),
    (0.3986, "0,399", "0.399"),           # the issue: "3.986e-01"
    (0.9994, "0,999", "0.999"),
    (1.0, "> 0,999", "> 0.999"),          # a month equal to the one before (step 7)
])
def test_p_values(p, nl, en):
    assert NL.p_value(p) == nl
    assert EN.p_value(p) == en


def test_durations_in_whole_units_with_the_right_plural():
    assert EN.days(427.552) == "428 days"  # the issue: "427.552 days"
    assert NL.days(427.552) == "428 dagen"
    assert EN.days(1) == "1 day"
    assert NL.days(pd.Timedelta(days=3, hours=13)) == "4 dagen"
    assert EN.years(1) == "1 year"  # the issue: "takes about 1 years"
    assert NL.years(2) == "2 jaar"  # Dutch: "jaar" after a number, singular and plural
    assert NL.weeks(12) == "12 weken"
    assert EN.range(12, 20, "weeks") == "12–20 weeks"


def test_dates_and_periods_per_locale():
    assert NL.date(date(2025, 3, 5)) == "5 mrt 2025"
    assert NL.date("2025-03-05", length="long") == "5 maart 2025"
    assert EN.date(pd.Timestamp("2025-03-05 14:00")) == "5 Mar 2025"
    assert NL.month("2025-03-17") == "maart 2025"
    assert NL.period("2025-03") == "maart 2025"
    assert EN.period(pd.Period("2025-03", freq="M")) == "March 2025"
    assert NL.period("2025Q1") == "K1 2025"
    assert EN.period(pd.Period("2025Q1", freq="Q")) == "Q1 2025"
    assert EN.period("2025") == "2025"
    assert EN.period("all") == "all"  # a label that is not a period stays as it is


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT, np.float64("nan")])
def test_a_missing_value_is_a_dash_never_nan(missing):
    for fmt in (NL, EN):
        assert fmt.percent(missing) == MISSING
        assert fmt.count(missing) == MISSING
        assert fmt.number(missing) == MISSING
        assert fmt.amount(missing) == MISSING
        assert fmt.p_value(missing) == MISSING
        assert fmt.days(missing) == MISSING
        assert fmt.date(missing) == MISSING
        assert fmt.interval(missing, 0.1, 0.2) == MISSING
    assert EN.interval(0.068, missing, missing) == "6.8%"  # no bounds: the value alone
    assert EN.number(float("inf")) == MISSING


def test_rounding_never_shows_minus_zero():
    # the issue: "change -0.0 to +1.5"
    assert EN.number(-0.04, 1) == "0.0"
    assert EN.percent(-0.0004) == "0.0%"
    assert EN.range(-0.04, 1.5, "number", decimals=1) == "0.0–1.5"  # -0.04 shows as 0.0
    assert NL.range(-0.2, 1.5, "number", decimals=1) == "-0,2 tot +1,5"
    assert EN.points(0.026) == "+2.6 points"
    assert NL.points(-0.071) == "-7,1 procentpunt"


def test_number_decimals_follow_the_size_so_a_float_never_shows_noise():
    assert EN.number(55.985) == "56.0"
    assert EN.number(284.4) == "284"
    assert EN.number(3.14159) == "3.14"
    assert EN.number(0.398765) == "0.399"
    assert EN.number(59.0) == "59"  # the issue: counts as "59.0"
    assert NL.number(2.5, 1) == "2,5"


def test_a_percent_range_that_crosses_zero_is_written_out():
    assert EN.range(-0.012, 0.034) == "-1.2% to +3.4%"
    assert EN.range(0.0, 0.02) == "0.0–2.0%"


def test_bad_language_and_currency_name_the_fix():
    with pytest.raises(ToolkitError, match=r"`language` must be one of \['nl', 'en'\].*'de'"):
        Formatter("de")
    with pytest.raises(ToolkitError, match=r"`currency` must be an ISO 4217.*'EURO'"):
        Formatter("nl", currency="EURO")
    with pytest.raises(ToolkitError, match="`kind` must be one of"):
        EN.value(1, "furlongs")


def test_one_formatter_per_language_and_currency():
    assert formatter("nl", "EUR") is NL
    assert formatter("nl", "USD") is not NL


def test_long_words_get_soft_hyphens_where_the_language_breaks_them():
    """Headless Chromium has no hyphenation dictionary: the report inserts U+00AD itself."""
    from toolkit.present.hyphenation import SOFT_HYPHEN, hyphenate
    dutch = hyphenate("Marketingmedewerker, Verkoopdirecteur", "nl")
    assert dutch.replace(SOFT_HYPHEN, "") == "Marketingmedewerker, Verkoopdirecteur"
    # between syllables (Marketing|medewerker, Verkoop|directeur, mede|wer|ker), never inside
    # one as the box's edge did ('medewerk|er')
    assert f"ting{SOFT_HYPHEN}me" in dutch and f"koop{SOFT_HYPHEN}di" in dutch
    assert f"werk{SOFT_HYPHEN}er" not in dutch
    assert hyphenate("Lead (suspects) 36,1%", "nl") == "Lead (suspects) 36,1%"  # short words whole
    assert SOFT_HYPHEN in hyphenate("Representative", "en")


def test_a_small_nonzero_share_never_reads_as_zero_or_a_whole():
    """17 of 12,000 records is 0.14%: at no decimals it would read "0%", as if none; the formatter
    adds the decimals it takes to show it is not zero (and not all)."""
    nl = formatter("nl")
    assert nl.percent(17 / 12000, 0) == "0,1%"
    assert nl.percent(13 / 12000, 0) == "0,1%"
    assert nl.percent(1 / 12000, 1) == "0,01%"        # 0.0083% -> two decimals
    assert nl.percent(11999 / 12000, 0) == "99,99%"    # 99.992% is not everything
    # zero and whole stay as they are, and a share that shows at its decimals is untouched
    assert nl.percent(0.0, 0) == "0%" and nl.percent(1.0, 0) == "100%"
    assert nl.percent(0.02, 0) == "2%" and formatter("en").percent(17 / 12000, 0) == "0.1%"
