"""The result of one method step: what it computed, what it could not, and what it concluded.

Every step function (`toolkit.steps.baseline` ... `toolkit.steps.steering`) returns one
:class:`StepResult`. The notebooks show it, the report renders it, the workbook takes its sheets
and the CLI prints from it: one computation, shown in several places.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from toolkit.base.vocabulary import check_option

__all__ = ["STEP_KEYS", "STEP_FIGURES", "STEP_TABLES", "SUMMARY_COLUMNS", "NotComputed",
           "StepResult", "summary_frame"]

#: The seven steps of the method, by number.
STEP_KEYS: Mapping[int, str] = MappingProxyType({
    1: "baseline", 2: "process_model", 3: "kpis", 4: "measurement", 5: "diagnosis",
    6: "improvement", 7: "steering"})

#: The tables each step can produce (its docstring lists the same): a name outside these is a typo,
#: which `StepResult.table` refuses with a suggestion, where a known name the data could not carry
#: is shown as not computed with its reason.
STEP_TABLES: Mapping[int, frozenset[str]] = MappingProxyType({
    1: frozenset({"reconciliation", "quarantine reasons", "audit", "funnel", "readiness scan",
                  "duration"}),
    2: frozenset({"phases", "stage mapping"}),
    3: frozenset({"kpi set", "kpi values", "kpi tree"}),
    4: frozenset({"kpis", "cohorts", "period conversion", "time to convert", "incidence",
                  "seasonality tests", "seasonality by month", "year over year"}),
    5: frozenset({"fruit", "step tests", "verdict evidence", "sizing", "segment scan",
                  "flagged segments", "action yield", "mix", "lost by phase", "stalled", "notes"}),
    6: frozenset({"bottleneck", "scenario", "scenario by phase", "required volume", "experiment",
                  "mde", "change verdicts", "changes", "action plan"}),
    7: frozenset({"monthly", "scorecard", "control chart", "alerts", "what changed"}),
})

#: The figures each step can draw (as its docstring lists them).
STEP_FIGURES: Mapping[int, frozenset[str]] = MappingProxyType({
    1: frozenset({"funnel", "timeline"}),
    2: frozenset({"process schema"}),
    3: frozenset({"kpi tree"}),
    4: frozenset({"cohort conversion", "cohort heatmap", "time to convert", "seasonality"}),
    5: frozenset({"bottlenecks", "segment scan", "mix vs rate"}),
    6: frozenset(),
    7: frozenset({"scorecard", "control chart"}),
})

#: The columns of every step's `summary`: one row per key result.
SUMMARY_COLUMNS = ("measure", "value", "ci_low", "ci_high", "n", "status")

# Rows of a table shown in a notebook's repr; the full table stays in `tables`.
_SHOWN_ROWS = 12


def summary_frame(rows: Sequence[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """The key results as a `summary` frame.

    Parameters
    ----------
    rows : sequence of mapping
        One mapping per measure, with any of the keys ``measure``, ``value``, ``ci_low``,
        ``ci_high``, ``n``, ``status``.

    Returns
    -------
    DataFrame
        ``measure, value, ci_low, ci_high, n, status``: a missing field is blank, the numbers
        are floats and ``n`` a nullable integer.
    """
    frame = pd.DataFrame(list(rows), columns=list(SUMMARY_COLUMNS))
    for column in ("value", "ci_low", "ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").round().astype("Int64")
    frame["measure"] = frame["measure"].astype(str)
    frame["status"] = frame["status"].astype(object).where(frame["status"].notna(), "")
    return frame


@dataclass(frozen=True)
class NotComputed:
    """What a notebook shows in place of a part the step could not compute: its name and why."""

    part: str
    reason: str

    def __repr__(self) -> str:
        return f"{self.part}: not computed. {self.reason}"

    def _repr_html_(self) -> str:
        return (f"<p><b>{html.escape(self.part)}</b>: not computed. "
                f"{html.escape(self.reason)}</p>")


def _read_only(value: Mapping | None, name: str, kind: type | None = None) -> Mapping:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise TypeError(f"StepResult.{name} must be a mapping of names, but a "
                        f"{type(value).__name__} was passed.")
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"StepResult.{name} must be keyed by names (str), but {key!r} was "
                            f"passed.")
        if kind is not None and not isinstance(item, kind):
            raise TypeError(f"StepResult.{name}[{key!r}] must be a {kind.__name__}, but a "
                            f"{type(item).__name__} was passed.")
    return MappingProxyType(dict(value))


@dataclass(frozen=True, repr=False, eq=False)
class StepResult:
    """One step's results.

    Attributes
    ----------
    step, key
        The step's number (1-7) and name (:data:`STEP_KEYS`).
    tables
        Named tables in display order: raw values, the library's column names.
    results
        Named result objects (e.g. ``"fruit"``: the ``LowHangingFruit`` of step 5), for a reader
        who wants more than the tables.
    figures
        Name -> ``draw(ax=None)`` returning the Axes (or the Figure of a multi-panel plot), drawn
        with ``toolkit.present.plotting`` from the results above; computes nothing.
    problems
        Part name -> why that part could not be computed (too little data, no target declared).
        A step never raises for a part; a bad engagement YAML still raises ``ConfigError``.
    summary
        The key results, one row each: ``measure, value, ci_low, ci_high, n, status``.
    headline
        The step's one-line finding, in English.
    sheets
        Workbook sheets this step contributes: sheet name -> table.
    conclusions_by_language
        The "what we concluded" sentences per language (Markdown-safe text); read them with
        :meth:`conclusions`.
    """

    step: int
    key: str
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    results: Mapping[str, object] = field(default_factory=dict)
    figures: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)
    summary: pd.DataFrame = field(default_factory=summary_frame)
    headline: str = ""
    sheets: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    conclusions_by_language: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if STEP_KEYS.get(self.step) != self.key:
            raise ValueError(f"A StepResult's step and key must be one of {dict(STEP_KEYS)}, but "
                             f"step={self.step!r}, key={self.key!r} was passed.")
        if not isinstance(self.summary, pd.DataFrame) or list(self.summary.columns) != list(
                SUMMARY_COLUMNS):
            got = (list(self.summary.columns) if isinstance(self.summary, pd.DataFrame)
                   else type(self.summary).__name__)
            raise TypeError(f"StepResult.summary must be a DataFrame with the columns "
                            f"{list(SUMMARY_COLUMNS)}, but {got} was passed. Fix: build it with "
                            f"summary_frame(rows).")
        if not isinstance(self.headline, str):
            raise TypeError(f"StepResult.headline must be a str, but a "
                            f"{type(self.headline).__name__} was passed.")
        set_ = object.__setattr__  # frozen: the mappings are fixed here, once, read-only
        set_(self, "tables", _read_only(self.tables, "tables", pd.DataFrame))
        set_(self, "results", _read_only(self.results, "results"))
        set_(self, "figures", _read_only(self.figures, "figures"))
        set_(self, "problems", _read_only(self.problems, "problems", str))
        set_(self, "sheets", _read_only(self.sheets, "sheets", pd.DataFrame))
        written = _read_only(self.conclusions_by_language, "conclusions_by_language")
        set_(self, "conclusions_by_language", MappingProxyType(
            {language: tuple(str(line) for line in text) for language, text in written.items()}))
        for name, draw in self.figures.items():
            if not callable(draw):
                raise TypeError(f"StepResult.figures[{name!r}] must be callable as draw(ax=None), "
                                f"but a {type(draw).__name__} was passed.")

    def __reduce__(self) -> tuple[Any, ...]:
        # the read-only mappings do not pickle; the fields rebuild them (`funnel run` hands the
        # results to its notebooks' kernels this way, see toolkit.steps.store)
        return (type(self), (self.step, self.key, dict(self.tables), dict(self.results),
                             dict(self.figures), dict(self.problems), self.summary, self.headline,
                             dict(self.sheets), {language: list(lines) for language, lines
                                                 in self.conclusions_by_language.items()}))

    def conclusions(self, language: str = "en") -> list[str]:
        """The "what we concluded" sentences (Markdown-safe: values from the data are escaped).

        Raises ``ConfigError`` naming the languages there are when `language` is not one of them.
        """
        language = check_option("language", language, sorted(self.conclusions_by_language))
        return list(self.conclusions_by_language[language])

    def table(self, name: str, *, problem: str | None = None) -> pd.DataFrame | NotComputed:
        """The table `name`, or what to show instead when the step could not compute it: the
        reason under `problems[problem]` (default `problems[name]`, else every problem).

        Raises ``KeyError`` with the nearest names when `name` is none this step can produce.
        """
        if name in self.tables:
            return self.tables[name]
        self._known(name, "table", STEP_TABLES.get(self.step, frozenset()) | set(self.tables))
        return NotComputed(name, self._why(name, problem))

    def draw(self, name: str, *, ax: Any = None, problem: str | None = None) -> Any:
        """Draw the figure `name` (its Axes or Figure), or say why there is none (NotComputed).

        Raises ``KeyError`` with the nearest names when `name` is none this step can draw.
        """
        if name in self.figures:
            return self.figures[name](ax=ax)
        self._known(name, "figure", STEP_FIGURES.get(self.step, frozenset()) | set(self.figures))
        return NotComputed(name, self._why(name, problem))

    def _known(self, name: str, kind: str, names: set[str] | frozenset[str]) -> None:
        if name in names:
            return
        near = difflib.get_close_matches(str(name), sorted(names), n=1, cutoff=0.6)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise KeyError(f"Step {self.step} ({self.key}) has no {kind} {name!r}.{hint} Its "
                       f"{kind}s are {sorted(names)}.")

    def _why(self, name: str, problem: str | None) -> str:
        key = problem or name
        if key in self.problems:
            return self.problems[key]
        if self.problems:
            return " ".join(f"{part}: {why}" for part, why in self.problems.items())
        return "this step's data hold nothing for it."

    def __repr__(self) -> str:
        return (f"StepResult(step={self.step}, key={self.key!r}, headline={self.headline!r}, "
                f"tables={list(self.tables)}, figures={list(self.figures)}, "
                f"problems={list(self.problems)})")

    def _repr_html_(self) -> str:
        """Headline, problems, tables (their first rows) and summary, for a notebook."""
        esc = html.escape
        parts = [f"<h4>Step {self.step} ({esc(self.key)}): {esc(self.headline)}</h4>"]
        if self.problems:
            items = "".join(f"<li><b>{esc(name)}</b>: {esc(why)}</li>"
                            for name, why in self.problems.items())
            parts.append(f"<p>Not computed:</p><ul>{items}</ul>")
        for name, table in self.tables.items():
            more = (f" (first {_SHOWN_ROWS} of {len(table):,} rows)"
                    if len(table) > _SHOWN_ROWS else "")
            parts.append(f"<p><b>{esc(name)}</b>{more}</p>"
                         + table.head(_SHOWN_ROWS).to_html(index=False, escape=True,
                                                           na_rep="", max_cols=20))
        parts.append("<p><b>summary</b></p>"
                     + self.summary.to_html(index=False, escape=True, na_rep=""))
        return "\n".join(parts)
