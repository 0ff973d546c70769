"""The duration estimate of an engagement from its factor scores: weeks per step with a planning
range, and the readiness scan (what each factor costs and the advice for it)."""


from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.analysis.planning.factors import (
    ADVICE,
    ANCHORS,
    FACTOR_LABELS,
    FACTORS,
    NOT_SCORED_ADVICE,
    DurationFactors,
    FactorsNotScored,
    factors_from_yaml,
)
from toolkit.analysis.planning.model import DurationModel, load_duration_model
from toolkit.base.drawing import draw
from toolkit.base.exceptions import OptionError


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
    # every factor: an unscored one raised above
    scores = {factor: score for factor, score in factors.scores().items() if score is not None}
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
                         "effect_on_duration": "not scored", "advice": NOT_SCORED_ADVICE,
                         "advice_code": f"{factor}/not_scored",
                         "note": factors.notes.get(factor, "")})
            continue
        if not complete:
            effect, text = math.nan, "not estimated: a factor is not scored"
            rows.append(_scan_row(factors, factor, score, effect, text))
            continue
        # the scores as keyword arguments (Any: the other fields are typed differently)
        neutral_scores: dict[str, Any] = {**factors.scores(), factor: 3}
        neutral = DurationFactors(**neutral_scores)
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
            "basis": factors.basis[factor], "anchor": ANCHORS[factor][score],
            "effect_weeks": effect, "effect_on_duration": text,
            "advice": ADVICE[factor][band], "advice_code": f"{factor}/{band}",
            "note": factors.notes.get(factor, "")}


def advice_texts() -> dict[str, str]:
    """Every advice the readiness scan can give, in English.

    The report shows it in the engagement's language from its code.

    Returns
    -------
    dict of str to str
        ``{advice_code: English advice}``.
    """
    texts = {f"{factor}/{band}": words for factor, bands in ADVICE.items()
             for band, words in bands.items()}
    texts.update({f"{factor}/not_scored": NOT_SCORED_ADVICE for factor in FACTORS})
    return texts


