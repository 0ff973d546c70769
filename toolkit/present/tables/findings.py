"""The cells that say something in words: a finding, a scan result, an action plan row, a
hint, the evidence, a KPI or tree node label, a segment split."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from babel.lists import format_list

from toolkit.base.vocabulary import MIN_N
from toolkit.base.vocabulary import MISSING as MISSING_SEGMENT
from toolkit.present.format import MISSING, Formatter, is_missing
from toolkit.present.tables.cells import Cell, CellContext, Render, step_cell
from toolkit.present.tables.words import N_, code_text, in_sentence, segment_value

__all__ = [
    "REFERENCE_WORDS",
]


REFERENCE_WORDS = {
    "target": N_("the target"), "benchmark": N_("the market benchmark"),
    "history": N_("its own earlier level"), "best_period": N_("its own best periods"),
    "best_segment": N_("its best segment"), "typical segment": N_("the typical segment"),
    "order target": N_("the order target"),
}


def finding_cell(row: pd.Series, c: CellContext) -> Cell:
    """A finding of the low-hanging fruit written from its fields in the report's language (the
    library's English sentence when the fields are not there)."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "bottleneck" and has("from_phase", "to_phase", "rate", "reference_rate"):
        reference = str(row.get("reference"))
        words = fmt.gettext(REFERENCE_WORDS[reference]) if reference in REFERENCE_WORDS \
            else reference
        return Cell(fmt.gettext("{step} converts {rate} against {reference_rate} for {reference}")
                    .format(step=step_cell(row, c).text, rate=fmt.percent(row["rate"]),
                            reference_rate=fmt.percent(row["reference_rate"]), reference=words))
    if area == "volume" and has("from_phase", "rate", "reference_rate"):
        return Cell(fmt.gettext("{volume} entries per month into {phase} against {needed} needed "
                                "for the order target").format(
            volume=fmt.number(row["rate"], 1), phase=c.phase(row["from_phase"]),
            needed=fmt.number(row["reference_rate"], 1)))
    if area == "segment" and has("attribute", "segment", "from_phase", "to_phase", "rate",
                                 "reference_rate"):
        label = c.attribute(row["attribute"])
        return Cell(fmt.gettext("{attribute} {segment} converts {rate} at {step} against "
                                "{reference_rate} for the typical {attribute_in_sentence}").format(
            attribute=label, attribute_in_sentence=in_sentence(label),
            segment=segment_value(row["segment"]), rate=fmt.percent(row["rate"]),
            step=step_cell(row, c).text, reference_rate=fmt.percent(row["reference_rate"])))
    if area == "stalled" and has("from_phase", "n", "threshold_days"):
        n = int(row["n"])
        text = fmt.ngettext("{n} open record at {phase} has not moved for longer than {days}",
                            "{n} open records at {phase} have not moved for longer than {days}",
                            n).format(n=fmt.count(n), phase=c.phase(row["from_phase"]),
                                      days=fmt.days(row["threshold_days"]))
        if has("stalled_value") and float(row["stalled_value"]) > 0:
            text += fmt.gettext(", together {value} in value").format(
                value=fmt.amount(row["stalled_value"]))
        return Cell(text)
    if area == "stalled" and has("from_phase"):
        return Cell(fmt.gettext("Open records at {phase} that have not moved for longer than "
                                "most records take").format(phase=c.phase(row["from_phase"])))
    if area == "mix" and has("from_phase", "to_phase", "attribute", "period_a", "period_b",
                             "rate_a", "rate_b"):
        return Cell(fmt.gettext("The overall conversion {step} went from {rate_a} in {period_a} "
                                "to {rate_b} in {period_b} through the mix of the {attribute} "
                                "segments, not through their own conversion (Simpson's paradox)")
                    .format(step=step_cell(row, c).text, rate_a=fmt.percent(row["rate_a"]),
                            period_a=fmt.period(row["period_a"]),
                            rate_b=fmt.percent(row["rate_b"]),
                            period_b=fmt.period(row["period_b"]),
                            attribute=in_sentence(c.attribute(row["attribute"]))))
    if area == "mix":
        return Cell(fmt.gettext("The overall conversion changed through the mix of segments, not "
                                "through their own conversion (Simpson's paradox)"))
    return Cell(MISSING if is_missing(row.get("finding")) else str(row["finding"]))


