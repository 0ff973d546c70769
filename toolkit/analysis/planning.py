"""How long an engagement will take, from the method's five duration factors.

The method names five factors that decide the duration of an engagement:

1. ``starting_situation`` - systems, process, how easily KPIs can be reported (*startsituatie*);
2. ``staff_level`` - the staff's starting level in working in a commercial process
   (*beginniveau medewerkers*);
3. ``number_of_kpis`` - the number of KPIs to report (*aantal te rapporteren KPI's*);
4. ``organisation_support`` - the organisation's support: FTE and the specialisms ICT, Sales,
   Marketing and Board (*ondersteuning vanuit de organisatie*);
5. ``strengths_weaknesses`` - the process's existing strengths and weaknesses (*sterke en zwakke
   punten van het proces*).

Each is scored 1-5 against anchored descriptions (:func:`anchors`), 5 always being the most
favourable (shortest engagement). Three are measured where the data shows them
(:func:`measured_factors`): the number of KPIs from the engagement's KPI set, the starting situation
from the data audit, the strengths and weaknesses from the raw funnel against the published
benchmark; the other two are scored with the client (``duration_factors:`` in the YAML). A factor
nobody scored stays "not scored", and then no duration is estimated: a silent average would print
a number nobody decided.

:func:`estimate_duration` turns the scores into weeks per step of the seven steps with a planning
range, using coefficients from ``toolkit/data/duration_model.yaml``: planning assumptions, not
fitted values. :func:`calibrate_duration_model` fits them on a firm's own finished engagements.
"""

from __future__ import annotations

import difflib
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from statsmodels.regression.linear_model import OLS
from statsmodels.tools import add_constant

from toolkit.base.drawing import draw
from toolkit.base.exceptions import ConfigError, DataError, OptionError
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.measure.kpis import kpis_from_config

__all__ = [
    "FACTORS",
    "FACTOR_LABELS",
    "BASES",
    "FactorsNotScored",
    "calibrate_duration_model",
    "measured_factors",
    "score_starting_situation",
    "DurationFactors",
    "DurationModel",
    "DurationEstimate",
    "StrengthsWeaknessesScore",
    "factors_from_yaml",
    "factors_for",
    "anchors",
    "load_duration_model",
    "estimate_duration",
    "readiness_scan",
    "score_number_of_kpis",
    "strengths_weaknesses_score",
]

FACTORS = (
    "starting_situation",
    "staff_level",
    "number_of_kpis",
    "organisation_support",
    "strengths_weaknesses",
)

SCORES = (1, 2, 3, 4, 5)

#: How a factor's score came about: measured from the data (which data), scored by the consultant
#: with the client, or not scored at all.
BASES = ("measured_kpi_set", "measured_audit", "measured_funnel", "scored", "not_scored")

#: factor -> (English label, Dutch label)
FACTOR_LABELS: dict[str, tuple[str, str]] = {
    "starting_situation": ("Starting situation: systems, process, how easily KPIs can be reported",
                           "Startsituatie: systemen, proces, hoe gemakkelijk KPI's te "
                           "rapporteren zijn"),
    "staff_level": ("Staff's starting level in working in a commercial process, also where that "
                    "is not their core task",
                    "Aanvangsniveau van de medewerkers in het werken in een commercieel proces, "
                    "ook als dat geen kerntaak is"),
    "number_of_kpis": ("Number of KPIs to report", "Aantal te rapporteren KPI's"),
    "organisation_support": ("Organisation's support: number of FTE, specialisms ICT, Sales, "
                             "Marketing, Board",
                             "Ondersteuning vanuit de organisatie: aantallen FTE, specialismen ICT, "
                             "Sales, Marketing, Directie"),
    "strengths_weaknesses": ("Existing strengths and weaknesses of the process",
                             "Bestaande sterke en zwakke punten van het proces"),
}

_ANCHORS: dict[str, dict[int, str]] = {
    "starting_situation": {
        1: "No CRM: leads and quotes live in spreadsheets or mailboxes per salesperson, no agreed "
           "process, KPIs cannot be reported (geen CRM, losse Excel-lijsten per verkoper)",
        2: "A CRM exists but only some use it; stages are informal, dates missing or overwritten; "
           "KPIs only by counting by hand (CRM deels in gebruik, fasen informeel)",
        3: "One CRM used by most; stages defined but the stage history is incomplete; KPIs via "
           "an export and a spreadsheet (een CRM, fasehistorie onvolledig)",
        4: "One CRM used by all with stage history and a few data-quality gaps; standard reports "
           "show volumes but not conversions (fasehistorie aanwezig, enkele kwaliteitsgaten)",
        5: "One CRM used by all, stage history complete, process documented, KPIs reported "
           "automatically (volledige fasehistorie, KPI's automatisch gerapporteerd)",
    },
    "staff_level": {
        1: "Selling is ad hoc: no shared phases, no follow-up routine, the CRM is seen as admin "
           "(ad hoc verkopen, geen vaste opvolging)",
        2: "A few people follow a routine; phases and qualification criteria are not shared; "
           "little is registered (enkelen werken volgens een vaste aanpak)",
        3: "Staff know the phases and register most of their work; qualification and follow-up "
           "differ per person (fasen bekend, registratie grotendeels op orde)",
        4: "Staff work to agreed phases and entry criteria, register consistently and review the "
           "pipeline weekly (werken volgens afgesproken fasen en criteria)",
        5: "Staff steer on their own conversion figures, coach each other and improve the "
           "process themselves (medewerkers sturen zelf op conversie)",
    },
    "number_of_kpis": {
        1: "More than 25 KPIs, or no agreement on which; many segments and report versions "
           "(meer dan 25 KPI's of geen keuze gemaakt)",
        2: "16-25 KPIs across several segments (16-25 KPI's)",
        3: "9-15 KPIs: conversion per phase plus volumes, durations and value for a few segments "
           "(9-15 KPI's)",
        4: "5-8 KPIs: the phase conversions and one or two volume or value KPIs (5-8 KPI's)",
        5: "At most 4 KPIs, e.g. overall conversion, qualified leads and order intake "
           "(hoogstens 4 KPI's)",
    },
    "organisation_support": {
        1: "No time allocated; ICT, Sales, Marketing and the Board not involved beyond a sponsor "
           "in name (geen FTE, geen betrokkenheid specialismen of directie)",
        2: "Ad hoc help, under 0.2 FTE in total; one specialism involved "
           "(incidentele hulp, minder dan 0,2 FTE)",
        3: "About 0.2-0.5 FTE; Sales and Marketing involved, ICT on request, the Board reviews at "
           "milestones (0,2-0,5 FTE; Sales en Marketing betrokken)",
        4: "0.5-1 FTE with a named process owner; ICT, Sales and Marketing each have a contact; "
           "the Board sponsors actively (0,5-1 FTE, proceseigenaar benoemd)",
        5: "More than 1 FTE; a process owner with a mandate, ICT capacity reserved, Sales, "
           "Marketing and the Board review the KPIs monthly (meer dan 1 FTE, directie stuurt mee)",
    },
    "strengths_weaknesses": {
        1: "More than three quarters of the phase transitions are weak (below benchmark) and the "
           "causes are unknown (de meeste faseovergangen zwak)",
        2: "Half to three quarters of the transitions are weak; both lead volume and conversion "
           "to order fall short (meerdere zwakke overgangen)",
        3: "A quarter to half of the transitions are weak; the rest near benchmark "
           "(een of twee zwakke overgangen)",
        4: "Up to a quarter of the transitions are weak and the cause is understood "
           "(een begrepen zwakke plek)",
        5: "No transition below benchmark; the work is fine-tuning "
           "(geen overgang onder benchmark, fijnafstemming)",
    },
}

