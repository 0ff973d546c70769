"""Parameter descriptions that many docstrings share, written once (seaborn's `_docstrings.py`).

A docstring names one on a line of its own, ``{shared.ax}``, and :func:`shared_docs` puts the
description there, indented as the placeholder, so "ax" or "confidence" read the same in every
function that takes them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["SHARED", "shared_docs", "fill_shared"]

_T = TypeVar("_T", bound=Callable[..., Any])

#: The shared descriptions by name, each a numpydoc parameter entry ("name : type" and its text).
SHARED: dict[str, str] = {
    # figures (toolkit.present.plotting)
    "ax": """\
ax : matplotlib Axes, optional
    Where to draw; with None a new figure is made, of a size that suits the content.""",
    "phase_model": """\
phase_model : PhaseModel, optional
    When given, phase keys are shown as the model's labels (``engagement.phase_model``).""",
    "title": """\
title : str, optional
    Replaces the default title. The default titles state what the reader should see; the
    subtitle says what the marks mean.""",
    "language": """\
language : ``"en"`` or ``"nl"``, optional
    The language of the titles, axis labels and legends (the message catalogue,
    ``toolkit.present.messages``) and of the numbers in them (36,1% and 1.234 in Dutch).
    Without it a figure is drawn in the language of an enclosing ``drawing_language`` block
    (the report's), else in English.""",
    # reading a source (toolkit.io.loading)
    "settings": """\
settings : SourceSettings
    The source's settings as :func:`toolkit.io.loading.resolve_source` returns them (the YAML
    with its preset's defaults, typed and frozen).""",
    "file": """\
file : str
    The file's path as the YAML names it, named in every error and note.""",
    "key": """\
key : str
    The YAML key the columns are declared under (``sources[deals].columns``), named in every
    error so the reader knows where to fix it.""",
    "notes": """\
notes : list of str, optional
    Where a sentence on what was done to the data (an encoding, a folded spelling) is
    appended; None: not kept.""",
    "model": """\
model : PhaseModel
    The engagement's phases in order (``engagement.phase_model``).""",
    # statistics (toolkit.stats)
    "confidence": """\
confidence : float
    Two-sided confidence level, strictly between 0 and 1 (0.95: a 95% interval).""",
    "alpha": """\
alpha : float
    Significance level of the test, strictly between 0 and 1.""",
    "power": """\
power : float
    Target power (the probability of detecting the difference), e.g. 0.8.""",
    "ratio": """\
ratio : float
    ``n2 / n1``, the second group's size over the first's (1 = equal groups).""",
    "alternative": """\
alternative : ``"two-sided"`` or ``"one-sided"``
    ``"one-sided"`` tests in the direction of the true difference.""",
    # the engagement and the steps (toolkit.steps, toolkit.measure, toolkit.analysis)
    "engagement": """\
engagement : Engagement
    A loaded engagement (``Engagement.from_yaml`` or ``toolkit.steps.open_engagement``): its
    ``events``, ``records``, phase model and YAML settings. Not modified.""",
    "seed": """\
seed : int, default 0
    The seed of every random draw, a whole number >= 0 (None is refused: a result that does
    not reproduce cannot be defended); the same seed gives the same result.""",
    "step_result": """\
StepResult
    The step's named tables, result objects and figures (``result.draw(name)``), the
    ``problems`` that stopped a part (with the reason), a ``summary`` frame, the one-line
    ``headline``, the workbook sheets it contributes and its ``conclusions()``.""",
    "by": """\
by : str or list of str, optional
    Segment attributes (columns of ``engagement.records``) to split by: one row per
    combination of their values, a missing value as the segment ``(missing)``. None: no split.""",
    "period": """\
period : str or None
    The granularity of the periods: ``"month"``, ``"quarter"``, ``"year"``, ``"week"``, or
    ``"all"``/None for one period over all records (``toolkit.base.vocabulary.PERIODS``).""",
    "window_days": """\
window_days : int, optional
    The cohort window in days: a record converts when it reaches the next phase within it;
    records reaching the phase less than a window before the as-of date are immature and left
    out. Default the engagement's ``cohort_window_days``.""",
    "ci_method": """\
method : str, default "wilson"
    The interval of every rate: a method of ``toolkit.stats.rate_ci`` (``wilson``,
    ``jeffreys``, ``clopper-pearson``, ``agresti-coull``, ``wald``).""",
    "transition": """\
from_phase, to_phase : str, optional
    One transition by its phase keys; default every consecutive pair of the phase model.
    `to_phase` may be any later phase (first to last: the cumulative conversion).""",
    "draws": """\
draws : int
    The number of Monte Carlo draws of the ranges.""",
    "kpi_frame": """\
kpis : DataFrame
    The tidy KPI frame of ``compute_kpis``: one row per KPI per period with the columns ``kpi,
    period, n, successes, value, ci_low, ci_high, target, higher_is_better``; ``period`` sorts.
    Rates carry ``n`` and ``successes``; other KPIs (durations, values) leave them missing and
    carry their uncertainty in ``ci_low``/``ci_high``. Not modified.""",
    "run_states": """\
previous, current : dict
    Two run states (``toolkit.analysis.run_state.run_state``, read back with
    ``read_run_state``): the previous run's and this one's.""",
    "results": """\
results : mapping of int to StepResult
    This run's step results by step number (``toolkit.steps.run_all``).""",
    # diagnosis and simulation (toolkit.analysis)
    "benchmarks": """\
benchmarks : DataFrame, optional
    A benchmark table (``toolkit.measure.benchmarks.benchmarks_for``): ``from_phase, to_phase,
    low, typical, high, source`` (rates 0-1; ``low``, ``high`` and ``source`` may be missing);
    ``typical`` is the reference rate. Rows whose phases are not a consecutive transition of
    the engagement are ignored with a warning.""",
    "targets": """\
targets : dict, optional
    Name -> number, as ``targets:`` in the YAML: ``conversion_<from>_<to>`` (a target rate
    0-1 of one consecutive transition), ``orders_per_month``, ``revenue_per_year``; other
    names are left alone. Default ``engagement.config.targets``.""",
    "rates": """\
rates : mapping, optional
    Planned step conversions, a mapping from a step to a new rate. A step is written
    ``"lead->opportunity"`` or ``("lead", "opportunity")`` and must be two consecutive
    phases. The value is a float between 0 and 1 (the **absolute** planned rate, 0.40 = 40%,
    taken as given), ``"40%"`` (the same as a percentage), ``"+5pp"``/``"-2pp"`` (a change in
    **percentage points** on the baseline rate) or ``"+10%"``/``"-10%"`` (a **relative**
    change: 0.30 -> 0.33). A change relative to the baseline inherits the baseline's
    uncertainty in the Monte Carlo; an absolute planned rate is a target and carries none.""",
    "volumes": """\
volumes : mapping of str to float, optional
    Multipliers of the entries into a phase, e.g. ``{"target": 1.2}`` for 20% more targets. A
    multiplier on a later phase means extra (or fewer) entries straight into that phase, e.g.
    more referrals entering at ``lead``; every phase after it scales along.""",
    # time to convert (toolkit.measure.survival)
    "durations": """\
durations : 1-D array of float
    Non-negative: the time from the start of the spell to its end (the event or, for a
    censored record, the as-of date), usually in days.""",
    "observed": """\
observed : 1-D array of bool
    Same length as `durations`: True where the spell ended in the event of interest, False
    where it is censored at that time. For time to convert: ``event == "converted"``.""",
    "event": """\
event : 1-D array of str
    Same length as `durations`: which outcome ended the spell (``converted``, ``lost``), or
    ``censored`` for a record still open at the as-of date.""",
    # words and numbers of a table (toolkit.present.tables)
    "fmt": """\
fmt : Formatter
    The one formatter (``toolkit.present.format``) in the report's language.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{shared\.(?P<name>\w+)\}[ \t]*$", re.MULTILINE)


def fill_shared(doc: str | None) -> str | None:
    """A docstring with its ``{shared.NAME}`` lines replaced by the shared descriptions.

    Parameters
    ----------
    doc : str or None
        The docstring as written.

    Returns
    -------
    str or None
        The docstring with each placeholder line replaced by ``SHARED[NAME]``, indented as the
        line was; None stays None.

    Raises
    ------
    KeyError
        A placeholder names no shared description (a typo would otherwise reach the reader).
    """
    if doc is None:
        return None

    def description(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in SHARED:
            raise KeyError(f"The docstring names `{{shared.{name}}}`, but there is no shared "
                           f"description of that name; known: {sorted(SHARED)}.")
        return textwrap.indent(SHARED[name], match["indent"])

    return _PLACEHOLDER.sub(description, doc)


def shared_docs(function: _T) -> _T:
    """Decorator: fill the shared descriptions into `function`'s docstring (see
    :func:`fill_shared`), once, when the module is imported.

    Parameters
    ----------
    function : callable
        A function whose docstring may hold ``{shared.NAME}`` lines.

    Returns
    -------
    callable
        The same function, its ``__doc__`` filled.
    """
    function.__doc__ = fill_shared(function.__doc__)
    return function
