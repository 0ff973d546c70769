"""The three factors measured from the data: the number of KPIs from the KPI set, the starting
situation from the audit, the strengths and weaknesses from the raw funnel against the benchmark."""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.analysis.planning.factors import (
    FACTORS,
    DurationFactors,
    factors_from_yaml,
    score_number_of_kpis,
)
from toolkit.analysis.planning.model import is_positive
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.io.engagement import Engagement
from toolkit.measure.audit import AuditResult
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.measure.kpis import kpis_from_config


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
    if not is_positive(far_below) or far_below >= 1:
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


def score_starting_situation(audit: AuditResult, *, dated: bool = True, history: bool = True) -> int:
    """The ``starting_situation`` score as the data audit shows it.

    Parameters
    ----------
    audit
        The step-1 audit (``toolkit.measure.audit.audit``): its ``findings`` (``check, share``).
    dated
        False for a lead list without dates.
    history
        False when no source has a stage history (a snapshot).

    Returns
    -------
    int
        The score, 1-4.

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


@shared_docs
def measured_factors(engagement: Engagement, *, audit: AuditResult | None = None,
                     funnel_frame: pd.DataFrame | None = None) -> dict[str, tuple[int, str]]:
    """The factors the data shows, with the basis of each score.

    - ``number_of_kpis`` from the engagement's KPI set (declared, or the default set);
    - ``starting_situation`` from the data audit (:func:`score_starting_situation`);
    - ``strengths_weaknesses`` from the raw funnel's step conversions against the low end of
      the published benchmark (:func:`strengths_weaknesses_score`), when the engagement maps its
      phases to the benchmark (``benchmark_stages``); without a benchmark it is not measured.

    Step 1 runs first, so the strengths and weaknesses are read from the raw funnel (open
    records counted as not converted, so a little low), not from step 5's diagnosis.

    Parameters
    ----------
    {shared.engagement}
    audit : AuditResult, optional
        Step 1's audit (``toolkit.measure.audit.audit``); computed here without it.
    funnel_frame : DataFrame, optional
        Step 1's raw funnel (``toolkit.measure.funnel.funnel``); computed here without it.

    Returns
    -------
    dict of str to (int, str)
        ``{factor: (score, basis)}`` for each factor measured.
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


@shared_docs
def factors_for(engagement: Engagement, *, audit: AuditResult | None = None,
                funnel_frame: pd.DataFrame | None = None) -> DurationFactors:
    """The engagement's duration factors: measured where the data shows them
    (:func:`measured_factors`), the rest as scored under ``duration_factors:`` in its YAML.

    A factor neither measured nor scored is not scored (None), and then no duration is
    estimated. A YAML score for a measured factor is not used (the note says so): one fact,
    computed once.

    Parameters
    ----------
    {shared.engagement}
    audit : AuditResult, optional
        Step 1's audit (``toolkit.measure.audit.audit``); computed here without it.
    funnel_frame : DataFrame, optional
        Step 1's raw funnel (``toolkit.measure.funnel.funnel``); computed here without it.

    Returns
    -------
    DurationFactors
        The five factors, each with its score (or None), basis and note.

    Raises
    ------
    ConfigError
        ``duration_factors:`` is no mapping of factor to score, names no factor, or holds a
        score that is not a whole number 1-5.
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