def N_(message: str) -> str:
    """Marks a message for the catalogue (the report shows it in the engagement's language)."""
    return message


# Advice per factor for a weak (1-2), average (3) and strong (4-5) score, shown on the step-1 page.
_ADVICE: dict[str, dict[str, str]] = {
    "starting_situation": {
        "weak": N_("Start step 1 with a data inventory and agree one place where every lead and "
                "opportunity is registered with stage dates; plan extra time for step 4."),
        "average": N_("Fill the gaps in the stage history early (step 1) so step 4 can measure "
                   "cohort conversions without manual work."),
        "strong": N_("Use the existing stage history for the baseline straight away; step 4 can "
                  "focus on definitions rather than data."),
    },
    "staff_level": {
        "weak": N_("Budget training and coaching in steps 6 and 7: agree phases and entry criteria "
                "with the team and review the pipeline together weekly."),
        "average": N_("Make the entry criteria per phase explicit and check registration in the "
                   "weekly pipeline review."),
        "strong": N_("Let the team own the improvement actions in step 6; the consultant coaches."),
    },
    "number_of_kpis": {
        "weak": N_("Cut the KPI list back to the management goal and the phase conversions in step "
                "3; every KPI has to be measured and maintained."),
        "average": N_("Check each KPI against the management goal in step 3; drop those nobody will "
                   "steer on."),
        "strong": N_("A short KPI list: keep it short when new wishes come up."),
    },
    "organisation_support": {
        "weak": N_("Secure a sponsor on the Board and named contacts in ICT, Sales and Marketing "
                "before starting; without them every step waits."),
        "average": N_("Agree the hours of the process owner and ICT up front and review them at each "
                   "step's milestone."),
        "strong": N_("Use the support: let the process owner chair the steering meetings from "
                  "step 7 onwards."),
    },
    "strengths_weaknesses": {
        "weak": N_("Pick the low-hanging fruit first: set up one or two phases in step 6 and run "
                "the rest as a second round."),
        "average": N_("Focus step 6 on the weak transitions; leave the healthy ones alone."),
        "strong": N_("Few weak spots: step 6 can be short; spend the time on steering (step 7)."),
    },
}

_NOT_SCORED_ADVICE = N_("Score this factor with the client (1-5, against the anchors) before "
                        "planning: without it no duration is estimated.")

#: Bands of score_number_of_kpis: largest KPI count per score.
_KPI_BANDS = ((4, 5), (8, 4), (15, 3), (25, 2))


# --------------------------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DurationFactors:
    """The five duration factors, each scored 1 (least favourable) to 5 (most favourable).

    Parameters
    ----------
    starting_situation, staff_level, number_of_kpis, organisation_support, strengths_weaknesses
        Scores 1-5; see :func:`anchors` for what each score means. None: not scored.
    notes
        Optional ``{factor: text}``: why the score was given, shown in the readiness scan.
    basis
        Optional ``{factor: code}`` of :data:`BASES`: how the score came about (default
        ``scored``, or ``not_scored`` for None).

    Raises
    ------
    ConfigError
        A score that is not a whole number from 1 to 5, or a note for an unknown factor.
    """

    starting_situation: int | None
    staff_level: int | None
    number_of_kpis: int | None
    organisation_support: int | None
    strengths_weaknesses: int | None
    notes: Mapping[str, str] = field(default_factory=dict)
    basis: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for factor in FACTORS:
            if getattr(self, factor) is not None:  # None: not scored (no silent average)
                object.__setattr__(self, factor, _validate_score(factor, getattr(self, factor)))
        basis = {factor: ("not_scored" if getattr(self, factor) is None else "scored")
                 for factor in FACTORS} | dict(self.basis or {})
        unknown = [b for b in basis.values() if b not in BASES]
        if unknown:
            raise ConfigError(f"The basis of a factor must be one of {list(BASES)}, but "
                              f"{unknown[0]!r} was passed", fix=f"use one of {list(BASES)}")
        object.__setattr__(self, "basis", basis)
        notes = dict(self.notes or {})
        for key in notes:
            if key not in FACTORS:
                raise ConfigError(
                    f"`notes` has a note for {key!r}, which is not a duration factor; the factors "
                    f"are {list(FACTORS)}", key=f"notes.{key}", fix=_suggest(key, FACTORS))
        object.__setattr__(self, "notes", {key: str(text) for key, text in notes.items()})

    def scores(self) -> dict[str, int | None]:
        """``{factor: score}`` in the method's order (None: not scored)."""
        return {factor: getattr(self, factor) for factor in FACTORS}

    def unscored(self) -> list[str]:
        """The factors nobody scored or measured, in the method's order."""
        return [factor for factor, score in self.scores().items() if score is None]


