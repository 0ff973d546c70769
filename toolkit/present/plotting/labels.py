"""The words and numbers written on a figure: percentages, intervals, counts, amounts and
p-values through the one formatter, phase names, and text measured and wrapped to a width."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from babel import numbers as babel_numbers
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from toolkit.base.phases import PhaseModel
from toolkit.present.format import formatter
from toolkit.present.plotting.style import LANGUAGE, fig_fmt
from toolkit.present.plotting.style import gettext as _
from toolkit.present.tables import attribute_label


def num(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def is_missing_value(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def pct_digits(value: float) -> int:
    """Decimals for a share shown as %: whole percents, one decimal below 10% (where 2% may be
    1.5% or 2.4%). The estimate decides, so an interval is printed with the estimate's precision."""
    return 1 if value is not None and np.isfinite(value) and abs(value) < 0.1 else 0


def pct_text(value: float, digits: int | None = None) -> str:
    if value is None or not np.isfinite(value):
        return _("n/a")
    return fig_fmt().percent(value, pct_digits(value) if digits is None else digits)


def pct_ci_text(rate: float, low: float, high: float) -> str:
    """'62% (58-66%)': the estimate with its interval, in the estimate's precision."""
    if rate is None or not np.isfinite(rate):
        return _("n/a")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return pct_text(rate)
    return fig_fmt().interval(rate, low, high, "percent", decimals=pct_digits(rate))


def count_text(value: float) -> str:
    return _("n/a") if value is None or not np.isfinite(value) else fig_fmt().count(value)


def is_share_unit(unit: object) -> bool:
    return str(unit).strip().lower() in ("%", "share", "rate", "percent", "pct")


def _currency_code(unit: str) -> str:
    """The ISO code of a money unit ('EUR' or '€' -> 'EUR'; 'usd' -> 'USD'), or '' when the unit
    is not a currency. The formatter writes its symbol as CLDR does ('US$' in both languages:
    unambiguous beside other dollars)."""
    if unit == "€" or unit.lower() == "euro":
        unit = "EUR"
    if len(unit) != 3 or not babel_numbers.is_currency(unit.upper()):
        return ""
    return unit.upper()


def fmt_value(value: float, unit: object = None) -> str:
    """A KPI value in its unit: shares as %, euros compact, days, counts with thousands."""
    if value is None or not np.isfinite(value):
        return _("n/a")
    u = "" if is_missing_value(unit) else str(unit).strip()
    low = u.lower()
    if is_share_unit(u):
        return pct_text(value)
    code = _currency_code(u.split("/", 1)[0].strip())
    if code:
        per = u.split("/", 1)[1] if "/" in u else ""
        return fig_fmt().compact_amount(value, code) + (f"/{_(per)}" if per else "")
    if low in ("days", "day", "d"):
        return fig_fmt().number(value, 1 if abs(value) < 10 else 0) + " " + _("days")
    if low == "x":
        return fig_fmt().number(value, 1) + "x"
    number = fig_fmt().number(value)
    if low in ("", "count", "n", "number"):
        return number
    return f"{number} {_(u)}"


def fmt_range(low: float, high: float, unit: object, digits: int | None = None) -> str:
    """An interval in a KPI's unit with the unit written once: '(41-46%)', '(39-50 days)'."""
    if is_missing_value(unit) or is_share_unit(unit):
        d = pct_digits(min(low, high)) if digits is None else digits
        return f"({fig_fmt().range(low, high, 'percent', decimals=d)})"
    lo, hi = fmt_value(low, unit), fmt_value(high, unit)
    suffix = ""
    for tail in (" days", " day", "x"):
        if lo.endswith(tail) and hi.endswith(tail):
            lo, suffix = lo[: -len(tail)], tail
            hi = hi[: -len(tail)]
    return f"({lo}–{hi}{suffix})"  # the en dash of the formatter's ranges


def p_text(p: float) -> str:
    """'p_adj < 0.001', 'p_adj = 0.042'; a comparison left out of the adjustment says so."""
    if p is None or not np.isfinite(p):
        return _("too small to test")
    return fig_fmt().p_phrase(p, _("p_adj"))  # as every page, table and sentence writes it


def phase_name(key: object, phase_model: PhaseModel | None, fallback: object = None) -> str:
    if is_missing_value(key):
        return ""
    if phase_model is not None and str(key) in phase_model.keys:
        return phase_model.label(str(key))
    if fallback is not None and not is_missing_value(fallback):
        return str(fallback)
    return str(key)


# Control characters from the data have no glyph (matplotlib warns and draws a box): shown as the
# replacement character, as the workbook does.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL_CHARACTERS.sub("\ufffd", text)


_TEXT_PATH = TextToPath()


@functools.lru_cache(maxsize=4096)
def text_width_pt(text: str, fontsize: float, weight: str = "normal") -> float:
    """Rendered width of `text` in points (the house font), for wrapping to a box."""
    prop = FontProperties(family="DejaVu Sans", size=fontsize, weight=weight)
    width, _height, _descent = _TEXT_PATH.get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def wrap_pt(text: object, width_pt: float, fontsize: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap to a width in points; a word longer than a line (Dutch compounds such as
    'Binnendienstmedewerker') is split with a hyphen only when it cannot fit on a line of its own."""
    words = str(text).split() if text is not None and not is_missing_value(text) else []
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if text_width_pt(trial, fontsize, weight) <= width_pt:
            current = trial
            continue
        if current:
            lines.append(current)
        current = word
        while text_width_pt(current, fontsize, weight) > width_pt and len(current) > 2:
            cut = len(current) - 1
            while cut > 1 and text_width_pt(current[:cut] + "-", fontsize, weight) > width_pt:
                cut -= 1
            lines.append(current[:cut] + "-")
            current = current[cut:]
    if current:
        lines.append(current)
    return lines


def attribute_words(name: object, headers: Mapping[str, str] | None) -> str:
    """A segment attribute by its label in the figure's language (``owner`` -> "Eigenaar")."""
    return attribute_label(name, formatter(LANGUAGE.get()), headers)


def period_words(period: object, *, short: bool = False) -> str:
    """A period label ('2026-07') as the figure's language writes it ('juli 2026'; `short`: a
    month as 'jul 2026', for tick labels)."""
    fmt = formatter(LANGUAGE.get())
    text = str(period)
    if short and len(text) == 7 and text[4] == "-" and text[:4].isdigit():
        return fmt.month(pd.Period(text, freq="M"), length="medium")
    return fmt.period(period)
