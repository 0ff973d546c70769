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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.base import findings as _base
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import Reason
from toolkit.present.format import MISSING, Formatter, formatter, is_missing
from toolkit.present.problems import problem_text
from toolkit.present.tables.words import code_text

__all__ = ["FINDING_WORDS", "WRITERS", "KINDS", "Words", "render", "write", "show", "finding_codes",
           "period_headline", "as_typed"]


def N_(message: str) -> str:
    """Mark `message` for extraction into the catalogue (it is translated where it is shown)."""
    return message


#: How a value of a finding is shown: kind -> the formatter call.
KINDS: dict[str, Callable[[Formatter, Any], str]] = {
    "percent": lambda f, x: f.percent(x, 1),
    "percent0": lambda f, x: f.percent(x, 0),
    "points": lambda f, x: f.number(float(x) * 100, 1, signed=True),
    "points_size": lambda f, x: f.number(abs(float(x)) * 100, 1),
    "points_words": lambda f, x: f.points(x),
    "signed_percent0": lambda f, x: f.percent(x, 0, signed=True),
    "number": lambda f, x: f.number(x),
    "number0": lambda f, x: f.number(x, 0),
    "number1": lambda f, x: f.number(x, 1),
    "number2": lambda f, x: f.number(x, 2),
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
    """Every finding code this module writes (the problem codes are in ``PROBLEM_WORDS``).

    Returns
    -------
    list of str
        The codes.
    """
    return [*FINDING_WORDS, *WRITERS]


@shared_docs
def show(kind: str, value: Any, fmt: Formatter) -> str:
    """One value of a finding as a reader sees it.

    Parameters
    ----------
    kind : str
        The value's kind (``KINDS``: ``'percent'``, ``'points'``, ``'number1'``, ...).
    value : object
        The value.
    {shared.fmt}

    Returns
    -------
    str
        The value as text; a missing number as the formatter's dash.
    """
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
        shown[name] = (fmt.gettext(table[value]) if isinstance(value, str) and value in table
                       else str(value))
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
    return problem_text(finding, fmt, from_code=True)


@shared_docs
def write(code: str, values: Mapping[str, Any], language: str = "en", *,
          fmt: Formatter | None = None) -> str:
    """The sentence of finding `code` with `values`, without making the Finding (and its English
    sentence) first.

    Parameters
    ----------
    code : str
        The finding's code (:func:`finding_codes`).
    values : mapping
        The values that fill it.
    {shared.language}
        Default English; ignored when `fmt` is given.
    fmt : Formatter, optional
        The formatter to write with: its language, and its currency names the amounts.

    Returns
    -------
    str
        The sentence.
    """
    return _text(code, values, fmt or formatter(language))


@shared_docs
def render(finding: object, language: str = "en", *, fmt: Formatter | None = None) -> str:
    """A finding as a sentence in a language.

    Parameters
    ----------
    finding : object
        A Finding or Reason; any other value is written as its text.
    {shared.language}
        Default English; ignored when `fmt` is given.
    fmt : Formatter, optional
        The formatter to write with: its language, and its currency names the amounts.

    Returns
    -------
    str
        The sentence.
    """
    return _render(finding, fmt or formatter(language))


def _english(code: str, values: Mapping[str, Any]) -> str:
    fmt = formatter("en", str(values.get("currency", "EUR")))
    if code in FINDING_WORDS or code in WRITERS:
        return _text(code, values, fmt)
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
                            "which needs at least a full year (a difference between months could "
                            "as well be a trend).",
                            "Only {n} complete months of history: too short to judge seasonality, "
                            "which needs at least a full year (a difference between months could "
                            "as well be a trend).", int(facts["months"])).format(
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
                                    "the conversion rate is seasonal (an expected count is below "
                                    "5).")
    if case == "volume_only":
        return volume + fmt.gettext(" but the conversion rate is not (variation {cv}, {p}): steer "
                                    "on percentages.").format(
            cv=fmt.percent(facts["cv_rate"], 0), p=fmt.p_phrase(facts["p_rate"]))
    if case == "rate":
        return fmt.gettext("The conversion rate itself differs between calendar months ({p}): "
                           "compare each month with the same month a year earlier.").format(
            p=fmt.p_phrase(facts["p_rate"]))
    return fmt.gettext("Neither volume nor conversion shows a clear seasonal pattern.")