def scan_finding_cell(row: pd.Series, c: CellContext) -> Cell:
    """A row of the segment scan in words, from its fields, in the report's language (the cases
    the library's own `finding` tells apart, in the same order)."""
    fmt = c.fmt
    who = f"{c.attribute(row['attribute'])} {segment_value(row['segment'])}"
    step = step_cell(row, c).text

    def number(name: str) -> float:
        value = row.get(name)
        return float("nan") if is_missing(value) else float(value)

    if number("rest_n") == 0:
        return Cell(fmt.gettext("{who}: every record at {step} has this value, so there is no "
                                "other segment to compare it with.").format(who=who, step=step))
    if str(row["segment"]) == MISSING_SEGMENT:
        return Cell(fmt.ngettext(
            "{attribute}: {n} record at {step} has no value; a data-quality finding (fill the "
            "field in the CRM), not a fruit.",
            "{attribute}: {n} records at {step} have no value; a data-quality finding (fill the "
            "field in the CRM), not a fruit.", int(row["n"])).format(
            attribute=c.attribute(row["attribute"]), n=fmt.count(row["n"]), step=step))
    if number("n") < MIN_N:
        return Cell(fmt.gettext("{who}: too few records to judge at {step} (only {n}; at least "
                                "{min_n} needed).").format(who=who, step=step,
                                                           n=fmt.count(row["n"]),
                                                           min_n=fmt.count(MIN_N)))
    if str(row.get("judgement", "")) == "model_not_converged":
        return Cell(fmt.gettext("{who}: not judged at {step}: the model did not converge, so it "
                                "gives no p-value.").format(who=who, step=step))
    if not np.isfinite(number("p_value")):
        if bool(row.get("is_typical", False)) or number("diff") == 0:
            return Cell(fmt.gettext("{who} is the typical segment at {step} ({rate}).").format(
                who=who, step=step, rate=fmt.percent(row["rate"])))
        return Cell(fmt.gettext("{who}: no other segment with at least {min_n} records at {step} "
                                "to compare it with.").format(who=who, step=step,
                                                              min_n=fmt.count(MIN_N)))
    base = fmt.gettext("{who} converts {rate} at {step} ({n}) against {typical} for the typical "
                       "segment").format(who=who, rate=fmt.percent(row["rate"]), step=step,
                                         n=evidence_cell(row[["n"]], c).text,
                                         typical=fmt.percent(row["typical_rate"]))
    p = _p_words(row["p_adjusted"], fmt)
    held = _held_words(row, c)
    if bool(row.get("flagged", False)):
        values = {"base": base, "direction": code_text(row.get("direction"), fmt),
                  "odds": fmt.number(row["odds_ratio"], 2), "p": p,
                  "range": fmt.range(row["or_ci_low"], row["or_ci_high"], "number", decimals=2)}
        if held is None:
            return Cell(fmt.gettext("{base}: {direction}, also with the other attributes and the "
                                    "cohort year held fixed (odds ratio {odds} (95% interval "
                                    "{range}); adjusted p {p}).").format(**values))
        if held:
            return Cell(fmt.gettext("{base}: {direction}, also with {held} held fixed (odds ratio "
                                    "{odds} (95% interval {range}); adjusted p {p}).").format(
                held=held, **values))
        return Cell(fmt.gettext("{base}: {direction}, judged on its own (odds ratio {odds} (95% "
                                "interval {range}); adjusted p {p}).").format(**values))
    if held is None:
        return Cell(fmt.gettext("{base}: no clear difference once the other attributes are held "
                                "fixed and the scan is adjusted for multiple testing (adjusted p "
                                "{p}).").format(base=base, p=p))
    if held:
        return Cell(fmt.gettext("{base}: no clear difference with {held} held fixed, once the scan "
                                "is adjusted for multiple testing (adjusted p {p}).").format(
            base=base, held=held, p=p))
    return Cell(fmt.gettext("{base}: no clear difference once the scan is adjusted for multiple "
                            "testing (adjusted p {p}).").format(base=base, p=p))


