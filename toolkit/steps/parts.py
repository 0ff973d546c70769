"""What every step does alike: compute its parts (a part the data cannot carry becomes a stated
problem), take earlier steps' results instead of computing them again, and take the narrative's
sentences as it wrote them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError, ToolkitError
from toolkit.base.vocabulary import reason_of
from toolkit.io.engagement import Engagement
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.present.format import Formatter, formatter
from toolkit.present.messages import LANGUAGES
from toolkit.present.narrative import Bullets, plain
from toolkit.present.problems import problem_text
from toolkit.present.tables import N_
from toolkit.steps.result import STEP_KEYS, StepResult

if TYPE_CHECKING:
    from toolkit.analysis.diagnosis import LowHangingFruit

__all__ = ["Parts", "PART_NAMES", "part_name", "earlier", "figure", "in_languages", "sentences",
           "sizing_from"]

T = TypeVar("T")

#: The parts a step may fail to compute, as a reader names them (the step's part -> msgid).
PART_NAMES = {
    "audit": N_("audit"), "funnel": N_("funnel"), "duration": N_("duration estimate"),
    "cohorts": N_("cohorts"), "period conversion": N_("period conversion"),
    "time to convert": N_("time to convert"), "incidence": N_("conversion curves"),
    "seasonality": N_("seasonality"), "kpi tree": N_("KPI tree"),
    "fruit": N_("low-hanging fruit"), "action yield": N_("action yield"),
    "plan": N_("improvement plan"), "view": N_("steering view"),
    "bottleneck": N_("bottleneck"), "scenario": N_("scenario"),
    "required": N_("required volume"), "experiment": N_("test size"),
    "mde": N_("smallest detectable improvement"), "change": N_("before/after evaluation"),
    "card": N_("scorecard"), "chart": N_("control chart"), "report": N_("period report"),
}


@shared_docs
def part_name(part: str, fmt: Formatter) -> str:
    """A part of a step as a reader names it, in the formatter's language.

    Parameters
    ----------
    part : str
        The part's key (``funnel``, ``duration``, ...).
    {shared.fmt}

    Returns
    -------
    str
        The part's name in the formatter's language; an unknown key as it is.
    """
    return fmt.gettext(PART_NAMES[part]) if part in PART_NAMES else part


class Parts:
    """The problems of one step run: `attempt(part, compute)` returns the part, or None with the
    reason recorded under `problems[part]`.

    Only the toolkit's own errors about the data (too few records, nothing to compare) become
    problems. A bad engagement YAML (``ConfigError``) still raises, and so does a bug: a wrong
    argument (``OptionError``, a ConfigError and a ValueError; ``TypeError``) and every other
    Python error propagate, never a client-visible "not computed".
    """

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}

    def attempt(self, part: str, compute: Callable[[], T]) -> T | None:
        try:
            return compute()
        except ConfigError:
            raise
        except ToolkitError as exc:
            self.problems[part] = reason_of(exc)
            return None

    def sentences(self, language: str = "en") -> list[str]:
        """Each problem as a concluding sentence (plain text, as the narrative writes them), the
        part and the reason in `language` (the reason from its code: ``toolkit.present.problems``)."""
        fmt = formatter(language)
        return [fmt.gettext("No {part}: {why}").format(
                    part=part_name(part, fmt), why=plain(problem_text(why, fmt)))
                for part, why in self.problems.items()]

    def in_languages(self) -> dict[str, list[str]]:
        """:meth:`sentences` in every report language."""
        return in_languages(self.sentences)

    def note(self, part: str, reason: str | None) -> None:
        """Record why `part` is missing (a reason a library result gave), unless one is known."""
        if reason:
            self.problems.setdefault(part, reason)


def earlier(result: StepResult | None, key: str) -> StepResult | None:
    """An earlier step's result passed in as an option, checked to be that step's.

    Parameters
    ----------
    result : StepResult or None
        What the caller passed.
    key : str
        The step it must be (``baseline``, ``kpis``, ``diagnosis``, ...).

    Returns
    -------
    StepResult or None
        `result`, unchanged; None when none was passed.

    Raises
    ------
    TypeError
        `result` is another step's result or no StepResult.
    """
    if result is None:
        return None
    if not isinstance(result, StepResult) or result.key != key:
        got = (f"step {result.step} ({result.key})" if isinstance(result, StepResult)
               else f"a {type(result).__name__}")
        step = next(s for s, k in STEP_KEYS.items() if k == key)
        raise TypeError(f"The value for `{key}` must be the StepResult of step {step} ({key}), "
                        f"but {got} was passed. Fix: pass toolkit.steps.{key}(engagement).")
    return result


@shared_docs
def sizing_from(engagement: Engagement, diagnosis: StepResult | None
                ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The bottleneck sizing and the benchmarks of step 5's result, for the steps that build on
    the top bottleneck (6 and 7).

    Parameters
    ----------
    {shared.engagement}
    diagnosis : StepResult or None
        Step 5's result.

    Returns
    -------
    tuple of (DataFrame or None, DataFrame)
        The sizing (None without step 5's ranked list) and the benchmarks (the engagement's
        when `diagnosis` is None).

    Raises
    ------
    TypeError
        `diagnosis` is not step 5's StepResult.
    """
    step5 = earlier(diagnosis, "diagnosis")
    if step5 is None:
        return None, benchmarks_for(engagement)
    fruit = cast("LowHangingFruit | None", step5.results.get("fruit"))
    return (fruit.sizing if fruit is not None else None), step5.results["benchmarks"]


def figure(plot: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """A figure of a StepResult: `plot` bound to its (already computed) data, drawn on `ax=None`.

    Parameters
    ----------
    plot : callable
        A plot function of ``toolkit.present.plotting``.
    *args, **kwargs
        Its data and options.

    Returns
    -------
    callable
        ``plot`` with its arguments bound; called with ``ax=`` (and ``language=``) it draws.
    """
    return functools.partial(plot, *args, **kwargs)


def in_languages(write: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """The conclusions `write(language)` writes, for every report language: a StepResult's
    ``conclusions_by_language``.

    Parameters
    ----------
    write : callable
        Takes a language (``"en"``, ``"nl"``) and returns the sentences in it.

    Returns
    -------
    dict of str to list of str
        The sentences by language.
    """
    return {language: write(language) for language in LANGUAGES}


def sentences(conclusion: Bullets) -> list[str]:
    """The sentences of a narrative conclusion, as the narrative wrote them (its ``lines``: no
    Markdown is parsed back).

    Parameters
    ----------
    conclusion : Bullets
        What a function of ``toolkit.present.narrative`` returns.

    Returns
    -------
    list of str
        One sentence a line.

    Raises
    ------
    TypeError
        `conclusion` is no Bullets.
    """
    if not isinstance(conclusion, Bullets):  # a programming error: narrative writes Bullets
        raise TypeError(f"sentences() takes the Bullets a narrative function returns, not a "
                        f"{type(conclusion).__name__}")
    return list(conclusion.lines)
