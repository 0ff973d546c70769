"""The "what we concluded" text of each step, written from the results, never hard-coded.

Each function takes the step's results and returns its sentences (:class:`Bullets`), in English
or, with `language="nl"`, in Dutch: every sentence is a message of the catalogue
(``toolkit.present.messages``, plural forms where a count varies) and every number goes through
the formatter of that language. A sentence the library writes in English (the audit, the
seasonality, the verdict, the period report) is written again from its fields in Dutch. When the
data cannot carry a conclusion (too few records, immature cohorts) it says so instead of claiming
one.

A sentence is plain text: a value from the client's data or the YAML (phase and KPI labels,
attribute values, the sentences other modules build from them) is put in as typed (:func:`plain`),
and no sentence holds markup of its own. Each output escapes a line once for its syntax: the
notebooks' Markdown through :func:`text` (``Bullets`` as a str), the report's pages through Jinja's
autoescape. So `<img onerror=...>`, `**x**`, `![x](secret.csv)` or `[c](javascript:...)` typed
into a CRM field shows as those characters and does nothing, and no page renders Markdown back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.base.findings import Finding
from toolkit.base.vocabulary import (
    MIN_N,
    PROBLEMS,
    STATUS_SIGNIFICANT,
    STATUS_TOO_FEW,
    STATUS_UNJUDGED,
    Reason,
)
from toolkit.base.vocabulary import MISSING as MISSING_SEGMENT
from toolkit.measure.funnel import weakest_step
from toolkit.present.findings import WRITERS, as_typed, period_headline, render, write
from toolkit.present.format import Formatter, formatter, is_missing
from toolkit.present.problems import problem_text
from toolkit.present.tables import (
    N_,
    REFERENCE_WORDS,
    attribute_label,
    code_text,
    display_table,
    in_sentence,
)

if TYPE_CHECKING:  # the types of the results a conclusion is written from
    from toolkit.analysis.diagnosis import LowHangingFruit
    from toolkit.analysis.planning import DurationEstimate
    from toolkit.analysis.simulation import ChangeEvaluation, ImprovementPlan
    from toolkit.analysis.steering import SteeringView
    from toolkit.base.phases import PhaseModel
    from toolkit.io.engagement import Engagement
    from toolkit.measure.audit import AuditResult
    from toolkit.measure.seasonality import SeasonalityResult

__all__ = ["text", "plain", "bullets", "baseline", "process_model", "kpi_tree", "measurement",
           "diagnosis", "improvement", "steering", "verdict", "VERDICTS", "segment_scan"]

# What Markdown (mistune, as nbconvert renders it) could read as syntax inside a line: emphasis,
# code, links and images (`[`), strikethrough, tables, math, a backslash itself. `&`, `<` and `>`
# become HTML entities, so no tag and no autolink `<...>` survives; `://` is broken up so that no
# bare `https://...` in a value turns into a link.
# An underscore between two letters or digits (lead_source) is never emphasis: left as typed.
_INLINE_SYNTAX = re.compile(r"([\\`*\[\]$~|]|(?<![^\W_])_|_(?![^\W_]))")
_HTML_SYNTAX = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# At the start of a line: a heading, a list item, a quote, a setext underline.
_LINE_START = re.compile(r"^(\s*)(#|[-+=]|\d+(?=[.)]))")
# Line breaks would start a new Markdown block (a heading, raw HTML); other control characters
# have no business in a sentence.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def text(value: object) -> str:
    """`value` as literal Markdown text: it shows as its characters and is never markup.

    A conclusion's plain sentence where it becomes Markdown (:class:`Bullets`), or any value from
    the client's data or the engagement YAML that meets Markdown.

    Parameters
    ----------
    value : object
        The value; written as its ``str``.

    Returns
    -------
    str
        Markdown that shows the characters (Markdown and HTML syntax escaped).
    """
    out = _CONTROL.sub(" ", str(value))
    out = _INLINE_SYNTAX.sub(r"\\\1", out).replace("://", "\\://")
    out = "".join(_HTML_SYNTAX.get(ch, ch) for ch in out)
    match = _LINE_START.match(out)
    if match:  # `1.` -> `1\.`, `# x` -> `\# x`: shown as written, not as a list or heading
        lead, mark = match.groups()
        rest = out[match.end():]
        out = lead + ("\\" + mark if not mark[0].isdigit() else mark + "\\") + rest
    return out


def plain(value: object) -> str:
    """`value` as a sentence holds it: its characters as typed, a line break or other control
    character as a space. A conclusion's line is plain text; each output escapes it once, for its
    own syntax (:class:`Bullets` for Markdown, the report's Jinja templates for HTML).

    Parameters
    ----------
    value : object
        The value; written as its ``str``.

    Returns
    -------
    str
        The plain text.
    """
    return _CONTROL.sub(" ", str(value))


class Bullets(str):
    """A conclusion: its sentences as plain text (``lines``: a client's value as typed, for the
    report's pages, which escape each line once as HTML) and, as the str, those sentences as
    Markdown bullets for a notebook, each line escaped once by :func:`text` (so a value typed
    into a CRM field is never markup). A step takes the sentences as they were written and never
    parses the Markdown back."""

    lines: tuple[str, ...]

    def __new__(cls, lines: list[str]) -> Bullets:
        kept = tuple(plain(line) for line in lines if line)
        self = super().__new__(cls, "\n".join(f"- {text(line)}" for line in kept))
        self.lines = kept
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Bullets, (list(self.lines),))


def bullets(lines: list[str]) -> Bullets:
    """The plain sentences `lines` (empty ones left out) as Markdown bullets that keep them.

    Parameters
    ----------
    lines : list of str
        Plain sentences (:func:`plain`), one a bullet.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    return Bullets(lines)


class _Words:
    """The messages and numbers of one language for the conclusions.

    The sentences are English msgids translated through the message catalogue; every number goes
    through the one formatter of the language (``36%``, ``12,000`` in English, ``12.000`` in
    Dutch), as the tables and figures write it.
    """

    def __init__(self, language: str = "en", phases: PhaseModel | None = None,
                 attributes: Mapping[str, str] | None = None, currency: str = "EUR") -> None:
        self.fmt = formatter(language, currency)
        self.english = self.fmt.language == "en"
        self.phases = phases
        self.attributes = dict(attributes or {})  # attribute -> the client's column header

    def attribute(self, name: object) -> str:
        """A segment attribute as the conclusions name it: by its label
        (``toolkit.present.tables.attribute_label``), as the tables and figures do."""
        return plain(attribute_label(name, self.fmt, self.attributes))

    def _(self, message: str, /, **values: object) -> str:  # `_`: a keyword the extraction knows
        return self.fmt.gettext(message).format(**values)

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        return self.fmt.ngettext(singular, plural, count).format(**values)

    def pct(self, x: Any, decimals: int = 0, *, signed: bool = False) -> str:
        """A share as a percentage in the words' language (the one formatter's)."""
        return self.fmt.percent(x, decimals, signed=signed)

    def num(self, x: Any, decimals: int = 0, *, signed: bool = False) -> str:
        """A number in the words' language (the one formatter's: '12,000', '12.000')."""
        return self.fmt.number(x, decimals, signed=signed)

    def p(self, value: object) -> str:
        """A p-value as a sentence names it: 'p < 0,001', 'p = 0,754'."""
        return self.fmt.p_phrase(value)

    def count(self, n: Any) -> str:
        """A count in the words' language (the one formatter's)."""
        return self.fmt.count(n)

    def phase(self, key: object) -> str:
        """A phase key as the conclusions name it: by its label, as the tables and figures do (a
        key is a word of the YAML, not of the report)."""
        if self.phases is None or str(key) not in self.phases.keys:
            return plain(key)
        return plain(self.phases.label(str(key)))

    def why(self, reason: object) -> str:
        """Why a part could not be computed, in the words' language (from the reason's code)."""
        return problem_text(reason, self.fmt, phases=self.phases, attributes=self.attributes)

    def cell(self, row: pd.Series, column: str) -> str | None:
        """One value of a result row as the report's tables show it (`column` of
        ``toolkit.present.tables.COLUMNS``), or None when the row lacks what it needs."""
        shown = display_table(row.to_frame().T, [column], fmt=self.fmt, phases=self.phases,
                              attributes=self.attributes)
        return shown.rows[0][0].text if shown.rows and shown.rows[0] else None


def _ci(row: pd.Series, w: _Words) -> str:
    if pd.isna(row["ci_low"]):
        return ""
    return w._(" (95% interval {low}–{high})", low=w.pct(row["ci_low"]), high=w.pct(row["ci_high"]))


def baseline(engagement: Engagement, funnel_frame: pd.DataFrame, audit: AuditResult,
             estimate: DurationEstimate | None, language: str = "en") -> Bullets:
    """Step 1: what the data holds, how clean it is, the raw funnel and the duration estimate.

    Parameters
    ----------
    engagement : Engagement
        The engagement (its reconciliation, records and phases).
    funnel_frame : pandas.DataFrame
        The raw funnel (``toolkit.measure.funnel.funnel``).
    audit : AuditResult
        The audit of the stage history (``toolkit.measure.audit``).
    estimate : DurationEstimate or None
        The engagement's duration estimate (``toolkit.analysis.planning``); None: not made.
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, engagement.phase_model)
    rec = engagement.reconciliation
    rows_in, rows_q = int(rec["rows_in"].sum()), int(rec["rows_quarantined"].sum())
    values = {"rows_in": w.count(rows_in), "rows_q": w.count(rows_q),
              "share": w.pct(rows_q / max(rows_in, 1), 1),
              "records": w.ngettext("{n} record", "{n} records", len(engagement.records),
                                    n=w.count(len(engagement.records)))}
    # a lead list without dates has no as-of date unless the YAML sets one
    if engagement.dated or engagement.config.as_of:
        values["as_of"] = f"{engagement.as_of:%d-%m-%Y}"
        held = w.ngettext("The exports hold {rows_in} row; {rows_q} ({share}) were set aside with a "
                        "reason, the rest give {records} up to {as_of}.",
                        "The exports hold {rows_in} rows; {rows_q} ({share}) were set aside with a "
                        "reason, the rest give {records} up to {as_of}.", rows_in,
                        **values)
    else:
        held = w.ngettext("The exports hold {rows_in} row; {rows_q} ({share}) were set aside with a "
                        "reason, the rest give {records} (without dates).",
                        "The exports hold {rows_in} rows; {rows_q} ({share}) were set aside with a "
                        "reason, the rest give {records} (without dates).", rows_in,
                        **values)
    lines = [held, _audit(audit, w)]
    if len(engagement.records) == 0:
        lines.append(w._("No record could be used, so nothing can be concluded: see the quarantine "
                       "reasons above and correct the export or the engagement YAML."))
    weakest = weakest_step(funnel_frame, min_n=MIN_N)
    if weakest is None:
        lines.append(w._("Too few records to conclude anything about conversion yet."))
    else:
        values = {"entered": w.count(funnel_frame["reached"].iloc[0]),
                  "orders": w.count(funnel_frame["reached"].iloc[-1]),
                  "start": w.phase(weakest["from_phase"]), "end": w.phase(weakest["phase"]),
                  "rate": w.pct(weakest["rate"]), "interval": _ci(weakest, w)}
        # a lower step with too few records to judge is named, so "weakest" is never contradicted
        # by a lower rate in the funnel table beside it
        rated = funnel_frame.dropna(subset=["rate"])
        lower = rated[(rated["n"] < MIN_N) & (rated["rate"] < weakest["rate"])]
        if len(lower):
            row = lower.loc[lower["rate"].idxmin()]
            lines.append(w._(
                "Raw funnel: {entered} records entered, {orders} became an order. Among the steps "
                "with at least {min_n} records the weakest so far is {start} → {end} at "
                "{rate}{interval}; {low_start} → {low_end} converts {low_rate} but on only {n} "
                "records. Step 4 measures each per cohort.", min_n=w.count(MIN_N),
                low_start=w.phase(row["from_phase"]), low_end=w.phase(row["phase"]),
                low_rate=w.pct(row["rate"]), n=w.count(row["n"]), **values))
        else:
            lines.append(w._(
                "Raw funnel: {entered} records entered, {orders} became an order. The weakest "
                "step so far is {start} → {end} at {rate}{interval}; step 4 measures it per "
                "cohort.", **values))
    if estimate is not None:  # None while a duration factor is not scored (the step says so)
        lines.append(w._("Estimated engagement duration, a planning assumption and not a quote: "
                         "{weeks} weeks (range {low}–{high}).",
                         weeks=w.num(estimate.total_weeks, 0),
                         low=w.num(estimate.total_weeks_low, 0),
                         high=w.num(estimate.total_weeks_high, 0)))
    return bullets(lines)


def _audit(audit: AuditResult, w: _Words) -> str:
    """The audit's headline written from its findings in the words' language."""
    return plain(render(audit.headline, fmt=w.fmt))


def process_model(engagement: Engagement, funnel_frame: pd.DataFrame, language: str = "en") -> Bullets:
    """Step 2: the phases and which CRM stages feed them.

    Parameters
    ----------
    engagement : Engagement
        The engagement (its phase model and stage mapping).
    funnel_frame : pandas.DataFrame
        The raw funnel (``toolkit.measure.funnel.funnel``).
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    model = engagement.phase_model
    w = _Words(language, model)
    mapped = set(model.normalised_mapping().values())  # `won` resolved to the last phase
    unmapped_phases = [p.key for p in model.phases if p.key not in mapped]
    lines = [w.ngettext("The process has {n} phase: {phases}.", "The process has {n} phases: {phases}.",
                      len(model.phases), n=len(model.phases),
                      phases=" → ".join(plain(p.label) for p in model.phases))]
    if unmapped_phases:
        lines.append(w._("No CRM stage maps to {phases}: records pass these phases only by the skip "
                       "rule, so their entry dates are not measured.",
                       phases=plain(unmapped_phases) if w.english
                       else ", ".join(w.phase(p) for p in unmapped_phases)))
    no_roles = [p.label for p in model.phases if not p.functions]
    if no_roles:
        lines.append(w._("Phases without an owning function: {phases}. Agree who owns them before "
                       "KPIs get owners in step 3.",
                       phases=plain(no_roles) if w.english else plain(", ".join(no_roles))))
    return bullets(lines)


def kpi_tree(tree: pd.DataFrame, language: str = "en", phases: PhaseModel | None = None
             ) -> Bullets:
    """Step 3: where the goal is missed, traced down the tree.

    Parameters
    ----------
    tree : pandas.DataFrame
        The KPI tree (``toolkit.measure.kpis.kpi_tree``): each node's value and target.
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases)
    lines = []
    root = tree.iloc[0]

    def label(row: pd.Series) -> str:
        return plain(row["label"] if w.english else w.cell(row, "node_label") or row["label"])

    if pd.notna(root["target"]) and pd.notna(root["value"]):
        gap = root["value"] / root["target"] - 1
        unit = "" if is_missing(root.get("unit")) else str(root.get("unit"))
        # the goal is an amount in the engagement's currency (the tree's unit), or a count
        money = len(unit) == 3 and unit.isupper()

        def shown(value: Any) -> str:
            return formatter(w.fmt.language, unit).amount(value) if money else w.num(value)
        lines.append(w._("{label}: {value} against a target of {target} ({gap}).", label=label(root),
                       value=shown(root["value"]), target=shown(root["target"]),
                       gap=w.pct(gap, 0, signed=True)))
    rates = tree[(tree["unit"] == "%") & tree["target"].notna() & tree["value"].notna()]
    if len(rates):
        short = rates.assign(ratio=rates["value"] / rates["target"]).sort_values("ratio")
        worst = short.iloc[0]
        lines.append(w._("Furthest below its target: {label} at {value} against {target}.",
                       label=label(worst), value=w.pct(worst["value"]),
                       target=w.pct(worst["target"])))
    if pd.isna(root["value"]):
        blank = tree[tree["value"].isna() & ~tree["node"].isin(["revenue", "orders"])]
        # a node whose data lack what it needs (no amounts, ...) says that, not "too few records"
        lacking = blank["missing_reason"].notna() if "missing_reason" in blank else pd.Series(
            False, index=blank.index)
        for _, row in blank[lacking].iterrows():
            code = str(row["missing_reason"])
            why = problem_text(Reason(PROBLEMS.get(code, code), code), w.fmt, from_code=True)
            lines.append(w._("{node} has no value ({why}), so the implied revenue cannot be "
                             "computed.",
                             node=plain(row["label"] if w.english
                                       else w.cell(row, "node_label") or row["label"]),
                             why=why))  # the catalogue's own words: its `code` stays code
        blank = blank[~lacking]
        empty = [row["label"] if w.english else w.cell(row, "node_label") or row["label"]
                 for _, row in blank.iterrows()]
        if empty or not lacking.any():
            lines.append(w._("Too few mature records to fill the tree yet: {which}(nobody reached "
                             "the phase, no deal won, or the records are still inside their "
                             "window; see step 4), so the implied orders and revenue cannot be "
                             "computed.",
                             which=w._("no value for {nodes} ", nodes=plain(", ".join(empty)))
                             if empty else ""))
    return bullets(lines)


def measurement(kpis: pd.DataFrame, seasonal: SeasonalityResult | None,
                ttc: pd.DataFrame | None = None, language: str = "en",
                phases: PhaseModel | None = None) -> Bullets:
    """Step 4: the measured conversions, what is immature, and seasonality.

    Parameters
    ----------
    kpis : pandas.DataFrame
        The measured KPIs (``toolkit.measure.kpis.compute_kpis``).
    seasonal : SeasonalityResult or None
        The seasonality tests (``toolkit.measure.seasonality``); None: not made.
    ttc : pandas.DataFrame, optional
        The time to conversion per step (``toolkit.measure.kpis.time_to_convert``).
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases)
    conv = kpis[kpis["kind"] == "conversion"]

    def label(row: pd.Series) -> str:
        return plain(row["label"] if w.english else w.cell(row, "kpi_label") or row["label"])

    lines = []
    if conv["n"].fillna(0).max() < MIN_N:
        # a record inside its window at one step may be so at the next too: the largest count of
        # one step is a count of records, a sum over the steps is not
        immature = int(conv["immature_n"].fillna(0).max()) if len(conv) else 0
        lines.append(w.ngettext("Too few mature records to conclude (largest cohort n = {n}; "
                                "{immature} record is still inside its window).",
                                "Too few mature records to conclude (largest cohort n = {n}; "
                                "{immature} records are still inside their window).", immature,
                                n=int(conv["n"].fillna(0).max()), immature=immature))
    else:
        for _, row in conv.iterrows():
            immature = 0 if pd.isna(row["immature_n"]) else int(row["immature_n"])
            if pd.isna(row["value"]):
                continue  # named below, with the reason there is no value
            small = (w._(" — too few records to conclude (fewer than {n})", n=MIN_N)
                     if row["n"] < MIN_N else " — " + plain(
                         row["status_vs_target"] if w.english
                         else w.cell(row, "status_vs_target") or row["status_vs_target"]))
            lines.append(w._("{label}: {value} (n = {n}, 95% interval {low}–{high}; {immature} too "
                           "recent to count){judgement}.", label=label(row),
                           value=w.pct(row["value"]), n=w.count(row["n"]),
                           low=w.pct(row["ci_low"]), high=w.pct(row["ci_high"]),
                           immature=w.count(immature), judgement=small))
    nobody = conv[conv["n"].fillna(0).eq(0) & conv["immature_n"].fillna(0).eq(0)]
    if len(nobody):
        lines.append(w._("No data for {kpis}: no record reached the starting phase, so these "
                       "conversions cannot be measured.",
                       kpis=", ".join(label(row) for _, row in nobody.iterrows())))
    waiting = conv[conv["n"].fillna(0).eq(0) & conv["immature_n"].fillna(0).gt(0)]
    if len(waiting):
        lines.append(w._("Not measurable yet: {kpis} (every record is still inside its window).",
                       kpis=", ".join(label(row) for _, row in waiting.iterrows())))
    if seasonal is not None:
        lines.append(_seasonal(seasonal, w))
    usable = ttc[ttc["converted"] >= MIN_N] if ttc is not None and len(ttc) else None
    if usable is not None and len(usable):
        slow = usable.sort_values("median_days", ascending=False).iloc[0]
        if pd.notna(slow["median_days"]):
            shares = ", ".join(w._("{share} by day {day}", share=w.pct(slow[f"cif_{h}d"]), day=h)
                               for h in (30, 90, 180)
                               if f"cif_{h}d" in slow and pd.notna(slow[f"cif_{h}d"]))
            sentence = w._("Slowest transition: {transition} with a median of {days} days among "
                         "records that convert (lost records competing, open records censored, "
                         "not dropped)", transition=plain(slow["transition"]),
                         days=w.num(slow["median_days"], 0))
            lines.append(sentence + (w._("; converted {shares}.", shares=shares) if shares
                                     else "."))
    return bullets(lines)


def _seasonal(seasonal: SeasonalityResult, w: _Words) -> str:
    """The seasonality conclusion written from its case and facts in the words' language."""
    return plain(write("seasonality", {"case": seasonal.case, **seasonal.facts}, fmt=w.fmt))


#: What each verdict of step 5 means, in one sentence (the verdict's case -> msgid).
VERDICTS = {
    "leak": N_("Leak: plenty of leads, but opportunities drop out before the order. Stop them "
               "dropping out first."),
    "shortage": N_("Shortage: too few qualified leads. Build the early phases first."),
    "no clear low-hanging fruit": N_("No clear low-hanging fruit: no step is demonstrably below "
                                     "its reference."),
    "one transition": N_("A funnel of one step has no split into shortage or leak."),
    "insufficient data": N_("Too few records to conclude: shortage or leak cannot be decided "
                            "yet."),
}
_BOTH_SIDES = N_("Both sides are off; the larger gain decides which comes first.")
# A leak whose lead volume is short of the order target at today's conversion (but would do at
# the reference conversion) has not "plenty of leads": the sentence says what the volume shows.
_LEAK_SHORT_VOLUME = N_("Leak: opportunities drop out before the order, and at today's conversion "
                        "the leads fall short of the order target; at the reference conversion "
                        "they would do. Stop them dropping out first.")
# No side of the funnel is off, but segments have sized gains: "no clear fruit" would contradict
# the ranked actions beside it.
_GAINS_IN_SEGMENTS = N_("No side of the funnel is demonstrably off its reference, but segments of "
                        "a step are: start with the ranked actions below.")
_LEAK_BOTH_SIDES = N_("Leak first: opportunities drop out before the order, and the early phases "
                      "are off too; the larger gain decides which comes first. Stop them dropping "
                      "out first.")


def _sides(tests: pd.DataFrame, verdict: object, phases: PhaseModel | None) -> np.ndarray:
    """Early or late per step test: its stored `side`, else (results of an older run) from the
    verdict's lead phase, by default the second phase."""
    if "side" in tests:
        return tests["side"].to_numpy()
    keys = list(phases.keys) if phases is not None else []
    lead_phase = getattr(verdict, "lead_phase", "")
    lead = keys.index(lead_phase) if lead_phase in keys else min(1, max(len(keys) - 2, 0))
    return np.where(tests["step"].to_numpy(float) < lead, "early", "late")


def verdict(fruit: LowHangingFruit, fmt: Formatter, phases: PhaseModel | None
            ) -> dict[str, Any]:
    """Step 5's verdict in the formatter's language: ``case``, ``sentence`` (what it means and
    what to do first) and ``evidence`` (up to four sentences: the steps below their reference,
    the lead volume against the order target).

    Parameters
    ----------
    fruit : LowHangingFruit
        Step 5's low-hanging fruit (``toolkit.analysis.diagnosis.low_hanging_fruit``).
    fmt : Formatter
        The one formatter (``toolkit.present.format``) in the report's language.
    phases : PhaseModel or None
        The engagement's phases: a phase is named by its label; None: by its key.

    Returns
    -------
    dict
        ``case`` (str), ``sentence`` (str) and ``evidence`` (list of str).
    """
    case = fruit.verdict.case
    volume = fruit.verdict.evidence
    volume = volume[volume["rule"] == "volume vs order target"] if len(volume) else volume
    short = bool(len(volume)) and str(volume["points_to"].iloc[0]) == "short"
    both = bool(getattr(fruit.verdict, "both_sides", False))
    message = VERDICTS.get(case, case)
    if case == "no clear low-hanging fruit" and getattr(fruit.verdict, "gains_in_segments", False):
        message = _GAINS_IN_SEGMENTS
    elif case == "leak" and both:
        message = _LEAK_BOTH_SIDES
    elif case == "leak" and short:
        message = _LEAK_SHORT_VOLUME
    sentence = fmt.gettext(message)
    evidence: list[str] = []
    tests = fruit.steps
    if tests is not None and len(tests) and "below" in tests:
        below = tests[tests["below"].astype(bool)].drop_duplicates("step")
        # the side each step is on was decided once, at the lead phase (step 5's tests)
        side = _sides(below, fruit.verdict, phases)
        early, late = below[side == "early"], below[side == "late"]
        if case == "shortage" and both:
            sentence += " " + fmt.gettext(_BOTH_SIDES)
        first = late if case == "leak" else early if case == "shortage" else below
        rest = below.drop(first.index)
        for row in pd.concat([first, rest]).itertuples(index=False):
            def label(key: Any) -> str:
                return phases.label(key) if phases is not None else str(key)
            evidence.append(fmt.gettext(
                "{step} converts {rate} (95% interval {range}) against {reference_rate} for "
                "{reference}; adjusted p {p}").format(
                step=f"{label(row.from_phase)} → {label(row.to_phase)}",
                rate=fmt.percent(row.rate), range=fmt.range(row.ci_low, row.ci_high),
                reference_rate=fmt.percent(row.reference_rate),
                reference=fmt.gettext(REFERENCE_WORDS.get(row.reference, row.reference)),
                p=fmt.p_value(row.p_adjusted)))
    if short:
        evidence.append(fmt.gettext(
            "Lead volume: {volume} per month against {needed} needed for the order target").format(
            volume=fmt.number(volume["value"].iloc[0], 1),
            needed=fmt.number(volume["reference_value"].iloc[0], 1)))
    return {"case": case, "sentence": sentence, "evidence": evidence[:4]}


def diagnosis(fruit: LowHangingFruit, language: str = "en", phases: PhaseModel | None = None,
              attributes: Mapping[str, str] | None = None, currency: str = "EUR") -> Bullets:
    """Step 5: the verdict and the top of the ranked low-hanging fruit.

    Parameters
    ----------
    fruit : LowHangingFruit
        Step 5's low-hanging fruit (``toolkit.analysis.diagnosis.low_hanging_fruit``).
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.
    attributes : mapping of str to str, optional
        Each segment attribute's column header (``toolkit.present.tables.attribute_headers``),
        so a sentence names an attribute by its label.
    currency : str, optional
        The engagement's currency (ISO code), for amounts; default EUR.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases, attributes, currency)
    # written from the verdict's code and the fruit's fields in every language, as the summary
    # page and the tables write them (the library's own sentences name phases by their keys)
    said = verdict(fruit, w.fmt, phases)
    lines = [w._("Verdict: {sentence}", sentence=plain(said["sentence"]))]
    lines += [plain(line) + "." for line in said["evidence"][:2]]
    table = fruit.table
    sized = table[table["extra_orders"].notna()] if "extra_orders" in table else table.iloc[:0]

    def finding(row: pd.Series) -> str:
        return plain(w.cell(row, "finding_text") or row["finding"])

    def area(row: pd.Series) -> str:
        return plain(code_text(row["area"], w.fmt).lower())

    for _, row in sized.head(3).iterrows():
        lines.append(w._("{rank}. {area}: {finding} — about {orders} extra orders a year (range "
                       "{low}–{high}).", rank=plain(row["rank"]), area=area(row),
                       finding=finding(row), orders=w.num(row["extra_orders"], 0),
                       low=w.num(row["extra_orders_low"], 0),
                       high=w.num(row["extra_orders_high"], 0)))
    others = table[table["extra_orders"].isna()] if "extra_orders" in table else table
    for _, row in others.head(3).iterrows():
        lines.append(f"{area(row)}: {finding(row)}")
    lines += _scan_lines(fruit.scan, w)
    if len(table) == 0:
        lines.append(w._("No finding is strong enough to act on with this data."))
    return bullets(lines)


def _scan_lines(scan: pd.DataFrame, w: _Words | None = None) -> list[str]:
    """What the segment scan could and could not compare, what it refused and why."""
    w = w or _Words()
    refused = [] if scan is None else [
        w._("Segment scan: {attribute} is not scanned: {why}.", attribute=w.attribute(attr),
            why=plain(w.why(why)))
        for attr, why in scan.attrs.get("refused", {}).items()]
    skipped = [] if scan is None else [
        w._("Segment scan: {start} → {end} is not scanned: {why}.", start=w.phase(start),
            end=w.phase(end), why=plain(w.why(why)))
        for (start, end), why in scan.attrs.get("not_scanned", {}).items()]
    missing = [] if scan is None or len(scan) == 0 else _missing_lines(scan, w)
    return refused + skipped + missing + _compared_lines(scan, w)


def segment_scan(scan: pd.DataFrame, language: str = "en", phases: PhaseModel | None = None,
                 attributes: Mapping[str, str] | None = None) -> Bullets:
    """Step 5 without a ranked list (a lead list without dates): what the segment scan found,
    flagged segments first, and what it could not compare.

    Parameters
    ----------
    scan : pandas.DataFrame
        The segment scan (``toolkit.analysis.diagnosis.segment_scan``).
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.
    attributes : mapping of str to str, optional
        Each segment attribute's column header (``toolkit.present.tables.attribute_headers``),
        so a sentence names an attribute by its label.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases, attributes)
    lines = [plain(w.cell(row, "scan_finding_text") or row["finding"])
             for _, row in scan[scan["flagged"]].head(5).iterrows()]
    return bullets(lines + _scan_lines(scan, w))