def _audit(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The audit of the stage history (``toolkit.measure.audit``): each check that found records,
    with their count and share."""
    n = int(values["n_records"])
    caveat = "" if values.get("history_known", True) else " " + fmt.gettext(
        "A snapshot has no stage history: skips, regressions, late entries and bulk timestamps "
        "cannot be audited.")
    if not values["checks"]:
        return fmt.ngettext("Audit of {n} record: no findings.",
                            "Audit of {n} records: no findings.", n).format(n=fmt.count(n)) + caveat
    found = "; ".join(f"{fmt.count(records)} {code_text(check, fmt).lower()} "
                      f"({fmt.percent(share, 0)})" for check, records, share in values["checks"])
    return fmt.ngettext("Audit of {n} record: {findings}.", "Audit of {n} records: {findings}.",
                        n).format(n=fmt.count(n), findings=found) + caveat


def _kpi_change(values: Mapping[str, Any], fmt: Formatter) -> str:
    """A KPI that changed significantly between two periods (``toolkit.analysis.steering``): a
    rate with as few decimals as tell the two apart (up to two), another number by its size."""
    previous, current = values["previous"], values["current"]
    if values["is_rate"]:
        decimals = 0
        while decimals < 2 and fmt.percent(previous, decimals) == fmt.percent(current, decimals):
            decimals += 1
        old, new = fmt.percent(previous, decimals), fmt.percent(current, decimals)
    else:
        old, new = fmt.number(previous), fmt.number(current)
    message = (N_("{kpi} rose from {old} to {new} (significant, {p}; {judgement}).")
               if current > previous else
               N_("{kpi} fell from {old} to {new} (significant, {p}; {judgement}).")
               if current < previous else
               N_("{kpi} stayed at {new} (significant, {p}; {judgement})."))
    better = (current > previous) == bool(values["higher_is_better"])
    return fmt.gettext(message).format(
        kpi=values["kpi"], old=old, new=new, p=fmt.p_phrase(values["p_value"]),
        judgement=fmt.gettext("better") if better else fmt.gettext("worse"))


#: The methods a change evaluation reads (``toolkit.analysis.simulation.evaluate_change``).
METHOD_WORDS = {"did": N_("difference-in-differences against {control}"),
                "standardised": N_("before/after within each segment of {attributes}, whose mix "
                                   "moved"),
                "its_level": N_("interrupted time series, level change"),
                "before_after": N_("before/after comparison of mature cohorts")}

_CHANGE_WORDS = {
    "change_raised": N_("The change raised the conversion {start} → {end} by {points} "
                        "({interval}, {p}; {method})."),
    "change_lowered": N_("The change lowered the conversion {start} → {end} by {points} "
                         "({interval}, {p}; {method})."),
    "change_none": N_("No detectable change in the conversion {start} → {end} (estimate "
                      "{estimate}, {interval}, {p}; {method}); with these volumes an effect "
                      "smaller than {mde} cannot be seen."),
}


def _change(code: str) -> Callable[[Mapping[str, Any], Formatter], str]:
    def write(values: Mapping[str, Any], fmt: Formatter) -> str:
        """A declared change's answer from the numbers of the method it reads."""
        method = values["method"]
        shown = {"start": str(values["from_phase"]), "end": str(values["to_phase"]),
                 "interval": fmt.gettext("95% interval {low} to {high}").format(
                     low=fmt.points(values["ci_low"]), high=fmt.points(values["ci_high"])),
                 "p": fmt.p_phrase(values["p_value"]),
                 "method": fmt.gettext(METHOD_WORDS[method]).format(attributes=values["mix"],
                                                                    control=values["control"])
                 if method in METHOD_WORDS else str(method),
                 "points": fmt.points(abs(values["estimate"]), signed=False),
                 "estimate": fmt.points(values["estimate"]),
                 "mde": fmt.points(values.get("mde"), signed=False)}
        return fmt.gettext(_CHANGE_WORDS[code]).format(**shown)
    return write


def _change_mix_moved(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The attributes whose mix moved between before and after a declared change."""
    moved = "; ".join(fmt.gettext("{attribute} ({share} of the records in other segments, "
                                  "{p})").format(attribute=attribute, share=fmt.percent(shift, 0),
                                                 p=fmt.p_phrase(p))
                      for attribute, shift, p in values["shifted"])
    return fmt.gettext("The mix moved between before and after: {moved}. The verdict reads the "
                       "change within those segments (standardised), not the pooled "
                       "rates.").format(moved=moved)


_PERIOD_WORDS = {"week": N_("week"), "month": N_("month"), "quarter": N_("quarter"),
                 "year": N_("year")}


def _what_if(values: Mapping[str, Any], fmt: Formatter) -> str:
    """A what-if scenario's orders against today's (``toolkit.analysis.simulation.what_if``)."""
    period = values["period"]
    return fmt.gettext("Scenario ({scenario}): {orders} orders per {period} ({confidence} "
                       "interval {low} to {high}) against {baseline} now; change {change} "
                       "({change_low} to {change_high}).").format(
        scenario=values["scenario"], orders=fmt.number(values["orders"], 1),
        period=fmt.gettext(_PERIOD_WORDS[period]) if period in _PERIOD_WORDS else period,
        confidence=fmt.percent(values["confidence"], 0), low=fmt.number(values["ci_low"], 1),
        high=fmt.number(values["ci_high"], 1), baseline=fmt.number(values["baseline"], 1),
        change=fmt.number(values["change"], 1, signed=True),
        change_low=fmt.number(values["change_ci_low"], 1, signed=True),
        change_high=fmt.number(values["change_ci_high"], 1, signed=True))


def _experiment_size(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The records and weeks a test of a conversion needs (``toolkit.analysis.simulation``)."""
    text = fmt.gettext("To see {baseline} → {target} ({uplift}) with {power} power at alpha "
                       "{alpha}: {control} records in control and {treatment} in treatment "
                       "({total} in all)").format(
        baseline=fmt.percent(values["baseline_rate"]), target=fmt.percent(values["target_rate"]),
        uplift=fmt.points(values["uplift"]), power=fmt.percent(values["power"], 0),
        alpha=fmt.number(values["alpha"], 2 if round(values["alpha"], 2) == values["alpha"] else 3),
        control=fmt.count(values["records_control"]),
        treatment=fmt.count(values["records_treatment"]), total=fmt.count(values["total_records"]))
    if values.get("entries_per_week"):
        text += fmt.gettext("; at {entries} entries a week that is {weeks} weeks of "
                            "enrolment").format(entries=fmt.number(values["entries_per_week"], 1),
                                                weeks=fmt.number(values["weeks_to_enrol"], 1))
        if values.get("window_days") is not None:
            text += fmt.gettext(" plus {wait} weeks for the last cohort's {window}-day window: "
                                "readable after {weeks} weeks").format(
                wait=fmt.number(values["wait_weeks"], 1), window=fmt.count(values["window_days"]),
                weeks=fmt.number(values["weeks_until_readable"], 1))
    return text + "."


WRITERS["share"] = lambda values, fmt: fmt.percent(values["share"])  # a scenario's rate
_register("change_reads_trend", Words(
    N_("The verdict reads the interrupted time series: the cohorts before the change show a "
       "trend of their own ({p_value})."), {"p_value": "p"}))
_register("change_reads_before_after", Words(
    N_("The verdict reads the before/after comparison: the cohorts before the change show no "
       "trend of their own ({p_value})."), {"p_value": "p"}))
_register("kpi_tree_root", Words(
    N_("{label}: {value} against a target of {target} ({gap})."),
    {"label": "text", "value": "number0", "target": "number0", "gap": "signed_percent0"}))
_register("kpi_tree_root_no_target", Words(N_("{label}: {value} (no target declared)."),
                                           {"label": "text", "value": "number0"}))
_register("raising_bottleneck", Words(
    N_("Raising {from_phase} → {to_phase} from {rate} to {reference_rate} changes orders from "
       "{baseline} to {scenario} per {period}."),
    {"from_phase": "text", "to_phase": "text", "rate": "percent0", "reference_rate": "percent0",
     "baseline": "number1", "scenario": "number1"}, words={"period": _PERIOD_WORDS}))
_register("funnel_headline", Words(
    N_("{entered} records entered, {orders} became an order; the weakest step so far is "
       "{from_phase} → {to_phase} at {rate}."),
    {"entered": "count", "orders": "count", "from_phase": "text", "to_phase": "text",
     "rate": "percent0"}))
_register("median_unreachable", Words(
    N_("cannot reach 50%: {lost} lost and only {converted} converted, {open} still open"),
    {"lost": "percent0", "converted": "percent0", "open": "percent0"}))
_register("median_not_reached", Words(
    N_("not reached within follow-up: {converted} converted by day {day}, {open} still open"),
    {"converted": "percent0", "day": "number", "open": "percent0"}))
for _code in _CHANGE_WORDS:
    WRITERS[_code] = _change(_code)
WRITERS["change_mix_moved"] = _change_mix_moved
WRITERS["what_if"] = _what_if
WRITERS["experiment_size"] = _experiment_size
_MIX_WORDS = {"rose": N_("rose"), "fell": N_("fell"), "stayed": N_("stayed"),
              "better": N_("better"), "worse": N_("worse")}


def _mix(values: Mapping[str, Any], fmt: Formatter) -> str:
    """A step's change between two periods split into rate and mix effects
    (``toolkit.analysis.diagnosis.mix_vs_rate``), or the Simpson's paradox it shows."""
    step = f"{values['from_phase']} -> {values['to_phase']}"
    if values.get("by_creation"):
        step += fmt.gettext(" (records by creation year)")
    shown = {"step": step, "word": fmt.gettext(_MIX_WORDS[values["word"]]),
             "rate_a": fmt.percent(values["rate_a"]), "rate_b": fmt.percent(values["rate_b"]),
             "period_a": fmt.period(values["period_a"]), "period_b": fmt.period(values["period_b"]),
             "total": fmt.points(values["total"]),
             "rate_effect": fmt.points(values["rate_effect"]),
             "mix_effect": fmt.points(values["mix_effect"])}
    if "direction" not in values:
        return fmt.gettext("The overall {step} rate {word} from {rate_a} in {period_a} to "
                           "{rate_b} in {period_b} ({total}): rate effect {rate_effect}, mix "
                           "effect {mix_effect}.").format(**shown)
    return fmt.gettext(
        "Simpson's paradox: the overall {step} rate {word} from {rate_a} in {period_a} to "
        "{rate_b} in {period_b} ({total}), yet the {attribute} segments holding {share} of the "
        "records converted {direction} within themselves. The mix moved: {attribute} = {segment} "
        "went from {share_a} to {share_b} of the records (mix effect {mix_effect}, rate effect "
        "{rate_effect}). Judge the segments by their own rates, not by the overall trend.").format(
        attribute=values["attribute"], share=fmt.percent(values["share"]),
        direction=fmt.gettext(_MIX_WORDS[values["direction"]]), segment=values["segment"],
        share_a=fmt.percent(values["share_a"]), share_b=fmt.percent(values["share_b"]), **shown)


WRITERS["mix_decomposition"] = _mix
WRITERS["simpsons_paradox"] = _mix
WRITERS["seasonality"] = _seasonality
WRITERS["kpi_change"] = _kpi_change
WRITERS["audit"] = _audit



# ------------------------------------------------------------------- step 5's verdict headline
_REFERENCE_NOUNS = {"target": N_("target"), "benchmark": N_("benchmark")}
_REFERENCE_PHRASES = {"target": N_("the target"), "benchmark": N_("the benchmark"),
                      "history": N_("its own earlier level")}
_VERDICT_MISSING = {
    "target": N_("conversion targets per step (`conversion_<from>_<to>` under `targets:`)"),
    "benchmark": N_("market benchmarks per step (`benchmark_stages:`)"),
    "volume": N_("an order target (`orders_per_month`) to test the lead volume against"),
    "history": N_("two years of history, so each step can be set against its own earlier level"),
}


def _verdict_steps(rows: Any, fmt: Formatter) -> str:
    """The steps below their reference, as step 5's verdict names them."""
    parts = []
    for start, end, rate, reference_rate, reference, low, high in rows:
        ref = (fmt.gettext(_REFERENCE_PHRASES[reference]) if reference in _REFERENCE_PHRASES
               else fmt.gettext("the {reference}").format(reference=reference))
        parts.append(fmt.gettext("{start} -> {end} converts {rate} against {reference_rate} for "
                                 "{reference} (95% CI {low} to {high})").format(
            start=start, end=end, rate=fmt.percent(rate, 1),
            reference_rate=fmt.percent(reference_rate, 1), reference=ref,
            low=fmt.percent(low, 1), high=fmt.percent(high, 1)))
    return "; ".join(parts)


def _verdict(values: Mapping[str, Any], fmt: Formatter) -> str:
    """Step 5's verdict in one sentence with its numbers (``toolkit.analysis.diagnosis``): the
    case, the steps below their reference, the lead volume against the order target."""
    case, volume = values["case"], values.get("volume")
    if case == "insufficient data" and "first_n" in values:
        return fmt.gettext("Too few records to conclude: only {n} mature records at {step} (at "
                           "least {min_n} are needed), so shortage or leak cannot be decided "
                           "yet.").format(n=fmt.count(values["first_n"]), step=values["step"],
                                          min_n=fmt.count(values["min_n"]))
    if case == "insufficient data":
        return fmt.ngettext(
            "Too few records to conclude: no step could be tested against a reference, and "
            "{steps} has fewer than {min_n} mature records.",
            "Too few records to conclude: no step could be tested against a reference, and "
            "{steps} have fewer than {min_n} mature records.", int(values["count"])).format(
            steps=", ".join(values["small"]), min_n=fmt.count(values["min_n"]))
    if case == "one transition":
        step = (fmt.gettext("{step} converts {rate}, demonstrably below its {reference} "
                            "({reference_rate})").format(
                    step=values["step"], rate=fmt.percent(values["rate"], 1),
                    reference=fmt.gettext(_REFERENCE_NOUNS.get(values["reference"],
                                                               values["reference"])),
                    reference_rate=fmt.percent(values["reference_rate"], 1))
                if "rate" in values else
                fmt.gettext("{step} is not demonstrably below a stated reference").format(
                    step=values["step"]))
        if volume is not None:
            step += fmt.gettext("; {leads} entries into {phase} per month against {need} needed "
                                "for the order target").format(
                leads=fmt.number(volume["leads"], 1), phase=volume["phase"],
                need=fmt.number(volume["need_now"], 1))
        return fmt.gettext("A funnel of one transition has no shortage/leak split: "
                           "{step}.").format(step=step)
    volume_note = "" if volume is None else fmt.gettext(
        "{leads} entries into {phase} per month against {need} needed for {goal} orders at "
        "today's conversion").format(leads=fmt.number(volume["leads"], 1), phase=volume["phase"],
                                     need=fmt.number(volume["need_now"], 1),
                                     goal=fmt.number(volume["goal"], 1))
    first = _verdict_steps(values.get("first", ()), fmt)
    if values.get("both"):
        also = _verdict_steps(values.get("also", ()), fmt) or volume_note
        message = (N_("Leak first, though both sides are off: {first}; also {also}.")
                   if case == "leak" else
                   N_("Shortage first, though both sides are off: {first}; also {also}."))
        return fmt.gettext(message).format(first=first, also=also)
    if case == "leak":
        tail = volume_note or fmt.gettext("the early phases are not demonstrably below their "
                                          "references")
        return fmt.gettext("Leak: {steps}; {tail}.").format(steps=first, tail=tail)
    if case == "shortage":
        what = first or fmt.gettext("the lead volume falls short even at the reference "
                                    "conversion")
        return (fmt.gettext("Shortage: {what}; {volume}.").format(what=what, volume=volume_note)
                if volume_note else fmt.gettext("Shortage: {what}.").format(what=what))
    missing = values.get("missing", [])
    decide = ("; ".join(fmt.gettext(_VERDICT_MISSING[m]) for m in missing) if missing else
              fmt.gettext("more history: with these volumes a gap smaller than the intervals "
                          "cannot be told from chance"))
    message = (N_("No side of the funnel is the obvious place to start, but segments of a step "
                  "are (ranked below): no step is demonstrably below its reference (target, "
                  "benchmark or its own earlier level){volume}. What would decide it: {decide}.")
               if values.get("gains_in_segments") else
               N_("No clear low-hanging fruit: no step is demonstrably below its reference "
                  "(target, benchmark or its own earlier level){volume}. What would decide it: "
                  "{decide}."))
    return fmt.gettext(message).format(
        volume=fmt.gettext(" and {volume}").format(volume=volume_note) if volume_note else "",
        decide=decide)


WRITERS["diagnosis_verdict"] = _verdict


def _leak_detail(values: Mapping[str, Any], fmt: Formatter) -> str:
    """Where the lost records were lost and how many open records have stalled
    (``toolkit.analysis.diagnosis.leak_detail``)."""
    stall = (fmt.gettext("too few records moved on (fewer than {n} per phase) to tell which open "
                         "records have stalled").format(n=fmt.count(values["min_moves"]))
             if values.get("stalled") is None else
             fmt.gettext("{n} open records are stalled beyond the {quantile}th-percentile time in "
                         "their phase").format(n=fmt.count(values["stalled"]),
                                               quantile=values["quantile"]))
    total = values["total_lost"]
    if not total:
        return fmt.gettext("No lost records; {stall}.").format(stall=stall)
    if "tied" in values:
        return fmt.gettext("{total} lost records, spread evenly: {each} each at {phases}, so no "
                           "phase stands out; {stall}.").format(
            total=fmt.count(total), each=fmt.count(values["each"]),
            phases=", ".join(values["tied"]), stall=stall)
    lead = (fmt.gettext("Most lost records were lost at") if values["lost"] > total / 2 else
            fmt.gettext("The largest share of lost records ({share}) was lost at").format(
                share=fmt.percent(values["share"], 1)))
    return fmt.gettext("{lead} {phase} ({lost} of {n} that reached it, {rate}; median {days} days "
                       "there before the loss); {stall}.").format(
        lead=lead, phase=values["phase"], lost=fmt.count(values["lost"]),
        n=fmt.count(values["n"]), rate=fmt.percent(values["rate"], 1),
        days=show("number0", values["median_days"], fmt), stall=stall)


WRITERS["leak_detail"] = _leak_detail

# ------------------------------------------------- the notes of the analysis and the estimates
# (issue 22: analysis returns codes and values; the sentences are written here, in either language)
_METHOD_NAMES = {"its": N_("Interrupted time series"), "did": N_("Difference-in-differences")}
_GROUP_SIDES = {"treated": N_("treated"), "control": N_("control"), "before": N_("before"),
                "after": N_("after")}


def _group_sides(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The (group, side) cells of a difference-in-differences without mature cohorts."""
    missing = ", ".join(f"{fmt.gettext(_GROUP_SIDES.get(g, g))} {fmt.gettext(_GROUP_SIDES.get(s, s))}"
                        for g, s in values["missing"])
    return fmt.gettext("Difference-in-differences skipped: no mature cohorts for "
                       "{missing}.").format(missing=missing)


def _same_seasons(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The calendar periods a before/after comparison matches on both sides."""
    period = values["period"]
    return fmt.gettext("Before/after compares the same calendar {period}s {seasons} on both "
                       "sides.").format(
        period=fmt.gettext(_PERIOD_WORDS[period]) if period in _PERIOD_WORDS else period,
        seasons=", ".join(fmt.count(s) for s in values["seasons"]))


def _standardised_note(values: Mapping[str, Any], fmt: Formatter) -> str:
    """How the standardised before/after estimate was formed."""
    text = fmt.ngettext("after minus before within each {names} segment, weighted by the "
                        "segment's share of both sides (direct standardisation, Wald interval); "
                        "{cells} segment",
                        "after minus before within each {names} segment, weighted by the "
                        "segment's share of both sides (direct standardisation, Wald interval); "
                        "{cells} segments", int(values["cells"])).format(
        names=" x ".join(values["names"]), cells=fmt.count(values["cells"]))
    if values.get("left_out"):
        text += fmt.gettext(", {n} records in segments seen on one side only left out").format(
            n=fmt.count(values["left_out"]))
    return text


def _rate_input(values: Mapping[str, Any], fmt: Formatter) -> str:
    """A step rate that a what-if scenario starts from."""
    text = fmt.gettext("cohort conversion, {window}-day window, {immature} immature records not "
                       "counted").format(window=fmt.count(values["window_days"]),
                                         immature=fmt.count(values["immature"]))
    if values.get("multiplier", 1.0) != 1.0:
        text += fmt.gettext("; volume x{multiplier} into {phase}").format(
            multiplier=fmt.number(values["multiplier"]), phase=values["phase"])
    return text


def _fruit_today(values: Mapping[str, Any], fmt: Formatter) -> str:
    """Today's orders and revenue per horizon (``toolkit.analysis.diagnosis.low_hanging_fruit``)."""
    horizon = values["horizon"]
    text = fmt.gettext("Today: {orders} orders per {horizon}").format(
        orders=fmt.number(values["orders"], 1),
        horizon=fmt.gettext(_PERIOD_WORDS[horizon]) if horizon in _PERIOD_WORDS else horizon)
    if not is_missing(values.get("avg_value")):
        text += fmt.gettext(", about {revenue} in revenue (average won deal {value})").format(
            revenue=fmt.number(values["revenue"], 0), value=fmt.number(values["avg_value"], 0))
    if values.get("revenue_target") is not None:
        text += fmt.gettext("; revenue target {target} per year against {today} today").format(
            target=fmt.number(values["revenue_target"], 0),
            today=fmt.number(values["revenue_per_year"], 0))
    return text + "."


def _period_on_target(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The period report's first sentence: how many KPIs with a target are on target."""
    on = int(values["on"])
    text = (fmt.gettext("In {period}, {on} of {n} KPIs with a target is on target.") if on == 1
            else fmt.gettext("In {period}, {on} of {n} KPIs with a target are on target.")).format(
        period=values["period"], on=fmt.count(on), n=fmt.count(values["n"]))
    if values.get("off"):
        text += " " + fmt.gettext("Clearly short of target: {kpis}.").format(
            kpis=", ".join(map(str, values["off"])))
    return text


def _period_quiet(values: Mapping[str, Any], fmt: Formatter) -> str:
    """The KPIs of a period report that changed no more than chance."""
    n = int(values["count"])
    if values.get("others"):
        message = fmt.ngettext("{n} other KPI changed no more than chance would explain (not "
                               "significant at the 5% level).",
                               "{n} other KPIs changed no more than chance would explain (not "
                               "significant at the 5% level).", n)
    else:
        message = fmt.ngettext("{n} KPI changed no more than chance would explain (not "
                               "significant at the 5% level).",
                               "{n} KPIs changed no more than chance would explain (not "
                               "significant at the 5% level).", n)
    return message.format(n=fmt.count(n))


def _period_alert(values: Mapping[str, Any], fmt: Formatter) -> str:
    """A control-chart alert of the period (its rule's description is the chart's own text)."""
    severity = values.get("severity", "alert")
    who = f"{values['kpi']}: " if values.get("kpi") is not None else ""
    return fmt.gettext("Alert ({severity}) {who}{description}.").format(
        severity=fmt.gettext(_SEVERITY_WORDS.get(severity, severity)), who=who,
        description=values["description"])


_SEVERITY_WORDS = {"high": N_("high"), "medium": N_("medium"), "low": N_("low"),
                   "alert": N_("alert")}

_register("change_overdispersed", Words(
    N_("{what}: the periods vary more than binomial chance (dispersion {dispersion}), so the "
       "standard errors are scaled up (quasi-binomial)."),
    {"dispersion": "number2"}, words={"what": _METHOD_NAMES}))
_register("change_its_skipped", Words(
    N_("Interrupted time series skipped: it needs at least 3 cohort periods before and 2 after "
       "the change, and has {n_before} and {n_after}."),
    {"n_before": "count", "n_after": "count"}))
_register("change_its_seasonal", Words(
    N_("Interrupted time series with {period}-of-year effects ({span} periods of history)."),
    {"span": "count"}, words={"period": _PERIOD_WORDS}))
_register("change_its_no_season", Words(
    N_("Interrupted time series without season effects (needs two years of cohort periods).")))
WRITERS["change_did_skipped"] = _group_sides
_register("change_attribute_missing", Words(
    N_("{n} records without `{attribute}` are left out."),
    {"n": "count", "attribute": "text"}))
_register("change_immature", Words(
    N_("{n} records entered {phase} less than {window} days before the as-of date: their window "
       "is still open, so they are not counted."),
    {"n": "count", "phase": "text", "window": "count"}))
_register("change_straddling", Words(
    N_("{n} mature records in cohorts that straddle the change date are left out."),
    {"n": "count"}))
WRITERS["change_same_seasons"] = _same_seasons
_register("change_seasons_unmatched", Words(
    N_("Before/after could not match calendar {period}s (no {period} of the year on both sides); "
       "all periods are compared."), words={"period": _PERIOD_WORDS}))
_register("change_note_before_after", Words(
    N_("pooled cohort rates {x_after}/{n_after} after vs {x_before}/{n_before} before; Newcombe "
       "interval, {test} test"),
    {"x_after": "count", "n_after": "count", "x_before": "count", "n_before": "count",
     "test": "text"}))
_register("change_note_its_level", Words(
    N_("segmented binomial regression on cohort periods: level change at the change date, on the "
       "probability scale (averaged over the after periods)")))
_register("change_note_its_slope", Words(
    N_("change in trend per {period} after the change (probability scale, approximate)"),
    words={"period": _PERIOD_WORDS}))
_register("change_note_did", Words(
    N_("binomial GLM with period effects and group x after interaction; effect on the treated in "
       "probability points (control: {control_before} before, {control_after} after)"),
    {"control_before": "count", "control_after": "count"}))
WRITERS["change_note_standardised"] = _standardised_note
_register("what_if_entries", Words(
    N_("{entries} entries in {months} complete months ({first} to {last})"),
    {"entries": "count", "months": "count", "first": "period", "last": "period"}))
WRITERS["what_if_rate"] = _rate_input
_register("what_if_value", Words(N_("mean value of won records with a value")))
_register("mix_no_stratified_test", Words(
    N_("The stratified test could not be formed: {error}"), {"error": "text"}))
_register("mix_immature", Words(
    N_("Immature records left out (window {window} days): {n_a} in {period_a}, {n_b} in "
       "{period_b}."),
    {"window": "count", "n_a": "count", "period_a": "period", "n_b": "count",
     "period_b": "period"}))
_register("leak_unplaced", Words(
    (N_("{count} lost record reached no phase and is not placed."),
     N_("{count} lost records reached no phase and are not placed.")), {"count": "count"}))
_register("leak_no_threshold", Words(
    N_("No stall threshold for {phases}: fewer than {min_moves} records moved on."),
    {"phases": "text", "min_moves": "count"}))
_register("verdict_test_note", Words(
    N_("{detail}; one-sided {p_value}, Holm-adjusted {p_adjusted}"),
    {"p_value": "p", "p_adjusted": "p_value"}, findings=("detail",)))
_register("verdict_detail_target", Words(N_("conversion_{from_phase}_{to_phase} in targets"),
                                         {"from_phase": "text", "to_phase": "text"}))
WRITERS["verdict_detail_benchmark"] = lambda values, fmt: fmt.gettext(
    "benchmark typical {typical} (range {low} to {high}{source})").format(
    typical=fmt.percent(values["typical"]), low=fmt.percent(values["low"]),
    high=fmt.percent(values["high"]),
    source=", " + str(values["source"]) if values.get("source") else "")
_register("verdict_detail_history", Words(
    N_("its own last year of mature cohorts (n={n_recent}) against the cohorts before "
       "(n={n_before})"), {"n_recent": "count", "n_before": "count"}))
_register("verdict_detail_history_few", Words(
    N_("fewer than {min_n} mature records in the last year or before"), {"min_n": "count"}))
_register("verdict_volume_note", Words(
    N_("{goal} orders per month need {need_now} leads at today's conversion and {need_ref} at "
       "the reference conversion; 95% interval of the volume {ci_low} to {ci_high}"),
    {"goal": "number1", "need_now": "number1", "need_ref": "number1", "ci_low": "number1",
     "ci_high": "number1"}))
WRITERS["fruit_today"] = _fruit_today
WRITERS["period_on_target"] = _period_on_target
WRITERS["period_quiet"] = _period_quiet
WRITERS["period_alert"] = _period_alert
_register("period_nothing", Words(N_("Nothing to report for {period}."), {"period": "text"}))

# ------------------------------------------------------- findings that a conclusion puts together
@shared_docs
def period_headline(headline: Sequence[object], fmt: Formatter, *, period: Any,
                    label: Callable[[object], str]) -> list[str]:
    """A period report's headline (``toolkit.analysis.steering.period_report``) in the
    formatter's language: each finding written here, the period and the KPIs named by their
    labels, the alerts counted (their rules' descriptions are the charts' own text, in the table).

    Parameters
    ----------
    headline : sequence of Finding
        The report's ``headline``; another value is written as its text.
    {shared.fmt}
    period : object
        The report's period, written by the formatter (``juli 2026``).
    label : callable
        ``label(kpi_key)``: a KPI's name in the language.

    Returns
    -------
    list of str
        The sentences.
    """
    lines, alerts = [], 0
    for finding in headline:
        code = getattr(finding, "code", None)
        values = dict(getattr(finding, "values", {}))
        if code == "period_alert":
            alerts += 1
            continue
        if code in ("period_on_target", "period_nothing"):
            values["period"] = fmt.period(period)
        if code == "period_on_target":
            values["off"] = [label(k) for k in values.get("off_kpis", ())]
        if code == "kpi_change" and "kpi_key" in values:
            values["kpi"] = label(values["kpi_key"])
        known = isinstance(code, str) and (code in WRITERS or code in FINDING_WORDS)
        lines.append(_text(code, values, fmt) if known and isinstance(code, str)
                     else str(finding))
    if alerts:
        lines.append(fmt.ngettext("{n} alert on the control charts; see the table.",
                                  "{n} alerts on the control charts; see the table.",
                                  alerts).format(n=fmt.count(alerts)))
    return lines


def as_typed(value: object) -> str:
    """A value from the engagement YAML as the user typed it: a list as its items, no quotes.

    Parameters
    ----------
    value : object
        A value, or a list of them (``comparison: {region: [Noord, Zuid]}``).

    Returns
    -------
    str
        ``Noord, Zuid``.
    """
    if isinstance(value, list | tuple | set):
        return ", ".join(str(item) for item in value)
    return str(value)


_base.use_renderer(_english, lambda kind, value: show(kind, value, formatter("en")))
