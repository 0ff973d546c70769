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
fitted values. :func:`calibrate_duration_model` fits them on a firm's own finished engagemen

One module a job: `factors` (the five factors, anchors, advice, the YAML), `model` (the
coefficients), `estimate` (weeks per step, the readiness scan), `measured` (the three factors
measured from the data), `calibration` (fitting the model). Import the names from the package.
"""

from toolkit.analysis.planning.calibration import calibrate_duration_model
from toolkit.analysis.planning.estimate import (
    DurationEstimate,
    advice_texts,
    estimate_duration,
    readiness_scan,
)
from toolkit.analysis.planning.factors import (
    BASES,
    FACTOR_LABELS,
    FACTORS,
    DurationFactors,
    FactorsNotScored,
    anchors,
    factors_from_yaml,
    score_number_of_kpis,
)
from toolkit.analysis.planning.measured import (
    StrengthsWeaknessesScore,
    factors_for,
    measured_factors,
    score_starting_situation,
    strengths_weaknesses_score,
)
from toolkit.analysis.planning.model import DurationModel, load_duration_model

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
    "advice_texts",
]