def _validate_score(factor: str, value: Any, *, file: str | None = None,
                    key: str | None = None) -> int:
    english, dutch = FACTOR_LABELS[factor]
    fix = (f"score `{factor}` ({english} / {dutch}) with the anchors of "
           f"toolkit.analysis.planning.anchors(): 1 = {_ANCHORS[factor][1].split(' (')[0]}; "
           f"5 = {_ANCHORS[factor][5].split(' (')[0]}")
    number = value
    if isinstance(value, float | np.floating) and float(value).is_integer():
        number = int(value)
    if (isinstance(number, bool) or not isinstance(number, int | np.integer)
            or int(number) not in SCORES):
        raise ConfigError(
            f"The score for `{factor}` must be one of {list(SCORES)}, but {value!r} was passed",
            file=file, key=key or factor, fix=fix)
    return int(number)


def _suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}use one of {list(options)}"


def factors_from_yaml(source: Mapping[str, Any] | str | Path) -> DurationFactors:
    """Read the five factor scores from a mapping or a YAML file.

    Parameters
    ----------
    source
        A mapping, or the path of a YAML file (e.g. the engagement's ``engagement.yaml``). The
        scores are read from its ``duration_factors`` section if it has one, else from the top
        level. Each factor is a score or ``{score: 3, note: "..."}``::

            duration_factors:
              starting_situation: {score: 2, note: "CRM used by half the team"}
              staff_level: 3
              number_of_kpis: 4
              organisation_support: 3
              strengths_weaknesses: 2

    Returns
    -------
    DurationFactors
        A factor the source leaves out is not scored (None).

    Raises
    ------
    ConfigError
        Naming the file and key of an unknown factor or a score out of range.
    """
    file = None
    if isinstance(source, str | Path):
        file = str(source)
        try:
            with open(source, encoding="utf-8") as handle:
                content = yaml.safe_load(handle)
        except FileNotFoundError as error:
            raise ConfigError("the file does not exist", file=file,
                              fix="pass the path of the engagement YAML or a dict") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"the file is not valid YAML: {error}", file=file,
                              fix="fix the YAML syntax (indentation, colons)") from error
    else:
        content = source
    if not isinstance(content, Mapping):
        raise ConfigError("the duration factors must be a mapping of factor to score", file=file,
                          value=type(content).__name__, fix=f"write the keys {list(FACTORS)}")
    prefix = ""
    if "duration_factors" in content:
        content = content["duration_factors"]
        prefix = "duration_factors."
        if not isinstance(content, Mapping):
            raise ConfigError("`duration_factors` must be a mapping of factor to score",
                              file=file, key="duration_factors",
                              fix=f"write the keys {list(FACTORS)} under it")
    unknown = [key for key in content if key not in FACTORS]
    if unknown:
        raise ConfigError(f"{str(unknown[0])!r} is not a duration factor", file=file,
                          key=f"{prefix}{unknown[0]}", fix=_suggest(str(unknown[0]), FACTORS))
    # a factor left out is not scored (None): the estimate then says so instead of assuming 3
    scores: dict[str, Any] = {factor: None for factor in FACTORS}
    notes: dict[str, str] = {}
    for factor in FACTORS:
        if factor not in content:
            continue
        entry = content[factor]
        if isinstance(entry, Mapping):
            extra = set(entry) - {"score", "note"}
            if "score" not in entry or extra:
                raise ConfigError(
                    f"`{factor}` must be a score or a mapping with `score` (and optional "
                    f"`note`), but has the keys {sorted(map(str, entry))}", file=file,
                    key=f"{prefix}{factor}", fix=f"write e.g. `{factor}: {{score: 3, note: ...}}`")
            if entry.get("note"):
                notes[factor] = str(entry["note"])
            entry = entry["score"]
        scores[factor] = _validate_score(factor, entry, file=file, key=f"{prefix}{factor}")
    return DurationFactors(**scores, notes=notes)


def anchors() -> pd.DataFrame:
    """The anchored description of every score of every factor, for the readiness scan table.

    Returns
    -------
    DataFrame
        ``factor, score, description``: 25 rows, factors in the method's order.
    """
    rows = [{"factor": factor, "score": score, "description": _ANCHORS[factor][score]}
            for factor in FACTORS for score in SCORES]
    return pd.DataFrame(rows)


def score_number_of_kpis(count: int) -> int:
    """The ``number_of_kpis`` score for a count of KPIs: <=4 -> 5, 5-8 -> 4, 9-15 -> 3,
    16-25 -> 2, more -> 1 (the anchors of :func:`anchors`)."""
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise OptionError(
            f"The value for `count` must be a whole number of KPIs >= 1, but {count!r} was passed",
            fix="count the KPIs agreed with management in step 3")
    for largest, score in _KPI_BANDS:
        if count <= largest:
            return score
    return 1


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DurationModel:
    """The coefficients of the duration model (see ``toolkit/data/duration_model.yaml``).

    Attributes
    ----------
    steps
        ``step, step_name_nl, step_name_en, base_weeks`` for the seven steps.
    multipliers
        ``{factor: {step: (m1, m2, m3, m4, m5)}}``; steps a factor does not list have 1.0.
    low, high
        The planning range as multipliers of the estimate.
    source
        Where the model was read from.
    """

    steps: pd.DataFrame
    multipliers: dict[str, dict[int, tuple[float, ...]]]
    low: float
    high: float
    source: str

    def multiplier(self, factor: str, step: int, score: int) -> float:
        """The multiplier of ``factor`` at ``score`` on ``step`` (1.0 when it has no effect)."""
        return self.multipliers.get(factor, {}).get(step, (1.0,) * 5)[score - 1]