def _held_words(row: pd.Series, c: CellContext) -> str | None:
    """What a scan row's model held fixed, in words ("Product, Regio en het cohortjaar"); None
    for a row from before the scan named it (the general wording then)."""
    if "held_fixed" not in row.index or is_missing(row["held_fixed"]):
        return None
    names = [c.attribute(a) for a in str(row["held_fixed"]).split(";") if a]
    if bool(row.get("year_held", False)):
        names.append(c.fmt.gettext("the cohort year"))
    return format_list(names, locale=c.fmt.locale) if names else ""


def plan_what_cell(row: pd.Series, c: CellContext) -> Cell:
    """An action of the action plan in the report's language, the phase model's own words in it
    (its tasks or actions, its segment) as the engagement wrote them."""
    fmt, code = c.fmt, str(row.get("what_code"))
    phase = c.phase(row["phase"])
    items = MISSING if is_missing(row.get("what_items")) or not str(row["what_items"]) \
        else str(row["what_items"])
    segment = "" if is_missing(row.get("segment")) else segment_value(row["segment"])
    if code == "leak":
        text = fmt.gettext("Tighten the tasks at {phase}: {items}")
    elif code == "raise":
        text = fmt.gettext("Improve the actions at {phase}: {items}")
    elif code == "volume":
        text = fmt.gettext("More volume from the actions at {phase}: {items}")
    elif code == "coach":
        text = fmt.gettext("Coach {segment} on the tasks at {phase}: {items}")
    elif code == "shift":
        text = fmt.gettext("Shift effort at {phase} away from {segment} towards: {items}")
    else:
        text = fmt.gettext("Find out why {attribute} {segment} converts worse at {phase}: "
                           "{items}")
    return Cell(text.format(phase=phase, items=items, segment=segment,
                            attribute=in_sentence(c.attribute(row.get("attribute")))))


def hint_cell(row: pd.Series, c: CellContext) -> Cell:
    """What to do about a finding of the low-hanging fruit, written from its fields in the
    report's language (the library's English hint when the fields are not there)."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "bottleneck" and has("from_phase", "to_phase") and c.phases is not None:
        early = row.get("side") == "early"  # decided once, at the lead phase (step 5)
        step = step_cell(row, c).text
        return Cell(fmt.gettext("Build the early phases: raise {step} (better targeting and "
                                "qualification of leads)").format(step=step) if early else
                    fmt.gettext("Stop records dropping out at {step} (qualify earlier, follow up "
                                "faster)").format(step=step))
    if area == "volume":
        return Cell(fmt.gettext("Build the early phases: more qualified leads (targeting, "
                                "actions)"))
    if area == "segment" and has("attribute", "segment", "rate", "reference_rate"):
        better = float(row["rate"]) > float(row["reference_rate"])
        segment, attribute = segment_value(row["segment"]), str(row["attribute"])
        if attribute == "action":
            return Cell(fmt.gettext("Move effort towards {segment}").format(segment=segment)
                        if better else fmt.gettext("Move effort away from {segment}, or improve "
                                                   "how its leads are qualified")
                        .format(segment=segment))
        if attribute == "owner":
            return Cell(fmt.gettext("Learn from {segment}'s way of working").format(
                segment=segment) if better else
                fmt.gettext("Coach {segment} on this step").format(segment=segment))
        return Cell(fmt.gettext("Find out what makes {attribute} {segment} convert differently")
                    .format(attribute=c.attribute(attribute), segment=segment))
    if area == "stalled":
        return Cell(fmt.gettext("Follow up each stalled record or close it as lost"))
    if area == "mix" and has("attribute", "segment", "share_a", "share_b"):
        return Cell(fmt.gettext("Judge each {attribute} segment by its own conversion, not by the "
                                "total: the share of {segment} moved from {share_a} to {share_b}")
                    .format(attribute=in_sentence(c.attribute(row["attribute"])),
                            segment=segment_value(row["segment"]),
                            share_a=fmt.percent(row["share_a"]), share_b=fmt.percent(row["share_b"])))
    if area == "mix":
        return Cell(fmt.gettext("Judge each segment by its own conversion, not by the total"))
    return Cell(MISSING if is_missing(row.get("action_hint")) else str(row["action_hint"]))


def _p_words(p: object, fmt: Formatter) -> str:
    """A p-value after its name: '< 0.001' or '= 0.012'."""
    return fmt.p_phrase(p, "").lstrip()


def _area_evidence(row: pd.Series, c: CellContext) -> str | None:
    """The evidence of a lead-volume, mix or stalled finding from the fields the library gives it
    (``toolkit.analysis.diagnosis.verdict.FRUIT_FIELDS``); None when the row lacks them."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "volume" and has("from_phase", "entries_ci_low", "entries_ci_high",
                                "orders_target", "order_rate"):
        return fmt.gettext("95% interval {range} entries per month; {orders} orders per month "
                           "wanted, at today's conversion of {rate} from {phase}").format(
            range=fmt.range(row["entries_ci_low"], row["entries_ci_high"], "number", decimals=1),
            orders=fmt.number(row["orders_target"], 1), rate=fmt.percent(row["order_rate"]),
            phase=c.phase(row["from_phase"]))
    if area == "mix" and has("rate_effect", "mix_effect", "p_pooled"):
        text = fmt.gettext("rate effect {rate_effect}, mix effect {mix_effect}; pooled p {p}").format(
            rate_effect=fmt.points(row["rate_effect"]), mix_effect=fmt.points(row["mix_effect"]),
            p=_p_words(row["p_pooled"], fmt))
        if has("p_within"):
            text += fmt.gettext(", within the segments (Cochran-Mantel-Haenszel) p {p}").format(
                p=_p_words(row["p_within"], fmt))
        return text
    if area == "stalled" and has("from_phase", "stall_quantile", "moved_n", "open_n"):
        moved, still = int(row["moved_n"]), int(row["open_n"])
        threshold = fmt.ngettext(
            "threshold: percentile {quantile} of the time to the next phase among {n} record that "
            "moved on",
            "threshold: percentile {quantile} of the time to the next phase among {n} records that "
            "moved on", moved).format(quantile=fmt.number(float(row["stall_quantile"]) * 100, 0),
                                      n=fmt.count(moved))
        open_now = fmt.ngettext("{n} open record at {phase}", "{n} open records at {phase}",
                                still).format(n=fmt.count(still), phase=c.phase(row["from_phase"]))
        return f"{threshold}; {open_now}"
    return None


