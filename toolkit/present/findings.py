"""Findings in words: the one place a :class:`~toolkit.base.findings.Finding` becomes a sentence.

Analysis and measurement return a finding's code and raw values; this module writes it in the
report's language. Each code of :data:`FINDING_WORDS` names its sentence (an English msgid of the
message catalogue, so the Dutch is a translation, not a rewrite) and how each value is shown
(:data:`KINDS`), every number through the one :class:`~toolkit.present.format.Formatter`. The
problem codes (``toolkit.present.problems.PROBLEM_WORDS``) are written the same way, so
:func:`render` writes any finding or reason.

::

    render(Finding("change_sentence", {...}), "nl")
    # 'Conversie steeg van 24% naar 31% (significant, p < 0,001; beter).'

Importing this module installs its English writer as the sentence of every Finding
(``toolkit.base.findings.use_renderer``); ``toolkit/__init__.py`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.base import findings as _base
from toolkit.base.findings import Finding
from toolkit.present.format import MISSING, Formatter, formatter, is_missing

__all__ = ["FINDING_WORDS", "KINDS", "Words", "render", "show", "finding_codes"]


def N_(message: str) -> str:
    """Mark `message` for extraction into the catalogue (it is translated where it is shown)."""
    return message


#: How a value of a finding is shown: kind -> the formatter call.
KINDS: dict[str, Callable[[Formatter, Any], str]] = {
    "percent": lambda f, x: f.percent(x, 1),
    "percent0": lambda f, x: f.percent(x, 0),
    "points": lambda f, x: f.number(float(x) * 100, 1, signed=True),
    "points_size": lambda f, x: f.number(abs(float(x)) * 100, 1),
    "number": lambda f, x: f.number(x),
    "number0": lambda f, x: f.number(x, 0),
    "number1": lambda f, x: f.number(x, 1),
    "signed1": lambda f, x: f.number(x, 1, signed=True),
    "count": lambda f, x: f.count(x),
    "p": lambda f, x: f.p_phrase(x),
    "p_value": lambda f, x: f.p_value(x),
    "amount": lambda f, x: f.amount(x),
    "date": lambda f, x: f.date(x),
    "period": lambda f, x: f.period(x),
    "text": lambda f, x: MISSING if is_missing(x) else str(x),
}


@dataclass(frozen=True)
class Words:
    """The sentence of a finding code: its msgid (or a singular/plural pair chosen by the value
    ``count_of``) and the kind of each value it names (placeholder -> a key of :data:`KINDS`).
    A value named in `words` is itself a code: the catalogue's words for it (``{key}_words``).
    A value named in `findings` is an inner finding (or a list of them, joined by "; ")."""

    message: str | tuple[str, str]
    kinds: Mapping[str, str] = field(default_factory=dict)
    count_of: str = "count"
    words: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    findings: tuple[str, ...] = ()


#: Each finding code's sentence. Values are raw (a share 0.361, a p-value, a count); the sentence
#: shows them through the formatter by the kind named here.
FINDING_WORDS: dict[str, Words] = {}


def _register(code: str, words: Words) -> None:
    if code in FINDING_WORDS:  # a programming error: a code is written once
        raise KeyError(f"finding code registered twice: {code!r}")
    FINDING_WORDS[code] = words


def finding_codes() -> list[str]:
    """Every finding code this module writes (the problem codes are in ``PROBLEM_WORDS``)."""
    return [*FINDING_WORDS, *WRITERS]


def show(kind: str, value: Any, fmt: Formatter) -> str:
    """One value of a finding as a reader sees it (a missing number: the formatter's dash)."""
    if kind != "text" and is_missing(value):
        return MISSING
    return KINDS[kind](fmt, value)


#: Findings whose sentence is put together from parts (code -> writer of values and formatter).
WRITERS: dict[str, Callable[[Mapping[str, Any], Formatter], str]] = {}


def _text(code: str, values: Mapping[str, Any], fmt: Formatter) -> str:
    if code in WRITERS:
        return WRITERS[code](values, fmt)
    words = FINDING_WORDS[code]
    shown: dict[str, str] = {}
    for name, kind in words.kinds.items():
        shown[name] = show(kind, values.get(name), fmt)
    for name, table in words.words.items():
        value = values.get(name)
        shown[name] = fmt.gettext(table[value]) if value in table else str(value)
    for name in words.findings:
        inner = values.get(name)
        items = inner if isinstance(inner, list | tuple) else [inner]
        shown[name] = "; ".join(_render(item, fmt) for item in items if item is not None)
    if isinstance(words.message, tuple):
        count = values.get(words.count_of, 0)
        message = fmt.ngettext(*words.message, int(0 if is_missing(count) else count))
    else:
        message = fmt.gettext(words.message)
    return message.format(**shown)


def _render(finding: object, fmt: Formatter) -> str:
    if isinstance(finding, Finding) and (finding.code in FINDING_WORDS
                                         or finding.code in WRITERS):
        return _text(finding.code, finding.values, fmt)
    from toolkit.present.problems import problem_text  # the problem codes' words
    return problem_text(finding, fmt, from_code=True)


def render(finding: object, language: str = "en", *, fmt: Formatter | None = None) -> str:
    """`finding` (a Finding or Reason; any other value as its text) as a sentence in `language`
    (or the language of `fmt`, whose currency then names the amounts)."""
    return _render(finding, fmt or formatter(language))


def _english(code: str, values: Mapping[str, Any]) -> str:
    fmt = formatter("en", str(values.get("currency", "EUR")))
    if code in FINDING_WORDS or code in WRITERS:
        return _text(code, values, fmt)
    from toolkit.base.vocabulary import Reason
    from toolkit.present.problems import problem_text
    return problem_text(Reason("", code, values), fmt, from_code=True)


# ----------------------------------------------------------------------------- the findings
def _seasonality(facts: Mapping[str, Any], fmt: Formatter) -> str:
    """The seasonality conclusion (``toolkit.measure.seasonality``) from its case and facts."""
    case = facts["case"]
    if case == "few_mature_months":
        return fmt.gettext("Too few mature cohort months to judge seasonality ({n} with mature "
                           "records; at least 6 are needed).").format(
            n=fmt.count(facts["mature_months"]))
    if case == "short_history":
        return fmt.ngettext("Only {n} complete month of history: too short to judge seasonality, "
                            "which needs at least a full year.",
                            "Only {n} complete months of history: too short to judge seasonality, "
                            "which needs at least a full year.", int(facts["months"])).format(
            n=fmt.count(facts["months"]))
    if case == "few_per_month":
        return fmt.gettext("Too few records per month to judge seasonality (on average {n} "
                           "entries a month; at least 5 are needed).").format(
            n=fmt.number(facts["mean_entries"], 1))
    volume = (fmt.gettext("Volume is seasonal (month-to-month variation {cv}, {p})").format(
                  cv=fmt.percent(facts["cv_volume"], 0), p=fmt.p_phrase(facts["p_volume"]))
              if facts.get("seasonal_volume")
              else fmt.gettext("Volume shows no clear seasonal pattern"))
    if case == "rate_unjudged":
        return volume + fmt.gettext("; too few mature records per calendar month to judge whether "
                                    "the conversion rate is seasonal.")
    if case == "volume_only":
        return volume + fmt.gettext(" but the conversion rate is not (variation {cv}, {p}): steer "
                                    "on percentages.").format(
            cv=fmt.percent(facts["cv_rate"], 0), p=fmt.p_phrase(facts["p_rate"]))
    if case == "rate":
        return fmt.gettext("The conversion rate itself differs between calendar months ({p}): "
                           "compare each month with the same month a year earlier.").format(
            p=fmt.p_phrase(facts["p_rate"]))
    return fmt.gettext("Neither volume nor conversion shows a clear seasonal pattern.")


WRITERS["seasonality"] = _seasonality

_base.use_renderer(_english)