def load_duration_model(model: Mapping[str, Any] | str | Path | DurationModel | None = None
                        ) -> DurationModel:
    """Read and validate a duration model.

    Parameters
    ----------
    model
        ``None`` for the packaged default (``toolkit/data/duration_model.yaml``), the path of a
        calibrated copy, a mapping with the same structure, or a :class:`DurationModel`.

    Raises
    ------
    ConfigError
        Naming the file and key of anything that does not fit (see the YAML's comments).
    """
    if isinstance(model, DurationModel):
        return model
    if model is None:
        resource = resources.files("toolkit").joinpath("data", "duration_model.yaml")
        source = "toolkit/data/duration_model.yaml"
        content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    elif isinstance(model, str | Path):
        source = str(model)
        try:
            content = yaml.safe_load(Path(model).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError("the duration model file does not exist", file=source,
                              fix="pass None for the default model or the path of a copy"
                              ) from error
        except yaml.YAMLError as error:
            raise ConfigError(f"the file is not valid YAML: {error}", file=source,
                              fix="fix the YAML syntax (indentation, colons)") from error
    elif isinstance(model, Mapping):
        source, content = "<mapping>", model
    else:
        raise OptionError(
            "The value for `model` must be None, a path or a mapping, but a "
            f"{type(model).__name__} was passed", fix="pass None for the default model")
    return _parse_model(content, source)


def _parse_model(content: Any, source: str) -> DurationModel:
    def fail(message: str, key: str, fix: str, value: Any = None) -> ConfigError:
        return ConfigError(message, file=source, key=key, value=value, fix=fix)

    if not isinstance(content, Mapping):
        raise fail("the model must be a mapping with `steps`, `factors` and `range`", "<top>",
                   "start from toolkit/data/duration_model.yaml")
    allowed = {"model_version", "unit", "steps", "factors", "range"}
    for key in content:
        if key not in allowed:
            raise fail(f"{key!r} is not a model key", str(key), _suggest(str(key), sorted(allowed)))
    for key in ("steps", "factors", "range"):
        if key not in content:
            raise fail(f"the model has no `{key}`", key,
                       "copy the section from toolkit/data/duration_model.yaml")

    steps = content["steps"]
    if not isinstance(steps, list):
        raise fail("`steps` must be a list of the seven steps", "steps",
                   "write one item per step with step, name_nl, name_en, base_weeks")
    rows = []
    for position, item in enumerate(steps):
        key = f"steps[{position}]"
        if not isinstance(item, Mapping) or set(item) != {"step", "name_nl", "name_en",
                                                            "base_weeks"}:
            raise fail("each step needs exactly the keys step, name_nl, name_en, base_weeks",
                       key, "write e.g. {step: 1, name_nl: Nulmeting, name_en: Baseline, "
                            "base_weeks: 2}",
                       value=sorted(map(str, item)) if isinstance(item, Mapping) else item)
        weeks = item["base_weeks"]
        if not _positive(weeks):
            raise fail("`base_weeks` must be a positive number", f"{key}.base_weeks",
                       "write the weeks for an average client, e.g. 2.5", value=weeks)
        rows.append({"step": item["step"], "step_name_nl": str(item["name_nl"]),
                     "step_name_en": str(item["name_en"]), "base_weeks": float(weeks)})
    numbers = [row["step"] for row in rows]
    if sorted(numbers) != list(range(1, 8)):
        raise fail("`steps` must hold the steps 1 to 7, each once", "steps",
                   "list the seven steps of the method", value=numbers)
    table = pd.DataFrame(rows).sort_values("step").reset_index(drop=True)
    table["step"] = table["step"].astype(int)

    factors = content["factors"]
    if not isinstance(factors, Mapping):
        raise fail("`factors` must map each factor to {step: [five multipliers]}", "factors",
                   f"write the keys {list(FACTORS)}")
    multipliers: dict[str, dict[int, tuple[float, ...]]] = {}
    for factor, effects in factors.items():
        if factor not in FACTORS:
            raise fail(f"{factor!r} is not a duration factor", f"factors.{factor}",
                       _suggest(str(factor), FACTORS))
        effects = effects or {}
        if not isinstance(effects, Mapping):
            raise fail("a factor maps steps to five multipliers", f"factors.{factor}",
                       "write e.g. `4: [1.6, 1.25, 1.0, 0.85, 0.7]`")
        multipliers[factor] = {}
        for step, values in effects.items():
            key = f"factors.{factor}.{step}"
            if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 7:
                raise fail("the step must be a number from 1 to 7", key,
                           "use the step numbers of the method", value=step)
            if (not isinstance(values, list) or len(values) != 5
                    or not all(_positive(v) for v in values)):
                raise fail("give five positive multipliers, for the scores 1 to 5", key,
                           "write e.g. [1.6, 1.25, 1.0, 0.85, 0.7] (score 3 = 1.0)", value=values)
            multipliers[factor][step] = tuple(float(v) for v in values)
    for factor in FACTORS:
        multipliers.setdefault(factor, {})

    spread = content["range"]
    if not isinstance(spread, Mapping) or set(spread) != {"low", "high"}:
        raise fail("`range` needs exactly `low` and `high`", "range",
                   "write e.g. {low: 0.85, high: 1.35}")
    low, high = spread["low"], spread["high"]
    if not _positive(low) or low > 1:
        raise fail("`range.low` must be a number in (0, 1]", "range.low", "use e.g. 0.85",
                   value=low)
    if not _positive(high) or high < 1:
        raise fail("`range.high` must be a number >= 1", "range.high", "use e.g. 1.35", value=high)
    return DurationModel(steps=table, multipliers=multipliers, low=float(low), high=float(high),
                         source=source)


def _positive(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


# --------------------------------------------------------------------------------------------
# Estimate
# --------------------------------------------------------------------------------------------

@dataclass
class DurationEstimate:
    """Estimated engagement duration, per step and in total, with a planning range.

    Attributes
    ----------
    by_step
        ``step, step_name_nl, step_name_en, base_weeks, weeks, weeks_low, weeks_high, drivers``.
    total_weeks, total_weeks_low, total_weeks_high
        Sums over the steps, treated as sequential.
    factors
        The scores the estimate was made from.
    model_source
        Where the coefficients came from.
    """

    by_step: pd.DataFrame
    total_weeks: float
    total_weeks_low: float
    total_weeks_high: float
    factors: DurationFactors
    model_source: str

    @property
    def summary(self) -> pd.DataFrame:
        """``by_step`` with a total row (step missing, name "Total (steps in sequence)")."""
        total = pd.DataFrame([{
            "step": pd.NA, "step_name_nl": "Totaal (stappen na elkaar)",
            "step_name_en": "Total (steps in sequence)",
            "base_weeks": self.by_step["base_weeks"].sum(), "weeks": self.total_weeks,
            "weeks_low": self.total_weeks_low, "weeks_high": self.total_weeks_high,
            "drivers": "",
        }])
        table = pd.concat([self.by_step, total], ignore_index=True)
        table["step"] = table["step"].astype("Int64")
        return table

    def __repr__(self) -> str:
        return (f"DurationEstimate({self.total_weeks:.1f} weeks, range "
                f"{self.total_weeks_low:.1f}-{self.total_weeks_high:.1f}; about "
                f"{self.total_weeks / (52 / 12):.0f} months, steps in sequence)")

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The engagement as a Gantt chart: ``toolkit.present.plotting.plot_engagement_timeline``."""
        return draw("plot_engagement_timeline", self.by_step, ax=ax, **options)

    def _repr_html_(self) -> str:
        head = (f"<p><b>Estimated duration: {self.total_weeks:.1f} weeks</b> (range "
                f"{self.total_weeks_low:.1f}-{self.total_weeks_high:.1f} weeks; the steps are "
                "added as if they ran one after another). Model: "
                f"{html.escape(self.model_source)}.</p>")
        return head + self.summary.to_html(index=False, float_format=lambda v: f"{v:.1f}",
                                           na_rep="")


def estimate_duration(
    factors: DurationFactors | Mapping[str, Any],
    *,
    model: Mapping[str, Any] | str | Path | DurationModel | None = None,
) -> DurationEstimate:
    """Estimated engagement duration from the five duration factors.

    Parameters
    ----------
    factors
        The scores, as :class:`DurationFactors` or a mapping accepted by
        :func:`factors_from_yaml`.
    model
        The coefficients: ``None`` for the packaged ``duration_model.yaml``, a path to a
        calibrated copy, a mapping or a :class:`DurationModel`.

    Returns
    -------
    DurationEstimate

    Notes
    -----
    weeks(step) = base_weeks(step) × Π_factors multiplier(factor, step, score); the low and high
    ends multiply by ``range.low`` and ``range.high``. The total adds the steps as if they ran in
    sequence, which overstates the calendar time where steps overlap (2-3, 6-7); adding the low
    ends (and the high ends) assumes the steps' errors move together, which is the cautious
    choice for planning. ``drivers`` lists the factors that change a step, strongest first.

    The coefficients are planning judgement, not fitted values: use the estimate to discuss the
    plan with the client, not as a quote, until the model is calibrated on finished engagements
    (:func:`calibrate_duration_model`).

    Raises
    ------
    FactorsNotScored
        When a factor is not scored: no duration without all five.
    """
    if not isinstance(factors, DurationFactors):
        if not isinstance(factors, Mapping):
            raise OptionError(
                "The value for `factors` must be DurationFactors or a mapping of factor to "
                f"score, but a {type(factors).__name__} was passed",
                fix="use DurationFactors(...) or factors_from_yaml(...)")
        factors = factors_from_yaml(factors)
    if factors.unscored():
        raise FactorsNotScored(factors.unscored())
    coefficients = load_duration_model(model)
    scores = factors.scores()
    rows = []
    for step in coefficients.steps.itertuples(index=False):
        effects = [(factor, coefficients.multiplier(factor, step.step, score), score)
                   for factor, score in scores.items()]
        weeks = step.base_weeks * math.prod(m for _, m, _ in effects)
        changing = sorted((e for e in effects if e[1] != 1.0),
                          key=lambda e: -abs(math.log(e[1])))
        drivers = "; ".join(f"{factor} ×{m:.2f} (score {score})"
                            for factor, m, score in changing)
        rows.append({
            "step": int(step.step),
            "step_name_nl": step.step_name_nl,
            "step_name_en": step.step_name_en,
            "base_weeks": step.base_weeks,
            "weeks": weeks,
            "weeks_low": weeks * coefficients.low,
            "weeks_high": weeks * coefficients.high,
            "drivers": drivers,
        })
    by_step = pd.DataFrame(rows)
    return DurationEstimate(
        by_step=by_step,
        total_weeks=float(by_step["weeks"].sum()),
        total_weeks_low=float(by_step["weeks_low"].sum()),
        total_weeks_high=float(by_step["weeks_high"].sum()),
        factors=factors,
        model_source=coefficients.source,
    )


def readiness_scan(
    factors: DurationFactors | Mapping[str, Any],
    *,
    model: Mapping[str, Any] | str | Path | DurationModel | None = None,
) -> pd.DataFrame:
    """The readiness scan of step 1: each factor's score, what it means, its effect and advice.

    Parameters
    ----------
    factors, model
        As in :func:`estimate_duration`.

    Returns
    -------
    DataFrame
        ``factor, label, score, basis, anchor, effect_weeks, effect_on_duration, advice,
        advice_code, note``. A factor not scored has no score, anchor or effect; while any factor
        is unscored no effect is computed (there is no estimate to compare with).

    Notes
    -----
    ``effect_weeks`` is the total estimate minus the estimate with this factor at the average
    score 3 and the others as scored: what this factor adds (+) or saves (-). Because the model
    multiplies, the effects do not add up exactly to the difference from an all-average client.
    """
    if not isinstance(factors, DurationFactors):
        factors = factors_from_yaml(factors)
    coefficients = load_duration_model(model)
    complete = not factors.unscored()
    total = estimate_duration(factors, model=coefficients).total_weeks if complete else math.nan
    rows = []
    for factor, score in factors.scores().items():
        if score is None:
            rows.append({"factor": factor, "label": FACTOR_LABELS[factor][0], "score": pd.NA,
                         "basis": "not_scored", "anchor": "", "effect_weeks": math.nan,
                         "effect_on_duration": "not scored", "advice": _NOT_SCORED_ADVICE,
                         "advice_code": f"{factor}/not_scored",
                         "note": factors.notes.get(factor, "")})
            continue
        if not complete:
            effect, text = math.nan, "not estimated: a factor is not scored"
            rows.append(_scan_row(factors, factor, score, effect, text))
            continue
        neutral = DurationFactors(**{**factors.scores(), factor: 3})
        effect = total - estimate_duration(neutral, model=coefficients).total_weeks
        affected = [step for step, values in sorted(coefficients.multipliers[factor].items())
                    if values[score - 1] != 1.0]
        if abs(effect) < 0.05:
            text = "neutral (average)"
        else:
            where = ", ".join(map(str, affected))
            text = (f"{'+' if effect > 0 else '-'}{abs(effect):.1f} weeks "
                    f"(step{'s' if len(affected) > 1 else ''} {where})")
        rows.append(_scan_row(factors, factor, score, effect, text))
    frame = pd.DataFrame(rows)
    frame["score"] = frame["score"].astype("Int64")
    return frame


def _band(score: int) -> str:
    return "weak" if score <= 2 else "average" if score == 3 else "strong"


def _scan_row(factors: DurationFactors, factor: str, score: int, effect: float,
              text: str) -> dict[str, Any]:
    band = _band(score)
    return {"factor": factor, "label": FACTOR_LABELS[factor][0], "score": score,
            "basis": factors.basis[factor], "anchor": _ANCHORS[factor][score],
            "effect_weeks": effect, "effect_on_duration": text,
            "advice": _ADVICE[factor][band], "advice_code": f"{factor}/{band}",
            "note": factors.notes.get(factor, "")}


def advice_texts() -> dict[str, str]:
    """``{advice_code: English advice}``: every advice the readiness scan can give (the report
    shows it in the engagement's language from its code)."""
    texts = {f"{factor}/{band}": words for factor, bands in _ADVICE.items()
             for band, words in bands.items()}
    texts.update({f"{factor}/not_scored": _NOT_SCORED_ADVICE for factor in FACTORS})
    return texts


# --------------------------------------------------------------------------------------------
# Factor 5 from the diagnosis
# --------------------------------------------------------------------------------------------

@dataclass
class StrengthsWeaknessesScore:
    """Factor 5 derived from the phase conversions; ``int(result)`` is the score.

    Attributes
    ----------
    score
        1-5, to use as ``DurationFactors(strengths_weaknesses=...)``.
    transitions
        ``from_phase, to_phase, rate, benchmark_low, benchmark_high, basis, assessment`` with
        ``assessment`` ``weak``, ``ok`` or ``strong``.
    weak_share
        Share of the transitions assessed weak.
    """

    score: int
    transitions: pd.DataFrame
    weak_share: float

    def __int__(self) -> int:
        return self.score

    @property
    def summary(self) -> pd.DataFrame:
        """The transitions with their assessment."""
        return self.transitions

    def _repr_html_(self) -> str:
        head = (f"<p><b>Strengths and weaknesses score: {self.score}</b> "
                f"({round(self.weak_share * 100):d}% of the transitions weak)</p>")
        return head + self.transitions.to_html(index=False, float_format=lambda v: f"{v:.3f}")


def strengths_weaknesses_score(
    step_conversions: pd.DataFrame,
    benchmarks: pd.DataFrame | None = None,
    *,
    far_below: float = 0.5,
) -> StrengthsWeaknessesScore:
    """Score factor 5 (the process's strengths and weaknesses) from the phase conversions.

    Parameters
    ----------
    step_conversions
        One row per phase transition with ``from_phase, to_phase, rate`` and optionally
        ``benchmark_low, benchmark_high``. Not modified.
    benchmarks
        Optional ``from_phase, to_phase, benchmark_low[, benchmark_high]``, matched on the phase
        pair; where given it replaces benchmark columns in ``step_conversions``.
    far_below
        Without a benchmark, a transition is weak when its rate is below ``far_below`` times the
        best transition's rate.

    Returns
    -------
    StrengthsWeaknessesScore

    Notes
    -----
    A transition is **weak** when its rate is below ``benchmark_low``, or, without a benchmark,
    below ``far_below`` × the highest rate among the transitions; it is **strong** when above
    ``benchmark_high``. With w = share of weak transitions the score is 5 (w = 0), 4 (w <= 1/4),
    3 (w <= 1/2), 2 (w <= 3/4) or 1 (w > 3/4), matching the anchors of :func:`anchors`.

    The fallback without benchmarks is crude: early transitions (lead to qualified lead) are
    naturally lower than late ones (quote to order), so prefer the client's own baseline or the
    published benchmarks as ``benchmark_low``. The rates should be cohort conversions with
    intervals; a transition measured on a handful of records says little either way.
    """
    if not isinstance(step_conversions, pd.DataFrame):
        raise DataError("`step_conversions` must be a pandas DataFrame",
                        fix="pass the phase conversions with from_phase, to_phase, rate")
    missing = [c for c in ("from_phase", "to_phase", "rate") if c not in step_conversions]
    if missing:
        raise DataError(f"`step_conversions` lacks the column(s) {missing}",
                        fix="pass one row per transition with from_phase, to_phase, rate")
    if not _positive(far_below) or far_below >= 1:
        raise OptionError(
            f"The value for `far_below` must be a number between 0 and 1, but {far_below!r} "
            "was passed", fix="use 0.5")
    frame = step_conversions.copy()
    if benchmarks is not None:
        needed = [c for c in ("from_phase", "to_phase", "benchmark_low") if c not in benchmarks]
        if needed:
            raise DataError(f"`benchmarks` lacks the column(s) {needed}",
                            fix="pass from_phase, to_phase, benchmark_low[, benchmark_high]")
        keep = [c for c in ("from_phase", "to_phase", "benchmark_low", "benchmark_high")
                if c in benchmarks]
        frame = frame.drop(columns=[c for c in ("benchmark_low", "benchmark_high")
                                    if c in frame.columns])
        frame = frame.merge(benchmarks[keep], on=["from_phase", "to_phase"], how="left")
    for column in ("benchmark_low", "benchmark_high"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if len(frame) == 0:
        raise DataError("`step_conversions` has no rows", fix="pass at least one transition")
    frame["rate"] = pd.to_numeric(frame["rate"], errors="coerce").astype(float)
    bad = frame["rate"].isna() | ~frame["rate"].between(0, 1)
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError("the rate must be a proportion between 0 and 1", row=position + 1,
                        column="rate", value=step_conversions["rate"].iloc[position],
                        fix="pass conversions as proportions (0.25 for 25%), one per transition")

    best = frame["rate"].max()
    has_benchmark = frame["benchmark_low"].notna()
    weak = np.where(has_benchmark, frame["rate"] < frame["benchmark_low"],
                    frame["rate"] < far_below * best)
    strong = frame["benchmark_high"].notna() & (frame["rate"] > frame["benchmark_high"])
    frame["basis"] = np.where(has_benchmark, "benchmark", "relative to best transition")
    frame["assessment"] = np.where(weak, "weak", np.where(strong, "strong", "ok"))
    share = float(np.mean(weak))
    score = 5 if share == 0 else 4 if share <= 0.25 else 3 if share <= 0.5 else (
        2 if share <= 0.75 else 1)
    columns = ["from_phase", "to_phase", "rate", "benchmark_low", "benchmark_high", "basis",
               "assessment"]
    return StrengthsWeaknessesScore(score=score, transitions=frame[columns], weak_share=share)


class FactorsNotScored(DataError):
    """A duration asked for while a factor is not scored: no estimate without all five."""

    code = "factors_not_scored"

    def __init__(self, factors: list[str]) -> None:
        self.factors = list(factors)
        self.values = {"count": len(self.factors)}
        names = ", ".join(factor.replace("_", " ") for factor in self.factors)
        super().__init__(
            f"{len(self.factors)} duration factor(s) not scored ({names}), so no duration is "
            f"estimated",
            fix="score them 1-5 with the client under `duration_factors:` in the engagement YAML "
                "(toolkit.analysis.planning.anchors() gives what each score means)")


def score_starting_situation(audit, *, dated: bool = True, history: bool = True) -> int:
    """The ``starting_situation`` score as the data audit shows it.

    Parameters
    ----------
    audit
        The step-1 audit (``toolkit.measure.audit.audit``): its ``findings`` (``check, share``).
    dated
        False for a lead list without dates.
    history
        False when no source has a stage history (a snapshot).

    Notes
    -----
    The anchors of :func:`anchors`, read from what the export shows: no dates at all -> 1 (KPIs
    over time cannot be reported); dates but no stage history (a snapshot) -> 2; a stage history
    whose worst audit check touches more than 10% of the records -> 3 (history incomplete); else
    4. The data cannot show the 5 ("KPIs reported automatically"): the measured score stops at 4.
    """
    if not dated:
        return 1
    if not history:
        return 2
    shares = pd.to_numeric(audit.findings["share"], errors="coerce").dropna()
    worst = float(shares.max()) if len(shares) else 0.0
    return 3 if worst > 0.10 else 4


def measured_factors(engagement, *, audit=None, funnel_frame: pd.DataFrame | None = None
                     ) -> dict[str, tuple[int, str]]:
    """The factors the data shows, as ``{factor: (score, basis)}``.

    - ``number_of_kpis`` from the engagement's KPI set (declared, or the default set);
    - ``starting_situation`` from the data audit (:func:`score_starting_situation`);
    - ``strengths_weaknesses`` from the raw funnel's step conversions against the low end of
      the published benchmark (:func:`strengths_weaknesses_score`), when the engagement maps its
      phases to the benchmark (``benchmark_stages``); without a benchmark it is not measured.

    Step 1 runs first, so the strengths and weaknesses are read from the raw funnel (open
    records counted as not converted, so a little low), not from step 5's diagnosis.
    """
    out = {"number_of_kpis": (score_number_of_kpis(len(kpis_from_config(engagement))),
                              "measured_kpi_set")}
    if audit is not None:
        out["starting_situation"] = (score_starting_situation(
            audit, dated=engagement.dated, history=engagement.timing_known), "measured_audit")
    if funnel_frame is not None and len(funnel_frame) > 1 and engagement.config.benchmark_stages:
        bench = benchmarks_for(engagement).rename(columns={"low": "benchmark_low",
                                                           "high": "benchmark_high"})
        steps = funnel_frame.dropna(subset=["from_phase", "rate"]).rename(
            columns={"phase": "to_phase"})[["from_phase", "to_phase", "rate"]]
        steps = steps.merge(bench[["from_phase", "to_phase", "benchmark_low", "benchmark_high"]],
                            on=["from_phase", "to_phase"], how="inner")
        if len(steps):
            out["strengths_weaknesses"] = (int(strengths_weaknesses_score(steps)),
                                           "measured_funnel")
    return out


def factors_for(engagement, *, audit=None, funnel_frame: pd.DataFrame | None = None
                ) -> DurationFactors:
    """The engagement's duration factors: measured where the data shows them
    (:func:`measured_factors`), the rest as scored under ``duration_factors:`` in its YAML.

    A factor neither measured nor scored is not scored (None), and then no duration is
    estimated. A YAML score for a measured factor is not used (the note says so): one fact,
    computed once.
    """
    given = factors_from_yaml(dict(engagement.config.duration_factors or {}))
    scores, notes = given.scores(), dict(given.notes)
    basis = {factor: given.basis[factor] for factor in FACTORS}
    for factor, (score, how) in measured_factors(engagement, audit=audit,
                                                 funnel_frame=funnel_frame).items():
        if scores[factor] is not None and scores[factor] != score:
            notes[factor] = f"measured {score}; the YAML's {scores[factor]} is not used"
        scores[factor], basis[factor] = score, how
    return DurationFactors(**scores, notes=notes, basis=basis)


# --------------------------------------------------------------------------------------------
# Calibration on finished engagements
# --------------------------------------------------------------------------------------------

def calibrate_duration_model(engagements: pd.DataFrame | str | Path, *,
                             confidence: float = 0.95) -> pd.DataFrame:
    """Fit the duration model's coefficients on a firm's own finished engagements.

    Parameters
    ----------
    engagements
        A CSV file (or frame) with one row per finished engagement: the five factor columns
        (:data:`FACTORS`, scores 1-5) and ``actual_weeks`` (the weeks it took, all steps).
    confidence
        Of the intervals.

    Returns
    -------
    DataFrame
        ``term, multiplier, ci_low, ci_high, p_value, n``: the term ``average_client_weeks``
        (the weeks of an engagement with every factor at 3) and per factor the multiplier of the
        duration per score point above 3 (below 1: a better score shortens the engagement), each
        with its interval.

    Notes
    -----
    Ordinary least squares (statsmodels OLS) of log(actual_weeks) on the scores minus 3:
    log(weeks) = a + sum_f b_f (score_f - 3), the multiplicative form of ``duration_model.yaml``
    with one multiplier per point. ``average_client_weeks`` = exp(a), a factor's multiplier =
    exp(b_f); the intervals are the t-intervals of a and b_f, exponentiated. Six coefficients need
    at least seven engagements, and say little until there are a few dozen: read the intervals.
    """
    source = str(engagements) if isinstance(engagements, str | Path) else None
    frame = _read_engagements(engagements, source)
    weeks = frame["actual_weeks"].to_numpy(dtype=float)
    design = add_constant(frame[list(FACTORS)].to_numpy(dtype=float) - 3.0, has_constant="add")
    fit = OLS(np.log(weeks), design).fit()
    intervals = np.asarray(fit.conf_int(alpha=1 - confidence))
    terms = ("average_client_weeks", *FACTORS)
    return pd.DataFrame({"term": terms, "multiplier": np.exp(fit.params),
                         "ci_low": np.exp(intervals[:, 0]), "ci_high": np.exp(intervals[:, 1]),
                         "p_value": fit.pvalues, "n": len(frame)})


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (an error message shows 7, not np.int64(7))."""
    return value.item() if isinstance(value, np.generic) else value


def _read_engagements(engagements: pd.DataFrame | str | Path, source: str | None) -> pd.DataFrame:
    """The finished engagements, checked: every factor 1-5 and a positive ``actual_weeks``."""
    if isinstance(engagements, str | Path):
        try:
            frame = pd.read_csv(engagements, sep=None, engine="python")
        except FileNotFoundError as error:
            raise DataError("the file of finished engagements does not exist", file=source,
                            fix="pass a CSV with the five factor columns and actual_weeks"
                            ) from error
    elif isinstance(engagements, pd.DataFrame):
        frame = engagements
    else:
        raise TypeError(f"The value for `engagements` must be a CSV path or a DataFrame, but a "
                        f"{type(engagements).__name__} was passed. Fix: pass a CSV with the five "
                        f"factor columns and actual_weeks.")
    needed = [*FACTORS, "actual_weeks"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"the finished engagements lack the column(s) {missing}", file=source,
                        column=missing[0], fix=f"give one row per engagement with {needed}")
    for column in needed:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values <= 0 if column == "actual_weeks" else ~values.isin(SCORES))
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                "actual_weeks must be a positive number of weeks" if column == "actual_weeks"
                else "a factor score must be a whole number from 1 to 5", file=source,
                row=position + 2 if source else position + 1, column=column,
                value=_plain(frame[column].iloc[position]),
                fix="correct the value (a score 1-5 against the anchors, the weeks it took)")
    if len(frame) <= len(needed):
        raise DataError(f"{len(frame)} finished engagement(s) cannot fit six coefficients",
                        file=source, fix="record at least seven finished engagements (a few "
                                         "dozen before the intervals say much)")
    return frame.assign(**{c: pd.to_numeric(frame[c]) for c in needed})