def evidence_cell(row: pd.Series, c: CellContext) -> Cell:
    """The evidence of a finding from its fields: for a lead-volume, mix or stalled finding what
    the library measured for it (:func:`_area_evidence`); otherwise records, the rate's 95%
    interval and the adjusted p-value (a dash where the finding has none of them)."""
    fmt = c.fmt
    written = _area_evidence(row, c)
    if written is not None:
        return Cell(written)
    parts = []
    if not is_missing(row.get("n")):
        parts.append(fmt.ngettext("{n} record", "{n} records", int(row["n"])).format(
            n=fmt.count(row["n"])))
    if not is_missing(row.get("ci_low")) and not is_missing(row.get("ci_high")):
        parts.append(fmt.gettext("95% interval {range}").format(
            range=fmt.range(row["ci_low"], row["ci_high"])))
    if not is_missing(row.get("p_adjusted")):
        parts.append(fmt.gettext("adjusted p {p}").format(p=_p_words(row["p_adjusted"], fmt)))
    return Cell("; ".join(parts) if parts else MISSING)


def month_text(value: object, fmt: Formatter) -> str:
    """A calendar month as a number 1-12 (a seasonal profile) by its name; a period as a period."""
    if isinstance(value, int | np.integer) or (isinstance(value, float) and float(value).is_integer()):
        number = int(value)
        if 1 <= number <= 12:
            return fmt.month_name(number)
    return fmt.period(value)