def _missing_lines(scan: pd.DataFrame, w: _Words) -> list[str]:
    """'(missing)' is a data-quality finding: how many records lack the attribute."""
    lines = []
    rows = scan[scan["segment"] == MISSING_SEGMENT]
    for attr, part in rows.groupby("attribute", sort=True):
        first = part.iloc[0]
        total = first["n"] + first["rest_n"]
        if total and first["n"]:
            lines.append(w._("Data quality: {attribute} is blank for {n} of {total} mature records "
                           "at {start} -> {end} ({share}); a blank is not a segment to act on.",
                           attribute=w.attribute(attr), n=w.count(first["n"]),
                           total=w.count(total), start=w.phase(first["from_phase"]),
                           end=w.phase(first["to_phase"]), share=w.pct(first["n"] / total)))
    return lines


def _compared_lines(scan: pd.DataFrame, w: _Words) -> list[str]:
    if scan is None or len(scan) == 0:
        return [w._("Segment scan: no segment could be compared (no records, or no segment "
                  "attributes declared).")]
    lines = []
    # One value only when the scan holds one segment of the attribute: an empty "rest" can also
    # mean that no other segment has mature records yet (ten LeadSource values, young data).
    single = [(attr, str(part["segment"].iloc[0])) for attr, part in scan.groupby("attribute")
              if part["segment"].nunique() == 1 and part["rest_n"].eq(0).all()]
    for attr, value in single:
        name = in_sentence(w.attribute(attr))  # inside a sentence: "every record has region"
        lines.append(w._("Segment scan: every record has {attribute} = {value}, so there is no "
                       "other {attribute} to compare it with.", attribute=name, value=plain(value)))
    rest = scan[~scan["attribute"].isin([a for a, _ in single])]
    if len(rest) and rest["p_adjusted"].isna().all():
        lines.append(w._("Segment scan: too few records to conclude for any segment (at least {n} "
                       "mature records are needed in the segment and in the rest).", n=MIN_N))
    elif len(rest) and not rest["flagged"].any():
        lines.append(w._("Segment scan: no segment differs clearly from the rest after "
                       "multiple-testing control."))
    return lines


