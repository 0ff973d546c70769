"""The method's five duration factors: their names and labels, the anchors a score 1-5 is given
against, the advice per score, and the scores read from the YAML."""


from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from toolkit.base.exceptions import ConfigError, DataError, OptionError

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

ANCHORS: dict[str, dict[int, str]] = {
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
ADVICE: dict[str, dict[str, str]] = {
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

NOT_SCORED_ADVICE = N_("Score this factor with the client (1-5, against the anchors) before "
                        "planning: without it no duration is estimated.")

#: Bands of score_number_of_kpis: largest KPI count per score.
_KPI_BANDS = ((4, 5), (8, 4), (15, 3), (25, 2))


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
                    f"are {list(FACTORS)}", key=f"notes.{key}", fix=suggest(key, FACTORS))
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
           f"toolkit.analysis.planning.anchors(): 1 = {ANCHORS[factor][1].split(' (')[0]}; "
           f"5 = {ANCHORS[factor][5].split(' (')[0]}")
    number = value
    if isinstance(value, float | np.floating) and float(value).is_integer():
        number = int(value)
    if (isinstance(number, bool) or not isinstance(number, int | np.integer)
            or int(number) not in SCORES):
        raise ConfigError(
            f"The score for `{factor}` must be one of {list(SCORES)}, but {value!r} was passed",
            file=file, key=key or factor, fix=fix)
    return int(number)


def suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
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
                          key=f"{prefix}{unknown[0]}", fix=suggest(str(unknown[0]), FACTORS))
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
    rows = [{"factor": factor, "score": score, "description": ANCHORS[factor][score]}
            for factor in FACTORS for score in SCORES]
    return pd.DataFrame(rows)


def score_number_of_kpis(count: int) -> int:
    """The ``number_of_kpis`` score for a count of KPIs (the anchors of :func:`anchors`).

    Parameters
    ----------
    count : int
        The number of KPIs reported.

    Returns
    -------
    int
        <=4 -> 5, 5-8 -> 4, 9-15 -> 3, 16-25 -> 2, more -> 1.
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise OptionError(
            f"The value for `count` must be a whole number of KPIs >= 1, but {count!r} was passed",
            fix="count the KPIs agreed with management in step 3")
    for largest, score in _KPI_BANDS:
        if count <= largest:
            return score
    return 1


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
