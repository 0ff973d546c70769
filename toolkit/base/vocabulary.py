"""The toolkit's words, fixed once: column names, periods, the missing label, the minimum n, the
status and quarantine-reason codes with their prose, the option validator and the seed rule.

Codes are for machines, prose is for people: a result carries a categorical code column
(``status_code``, ``reason_code``) beside its sentence, and code decides on the code, never by
matching the sentence (a sentence may be reworded or translated; a code never changes).

``period`` has one meaning as an argument: a granularity (``"month"``, ``"quarter"``, ...). A column
named ``period`` holds the label of one period (``"2025-03"``, ``"2025Q1"``, ``"all"``); an argument
that picks one such period is ``period_label`` (two compared periods: ``period_a``, ``period_b``), an
argument that names the column holding the labels is ``period_column``. No argument is a pandas
frequency (``freq``): the granularity's frequency is :data:`PERIOD_FREQ`'s.

``by`` names segment columns only (an attribute or a list of them). A choice of which date puts a
record in a cohort is ``cohort`` (``"reached"``, ``"created"``), never ``by``.

Counts are ``successes`` and ``trials``: as arrays (``rate_ci(successes, trials)``) and as the names
of the columns that hold them (``successes="successes", trials="n"``: a tidy frame's trials column
is ``n``, DESIGN.md's column vocabulary). ``n`` as an argument is a sample size only, in the power
functions (records per group) and ``phase_palette(n)`` (colours); a number of generated records is
``n_records``.

Every plot function returns the Axes it drew on; a plot of two panels returns both (an ``AxesPair``).

A function that draws random numbers takes ``seed``: a whole number >= 0, a ``SeedSequence`` or a
``Generator`` (:data:`Seed`, read by :func:`seed_sequence` and :func:`random_generator`). A run
hands each part that draws its own stream (:func:`stream`, :data:`STREAMS`), so results shown side
by side never share their draws.

A wrong argument raises :class:`~toolkit.base.exceptions.OptionError` (a ValueError) for a wrong
value or ``TypeError`` for a wrong type; the other ``ToolkitError`` subclasses are about the data
(``DataError``) and the engagement's files (``ConfigError``).
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pandas as pd

from toolkit.base.exceptions import OptionError
from toolkit.base.findings import Finding, english

__all__ = [
    "COLUMNS", "PERIODS", "PERIOD_FREQ", "PERIOD_DAYS", "MISSING", "MIN_N",
    "STATUSES", "STATUS_ON_TARGET", "STATUS_SIGNIFICANT", "STATUS_NOT_SIGNIFICANT",
    "STATUS_TOO_FEW", "STATUS_UNJUDGED", "REASONS", "PROBLEMS", "JUDGEMENTS", "Reason",
    "status_prose",
    "status_codes", "reason_of",
    "reason_codes", "codes_table", "check_option", "check_seed",
    "Seed", "STREAMS", "seed_sequence", "random_generator", "child_sequence", "stream",
]

#: The column vocabulary of every tidy result (DESIGN.md): the same name means the same thing in
#: every frame. Segments are long: ``attribute`` names the record attribute (``action``, ``region``),
#: ``segment`` its value.
COLUMNS = ("phase", "from_phase", "to_phase", "attribute", "segment", "period", "n", "successes",
           "rate", "ci_low", "ci_high", "p_value", "p_adjusted")

#: Period granularities (the argument ``period``) and their pandas frequency; ``all`` is one period
#: over the whole history.
PERIOD_FREQ: dict[str, str | None] = {"month": "M", "quarter": "Q", "year": "Y", "week": "W",
                                      "all": None}
PERIODS = tuple(PERIOD_FREQ)
#: Average length of a period in days (a year of 365.25 days).
PERIOD_DAYS = {"week": 7.0, "month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}

#: The label of a missing segment value; in a scan it is a data-quality finding, not a fruit.
MISSING = "(missing)"

#: Fewest records (trials) for a rate to be judged: below it a result says "too few records to
#: conclude" instead of a claim.
MIN_N = 30

# --------------------------------------------------------------------------------- status codes
#: Status of a KPI against its target: code -> the sentence a reader sees. ``below_*`` is the
#: wording for a KPI where higher is better, ``off_*`` the neutral wording (lower is better, and the
#: KPI table's status, which words both directions alike).
STATUSES: dict[str, str] = {
    "on_target": "on target",
    "on_target_too_few": "on target (too few records to conclude)",
    "below_target": "significantly below target",
    "below_target_not_significant": "below target, not significant",
    "below_target_unknown": "below target, significance unknown",
    "below_target_too_few": "below target (too few records to conclude)",
    "off_target": "significantly off target",
    "off_target_not_significant": "off target, not significant",
    "off_target_unknown": "off target, significance unknown",
    "off_target_too_few": "off target (too few records to conclude)",
    "no_target": "no target",
    "no_data": "no data",
}
#: Groups of status codes the readers of a scorecard decide on.
STATUS_ON_TARGET = frozenset({"on_target", "on_target_too_few"})
STATUS_SIGNIFICANT = frozenset({"below_target", "off_target"})
STATUS_NOT_SIGNIFICANT = frozenset({"below_target_not_significant", "off_target_not_significant"})
STATUS_TOO_FEW = frozenset({"on_target_too_few", "below_target_too_few", "off_target_too_few"})
STATUS_UNJUDGED = frozenset({"no_target", "no_data"})

# ---------------------------------------------------------------------- quarantine reason codes
#: Why a source row was set aside: code -> what it means. The row's own ``reason`` sentence says
#: the same with the column, row and (non-personal) value; ``reason_code`` is what code compares.
REASONS: dict[str, str] = {
    "blank_row": "blank row",
    "deleted": "deleted in the CRM",
    "missing_record_id": "missing record id",
    "duplicate_record": "duplicate record id (the first row is kept)",
    "duplicate_row": "duplicate of an earlier row (same record, stage and date)",
    "missing_stage": "missing stage",
    "unknown_stage": "unknown stage (not in stage_mapping)",
    "ignored_stage": "stage declared `ignore`",
    "ignored_record": "all of this record's stage rows are declared `ignore`",
    "won_reversed": "won stage reversed: the record's final state is not won",
    "missing_date": "missing date",
    "unparseable_date": "unparseable date",
    "implausible_year": "date with a year no CRM date has (e.g. 9999)",
    "date_before_1990": "date before 1990-01-01",
    "date_after_as_of": "date after the as-of date (or today)",
    "no_stage_date": "no date in any stage column",
    "unparseable_number": "unparseable number",
    "unknown_status": "status not won, lost or open",
    "closed_before_created": "closed date before the created date",
    "unknown_lost_stage": "lost-at stage not in stage_mapping",
    "orphan_record": "record id not in the source this source adds phases to",
    "missing_key": "missing lookup key",
    "duplicate_key": "repeated lookup key (the first row is kept)",
}


# ------------------------------------------------------------------------------- problem codes
#: Why a part of a step could not be computed: code -> what it means. A step's `problems` hold
#: :class:`Reason` sentences that carry one of these codes (or none, for a reason no code names
#: yet), so a report writes the reason in its own language from the code and the values.
PROBLEMS: dict[str, str] = {
    "needs_dates": "needs dates, and the records have none (a lead list without dates)",
    "no_usable_records": "no record could be used",
    "no_action_attribute": "the records have no `action` attribute",
    "action_plan_needs_fruit": "the action plan is written from step 5's ranked list",
    "no_demonstrated_gap": "step 5 demonstrated no gap (no range of extra orders above zero), so "
                           "there is no action to plan",
    "no_comparable_step": "no transition has enough mature records to compare with a reference",
    "no_bottleneck": "no bottleneck could be sized (the reason beside it)",
    "no_order_target": "no `orders_per_month` target",
    "no_change_declared": "no process change is declared under `changes:`",
    "factors_not_scored": "a duration factor is not scored, so no duration is estimated",
    "change_no_records": "a declared change whose from-phase no record has reached",
    "change_not_mature": "a declared change without mature records on both sides of its date",
    "no_mature_month": "no month has mature records yet",
    "no_steering_step": "no conversion to steer on could be chosen",
    "no_period_report": "no period report without a conversion to steer on (the reason beside it)",
    "no_judgeable_month": "no month of the steering conversion can be judged yet",
    "changes_not_evaluated": "several declared changes could not be evaluated (the reasons "
                             "beside it)",
    # why a scorecard shows a KPI's earlier month (its `note`)
    "kpi_not_judged": "the latest month is not judged (the reason beside it)",
    "no_period_judged": "no month of the KPI can be judged yet",
    "no_value_yet": "no value yet",
    "inside_window": "records still inside their conversion window",
    "too_few_to_judge": "fewer records than a judgement needs",
    "no_scorecard": "no scorecard (the reason beside it)",
    # notes on the data a step keeps for the report (NoteWarning)
    "snapshot_timing": "a snapshot source: phase entry dates are not in the data",
    "attribute_left_out": "an attribute with too many values was left out of the segment scan",
    "benchmarks_ignored": "benchmark rows that are no transition of the phase model were ignored",
    # why an attribute is not scanned: it leaks the outcome (toolkit.analysis.leakage)
    "filled_at_outcome": "filled in for one outcome only",
    "derived_from_outcome": "its values decide won or lost",
    "close_value": "the deal value is a close value (0 or blank for lost deals)",
    # why a quantity is n/a: the data lack what it needs (toolkit.measure.kpis.NEEDS)
    "no_amounts": "the records have no amounts (no value column, or every value blank)",
    "no_lost_records": "the data hold no lost record (the export or its shape cannot hold them)",
    "no_distinct_times": "the transitions carry no distinct timestamps (every row of a step at "
                         "one instant)",
    "no_time_of_day": "the timestamps are dates without a time of day",
    # why a transition is not in the segment scan (nothing varies there)
    "scan_everyone_converts": "every record that reached the phase converts at this step",
    "scan_nobody_converts": "no record that reached the phase converts at this step",
    # why step 6 sizes no test of the bottleneck: its rate leaves the power calculation no room
    "test_everyone_converts": "every record that reached the phase converts at the bottleneck "
                              "step, so no test can show it rising",
    "test_nobody_converts": "no record that reached the phase converts at the bottleneck step, "
                            "so no test can be sized from it",
    "test_uplift_too_large": "the improvement to test would take the bottleneck's rate past 100% "
                             "(or below 0%)",
    "change_no_control": "a declared change whose comparison group holds no record",
}

#: How the segment scan judged a segment (its ``judgement`` column): code -> what it means. The
#: codes after ``no_clear_difference`` are the scan's "not judged", each with its reason.
JUDGEMENTS: dict[str, str] = {
    "flagged": "differs from the typical segment (adjusted across the scan)",
    "no_clear_difference": "no clear difference from the typical segment",
    "typical": "the typical segment of its attribute",
    "data_quality": "no value: a data-quality finding, not a segment to act on",
    "too_few_records": "not judged: fewer records than a judgement needs",
    "only_segment": "not judged: the only segment of its attribute at this step",
    "no_comparison": "not judged: no other segment with enough records to compare with",
    "model_not_converged": "not judged: the model did not converge, so it gives no p-value",
}


class Reason(Finding):
    """Why a part could not be computed: a :class:`~toolkit.base.findings.Finding` whose ``code`` is
    a key of :data:`PROBLEMS`, with the ``values`` its sentence names (phase keys, dates, counts, an
    inner Reason), so that a report in another language writes it from the code, not by
    translating the sentence.

    ``Reason(text, code, values)`` keeps the sentence the library wrote; :meth:`of` writes it from
    the code. Code compares ``reason.code``; anything that wants the English text uses it as a str.
    """

    def __new__(cls, text: str, code: str, values: Mapping[str, Any] | None = None) -> Reason:
        if code not in PROBLEMS:  # a programming error: every code the toolkit writes is listed
            raise KeyError(f"problem code not in the vocabulary: {code!r}")
        self = Finding.__new__(cls, code, values, text=text)
        assert isinstance(self, Reason)
        return self

    @classmethod
    def of(cls, code: str, values: Mapping[str, Any] | None = None) -> Reason:
        """The reason of `code`, its English sentence written from the code and `values`."""
        return cls(english(code, dict(values or {})), code, values)

    def __repr__(self) -> str:
        return f"Reason({str(self)!r}, code={self.code!r})"


def reason_of(error: BaseException) -> str:
    """The reason an error gives.

    Parameters
    ----------
    error : BaseException
        The error.

    Returns
    -------
    str
        A :class:`Reason` when the error carries a problem code (``NeedsDates``), else its
        plain English sentence.
    """
    code = getattr(error, "code", None)
    if code in PROBLEMS:
        return Reason(str(error), code, getattr(error, "values", None))
    return str(error)

def status_prose(codes: Iterable[str]) -> list[str]:
    """The sentences of status codes.

    Parameters
    ----------
    codes : iterable of str
        Status codes (``STATUSES``).

    Returns
    -------
    list of str
        Their English sentences, in order.
    """
    return [STATUSES[code] for code in codes]


def _categorical(values: Any, table: Mapping[str, str], index: Any = None) -> pd.Series:
    series = pd.Series(values, index=index, dtype="object")
    unknown = set(series.dropna()) - set(table)
    if unknown:  # a programming error: every code the toolkit writes is in the table
        raise KeyError(f"codes not in the vocabulary: {sorted(unknown)}")
    return series.astype(pd.CategoricalDtype(list(table)))


def status_codes(values: Any, index: Any = None) -> pd.Series:
    """Status codes as the categorical column ``status_code``.

    Parameters
    ----------
    values : array_like of str
        The codes.
    index : Index, optional
        The Series' index.

    Returns
    -------
    Series
        Categorical, every code of ``STATUSES`` a category.
    """
    return _categorical(values, STATUSES, index)


def reason_codes(values: Any, index: Any = None) -> pd.Series:
    """Reason codes as the categorical column ``reason_code``.

    Parameters
    ----------
    values : array_like of str
        The codes.
    index : Index, optional
        The Series' index.

    Returns
    -------
    Series
        Categorical, every code of ``REASONS`` a category.
    """
    return _categorical(values, REASONS, index)


def codes_table() -> pd.DataFrame:
    """Every code with its English prose.

    Returns
    -------
    DataFrame
        ``kind`` (status/reason), ``code``, ``prose``.
    """
    rows = [("status", code, prose) for code, prose in STATUSES.items()]
    rows += [("reason", code, prose) for code, prose in REASONS.items()]
    return pd.DataFrame(rows, columns=["kind", "code", "prose"])


# ---------------------------------------------------------------------------- option validation
_T = TypeVar("_T")


def _same(value: object, allowed: object) -> bool:
    # True == 1 in Python: an option is matched by type as well, so `method=True` is refused.
    if isinstance(value, str) or isinstance(allowed, str):
        return isinstance(value, str) and isinstance(allowed, str) and value == allowed
    if isinstance(value, bool) != isinstance(allowed, bool):
        return False
    try:
        return bool(value == allowed)
    except (TypeError, ValueError):
        return False


def check_option(name: str, value: Any, allowed: Iterable[_T], *, fix: str | None = None) -> _T:
    """The one validator of a choice-valued option (a method, a period, a phase key, ...).

    Parameters
    ----------
    name : str
        The argument's name, for the error.
    value : object
        What was passed.
    allowed : iterable
        The allowed values.
    fix : str, optional
        The fix the error gives; default the closest allowed value when there is one, else
        the list of them.

    Returns
    -------
    object
        The allowed value `value` equals.

    Raises
    ------
    OptionError
        Naming the argument, the allowed values, what was passed and the fix.
    """
    choices = list(allowed)
    for choice in choices:
        if _same(value, choice):
            return choice
    if fix is None:
        close = difflib.get_close_matches(value, [c for c in choices if isinstance(c, str)], n=1) \
            if isinstance(value, str) else []
        fix = f"did you mean {close[0]!r}?" if close else f"use one of {choices}"
    raise OptionError(f"The value for `{name}` must be one of {choices}, but {value!r} was passed",
                      fix=fix)


def check_seed(seed: Any) -> int:
    """The seed rule, the same in every function that draws random numbers.

    ``None`` is refused everywhere (a result that does not reproduce is not a result a
    consultant can defend), and so are a Generator and a bool.

    Parameters
    ----------
    seed : object
        What was passed.

    Returns
    -------
    int
        The seed, for ``numpy.random.default_rng`` or ``numpy.random.SeedSequence``.

    Raises
    ------
    OptionError
        `seed` is not a whole number >= 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise OptionError(f"The value for `seed` must be a whole number >= 0, but {seed!r} was "
                          "passed", fix="pass e.g. seed=0 so the result reproduces")
    return int(seed)