def kpi_label_cell(row: pd.Series, c: CellContext) -> Cell:
    """A KPI's label in the report's language when it is the name the toolkit gave it (a label
    the engagement YAML declares is the client's own word, and stays as written)."""
    label = row.get("label")
    label = "" if is_missing(label) else str(label)
    kind, fmt = row.get("kind"), c.fmt

    def phase(name: str) -> str:
        return c.phase(row.get(name))

    default = {
        "conversion": (f"Conversion {phase('from_phase')} → {phase('to_phase')}",
                       N_("Conversion {start} → {end}")),
        "cumulative_conversion": (f"Conversion {phase('from_phase')} → {phase('to_phase')}",
                                  N_("Conversion {start} → {end}")),
        "volume": ("", N_("Entries into {start}")),
        "duration": (f"Median days {phase('from_phase')} → {phase('to_phase')}",
                     N_("Median days {start} → {end}")),
        "win_rate": (f"Win rate from {phase('from_phase')} (won / closed)",
                     N_("Win rate from {start} (won / closed)")),
        "sales_velocity": ("", N_("Sales velocity from {start}")),
        "cost_per": ("", N_("Cost per {start}")),
    }
    named = {"Won value": N_("Won value"), "Average deal size (won)": N_("Average deal size (won)"),
             "Win rate (won / closed)": N_("Win rate (won / closed)"),
             "Open pipeline value": N_("Open pipeline value"),
             "Pipeline coverage": N_("Pipeline coverage")}
    if kind in default and default[kind][0] and label == default[kind][0]:
        start = phase("from_phase")
        return Cell(fmt.gettext(default[kind][1]).format(start=start, end=phase("to_phase")))
    if kind in ("conversion", "cumulative_conversion"):
        # "Conversion A → B within 90 days": the window is part of what the rate means
        windowed = re.fullmatch(r"Conversion (.+) → (.+) within (\d+) days", label)
        if windowed and (windowed[1], windowed[2]) == (
                _english_phase(row, c, "from_phase"), _english_phase(row, c, "to_phase")):
            return Cell(fmt.gettext(N_("Conversion {start} → {end} within {days} days")).format(
                start=phase("from_phase"), end=phase("to_phase"), days=windowed[3]))
    single = {"volume": "Entries into {}", "sales_velocity": "Sales velocity from {}",
              "cost_per": "Cost per {}"}
    if kind in single and c.phases is not None:
        # these KPIs name one phase, which the KPI table does not carry in a column
        for key in c.phases.keys:
            if label == single[kind].format(c.phase(key)):
                return Cell(fmt.gettext(default[kind][1]).format(start=c.phase(key)))
    if label in named:
        return Cell(fmt.gettext(named[label]))
    return Cell(label or MISSING)


def _english_phase(row: pd.Series, c: CellContext, column: str) -> str:
    """The phase label as the library wrote it into an English KPI label."""
    key = row.get(column)
    if c.phases is not None and not is_missing(key) and str(key) in c.phases.keys:
        return c.phases.label(str(key))
    return c.phase(key)


def node_label_cell(row: pd.Series, c: CellContext) -> Cell:
    """A node of the KPI tree (``kpi_tree``) by its code, in the report's language."""
    node, fmt = str(row.get("node")), c.fmt
    fixed = {"revenue": N_("Revenue per month (implied)"),
             "orders": N_("Orders per month (implied)"),
             "average_deal_size": N_("Average deal size")}
    if node in fixed:
        return Cell(fmt.gettext(fixed[node]))
    phases = c.phases
    if node.startswith("volume_") and phases is not None and node[7:] in phases.keys:
        return Cell(fmt.gettext("Entries into {start} per month").format(start=c.phase(node[7:])))
    if node.startswith("conversion_") and phases is not None:
        for a, b in phases.transitions():
            if node == f"conversion_{a}_{b}":
                return Cell(f"{c.phase(a)} → {c.phase(b)}")
    return Cell(MISSING if is_missing(row.get("label")) else str(row["label"]))


SEASON_MEASURES = (N_("Volume: entries per month"), N_("Conversion per cohort month"))


def split_segment_text(value: object, c: CellContext) -> str:
    """A KPI's segment `attribute=value` as "Label: value" (a plain value as it is)."""
    if is_missing(value):
        return MISSING
    text = str(value)
    if "=" not in text:
        return text
    attribute, _, shown = text.partition("=")
    return f"{c.attribute(attribute.strip())}: {shown.strip()}"


def points_interval_text(row: pd.Series, c: CellContext) -> str:
    """A difference of two shares in points with its interval: '-0,8 procentpunt (-6,2 tot
    +4,9)'."""
    if is_missing(row["estimate"]):
        return MISSING
    low, high = (None if is_missing(row[b]) else float(row[b]) * 100 for b in ("ci_low", "ci_high"))
    return f"{c.fmt.points(row['estimate'])} ({c.fmt.range(low, high, 'number', decimals=1)})"


def points_cell(column: str) -> Render:
    return lambda row, c: Cell(c.fmt.points(row[column]), "num")