def improvement(plan: ImprovementPlan, language: str = "en", phases: PhaseModel | None = None
                ) -> Bullets:
    """Step 6: what the chosen improvement is worth, what it takes, and how to test it.

    Parameters
    ----------
    plan : ImprovementPlan
        Step 6's plan (``toolkit.analysis.simulation``): the scenario, the required volume, the
        experiment and each declared change's evaluation.
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases)
    lines = []
    if plan.scenario is not None:
        orders = plan.scenario.outcomes[plan.scenario.outcomes["measure"] == "orders"].iloc[0]
        top = plan.bottleneck
        assert top is not None  # the scenario raises the top bottleneck: made only with one
        period = orders["period"]
        lines.append(w._("Raising {start} → {end} from {rate} to {reference} changes orders from "
                       "{baseline} to {scenario} per {period} (change {low} to {high}).",
                       start=w.phase(top["from_phase"]), end=w.phase(top["to_phase"]),
                       rate=w.pct(top["rate"]), reference=w.pct(top["reference_rate"]),
                       baseline=w.num(orders["baseline"], 1),
                       scenario=w.num(orders["scenario"], 1),
                       period=plain(period if w.english else code_text(period, w.fmt)),
                       low=w.num(orders["change_ci_low"], 1, signed=True),
                       high=w.num(orders["change_ci_high"], 1, signed=True)))
    else:
        lines.append(w._("No scenario: {why}", why=plain(w.why(plan.explain("scenario")))))
    if plan.required is not None and len(plan.required):
        first = plan.required[plan.required["phase"] == plan.required["phase"].iloc[0]]
        need, have = first["required_entries"].sum(), first["current_entries"].sum()
        lines.append(w._("To meet the order target at current conversion the first phase needs "
                       "{need} entries a year against {have} now.", need=w.num(need),
                       have=w.num(have)))
    exp = plan.experiment
    if exp is not None:
        wait = getattr(exp, "weeks_until_readable", float("nan"))
        values = {"uplift": w.num(exp.uplift * 100, 0), "n": w.count(exp.total_records)}
        if wait == wait and wait > 52:
            years = round(wait / 52)
            lines.append(w.ngettext(
                "A test of a {uplift}-point improvement needs {n} records; at the current inflow "
                "that takes about {years} year, so a controlled test cannot show a change this "
                "small: test a bolder change, pool phases, or evaluate before/after.",
                "A test of a {uplift}-point improvement needs {n} records; at the current inflow "
                "that takes about {years} years, so a controlled test cannot show a change this "
                "small: test a bolder change, pool phases, or evaluate before/after.", years,
                years=w.num(wait / 52, 0), **values))
        elif wait == wait:
            lines.append(w._("A test of a {uplift}-point improvement needs {n} records; at the "
                           "current inflow it can be read after about {weeks} weeks (window "
                           "included).", weeks=w.num(wait, 0), **values))
        else:
            lines.append(w._("A test of a {uplift}-point improvement needs {n} records.", **values))
    changes = getattr(plan, "changes", None) or ([plan.change] if plan.change else [])
    for change in changes:
        when = (f"{change.change_date:%d-%m-%Y}" if w.english
                else w.fmt.date(change.change_date, length="long"))
        what = f"{plain(change.description)} ({when}): " if getattr(
            change, "description", "") else ""
        lines.append(what + plain(change.headline if w.english else _change_verdict(change, w)))
    why = plan.explain("change")
    if why:
        lines.append(plain(w.why(why)))
    return bullets(lines)


def _change_verdict(change: ChangeEvaluation, w: _Words) -> str:
    """A declared change's answer in the words' language (English: the evaluation's own
    headline). Other languages: its finding (``change_raised``, ``change_lowered``,
    ``change_none``) written by the registry (``toolkit.present.findings``, the catalogue's
    words), with the phases and the attributes whose mix moved named by their labels."""
    if w.english:
        return change.headline
    headline = change.headline
    if not isinstance(headline, Finding) or headline.code not in WRITERS:
        return w._("The change could not be read with this data.")
    return write(headline.code, {
        **headline.values, "from_phase": w.phase(change.from_phase),
        "to_phase": w.phase(change.to_phase),
        "mix": " × ".join(w.attribute(m) for m in getattr(change, "mix_shift", ())),
        **({"control": f"{w.attribute(attribute)} = {as_typed(headline.values['control_value'])}"}
           if (attribute := headline.values.get("control_attribute")) is not None else {})},
        fmt=w.fmt)


def steering(view: SteeringView, language: str = "en", phases: PhaseModel | None = None
             ) -> Bullets:
    """Step 7: the scorecard in a sentence, the alerts and the period's headline.

    Parameters
    ----------
    view : SteeringView
        Step 7's view (``toolkit.analysis.steering``): scorecard, control chart, period report.
    language : ``"en"`` or ``"nl"``, optional
        The language of the sentences and their numbers (36,1% in Dutch); default English.
    phases : PhaseModel, optional
        The engagement's phases (``engagement.phase_model``): a phase is named by its label.

    Returns
    -------
    Bullets
        The sentences as Markdown bullets (a str; ``.lines``: the plain sentences).
    """
    w = _Words(language, phases)
    lines = []
    card = view.card
    # KPIs by their labels (the monthly KPI frame has them): a reader does not know the keys
    monthly = getattr(view, "monthly", None)
    names: dict[str, str] = {}
    if monthly is not None and {"kpi", "label"} <= set(monthly.columns):
        for _, row in monthly.drop_duplicates("kpi").iterrows():
            names[str(row["kpi"])] = str(row["label"] if w.english
                                         else w.cell(row, "kpi_label") or row["label"])

    def label(key: object) -> str:
        return names.get(str(key), str(key))

    if card is None:
        return bullets([w._("No scorecard: {why}", why=plain(w.why(view.explain("card"))))])
    code = card["status_code"]
    judged = card[~code.isin(STATUS_UNJUDGED)]
    bad = judged[judged["status_code"].isin(STATUS_SIGNIFICANT)]
    if len(judged) == 0:
        no_data, no_target = int((code == "no_data").sum()), int((code == "no_target").sum())
        lines.append(w._("No KPI can be judged against a target yet ({no_target} without a target, "
                       "{no_data} without data): agree targets in step 3 and collect more "
                       "history.", no_target=no_target, no_data=no_data))
    else:
        off = (": " + plain(", ".join(bad["kpi"].map(label))) + ".") if len(bad) else "."
        lines.append(w.ngettext("{n} KPI judged against target; {bad} significantly off target",
                              "{n} KPIs judged against target; {bad} significantly off target",
                              len(judged), n=len(judged), bad=len(bad)) + off)
    few = judged[judged["status_code"].isin(STATUS_TOO_FEW)]
    if len(few):
        lines.append(w.ngettext("{n} of them rests on too few records to conclude.",
                                "{n} of them rest on too few records to conclude.", len(few),
                                n=len(few)))
    if view.chart is None:
        lines.append(w._("No control chart: {why}", why=plain(w.why(view.explain("chart")))))
    elif len(view.alerts):
        lines.append(w.ngettext("{n} control-chart alert on {kpi}.",
                              "{n} control-chart alerts on {kpi}.", len(view.alerts),
                              n=len(view.alerts), kpi=plain(label(view.steer_on))))
    else:
        lines.append(w._("No control-chart alerts: {kpi} moves within its limits.",
                       kpi=plain(label(view.steer_on))))
    if view.report is not None:
        lines += [plain(line) for line in (view.report.headline if w.english else period_headline(
            view.report.headline, w.fmt, period=view.report.period, label=label))]
    return bullets(lines)