# ------------------------------------------------------------------------------ random streams
#: What a function that draws random numbers accepts as ``seed``: a whole number >= 0 (the run's
#: seed), a ``numpy.random.SeedSequence`` (a stream handed down by the run) or a
#: ``numpy.random.Generator`` (drawn from, so two calls on one Generator draw different numbers).
Seed: TypeAlias = int | np.random.SeedSequence | np.random.Generator

#: The parts of a run that draw random numbers. Each draws from a stream of its own: the child of
#: the run's ``SeedSequence(seed)`` at its place in this tuple (:func:`stream`), so parts shown side
#: by side never share their draws, the same seed gives the same results, and a part keeps its
#: stream whichever parts run before it. Append a new part at the end (a new place moves no stream).
STREAMS = (
    "kpis",      # the Monte Carlo interval of sales velocity (steps 3 and 4: one value)
    "sizing",    # the bottleneck sizing and the ranked fruit (step 5; steps 6 and 7 reuse it)
    "scenario",  # the what-if of the top bottleneck (step 6)
    "required",  # the volume an order target needs (step 6)
)


def seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """The seed rule of every function that draws random numbers, as a ``SeedSequence``.

    Parameters
    ----------
    seed : int, SeedSequence or Generator
        A whole number >= 0 (:func:`check_seed`) becomes ``SeedSequence(seed)`` (the stream
        ``default_rng(seed)`` draws from); a SeedSequence is used as it is; a Generator gives a
        sequence seeded from its next draws (the caller's stream moves on).

    Returns
    -------
    SeedSequence
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence([int(v) for v in seed.integers(0, 2**32, size=4)])
    return np.random.SeedSequence(check_seed(seed))


def random_generator(seed: Seed) -> np.random.Generator:
    """The Generator a function draws from.

    Parameters
    ----------
    seed : int, SeedSequence or Generator
        A Generator is used as it is; anything else through :func:`seed_sequence` (for a whole
        number the same draws as ``default_rng(seed)``).

    Returns
    -------
    Generator
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed))


def child_sequence(seed: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """Child `k` of `seed`, without counting a spawn on `seed`.

    Parameters
    ----------
    seed : SeedSequence
        The parent sequence.
    k : int
        Which child: the one ``seed.spawn(k + 1)[k]`` gives a fresh sequence (asking twice
        gives the same child).

    Returns
    -------
    SeedSequence
    """
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k),
                                  pool_size=seed.pool_size)


def stream(seed: Seed, part: str) -> np.random.SeedSequence:
    """The stream of one part of a run.

    Parameters
    ----------
    seed : int, SeedSequence or Generator
        The run's seed (:func:`seed_sequence`).
    part : str
        A name of :data:`STREAMS`: the child of the run's sequence at the part's place.

    Returns
    -------
    SeedSequence
    """
    check_option("part", part, STREAMS)
    return child_sequence(seed_sequence(seed), STREAMS.index(part))
