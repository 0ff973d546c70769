"""One cell of a shown table: the cell and table types, and the renderers of a column that
shows a value, an interval, a unit, a phase, a code or a file."""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from toolkit.analysis.planning import advice_texts
from toolkit.base.phases import PhaseModel
from toolkit.present.format import MISSING, Formatter, Kind, is_missing
from toolkit.present.tables.words import CODES, N_, attribute_label, code_text, not_measured, status_tone

__all__ = [
    "Cell",
    "DisplayTable",
]


@dataclass(frozen=True)
class Cell:
    """One shown cell: its text and its kind (``num`` right-aligned, ``text``, or a status tone
    ``good``/``bad``/``warn``/``none`` that colours it)."""

    text: str
    kind: str = "text"


@dataclass
class DisplayTable:
    """A table ready to show: translated headers, formatted cells, and a note (rows left out)."""

    headers: list[str]
    rows: list[list[Cell]]
    numeric: list[bool]
    note: str = ""
    wide: bool = field(default=False)

    def to_frame(self) -> pd.DataFrame:
        """The shown table as a DataFrame of strings (headers as columns, no meaningful index)."""
        return pd.DataFrame([[c.text for c in row] for row in self.rows], columns=self.headers)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True)


# the readiness scan's advice per factor and band (its text is marked for the catalogue there)
CODES.update(advice_texts())
# the action plan: the horizon of an action and the consultant's status of it
CODES.update({
    "short_term": N_("short term"), "structural": N_("structural (redesign)"),
    "proposed": N_("proposed"), "agreed": N_("agreed"), "started": N_("started"),
    "done": N_("done"), "dropped": N_("dropped"),
})


# ------------------------------------------------------------------------------ the columns
@dataclass(frozen=True)
class CellContext:
    fmt: Formatter
    phases: PhaseModel | None
    labels: Mapping[str, str]
    attributes: Mapping[str, str] = field(default_factory=dict)  # attribute -> column header

    def attribute(self, name: object) -> str:
        return attribute_label(name, self.fmt, self.attributes)

    def phase(self, key: object) -> str:
        if is_missing(key):
            return MISSING
        key = str(key)
        if key in self.labels:
            return self.labels[key]
        if self.phases is not None and key in self.phases.keys:
            return self.phases.label(key)
        return key


Render = Callable[[pd.Series, CellContext], Cell]


@dataclass(frozen=True)
class Column:
    header: str                 # English msgid
    needs: tuple[str, ...]      # the frame's columns it reads (all must be there; "a|b": either)
    render: Render


def has_column(columns: Container[Any], need: str) -> bool:
    """Whether `columns` hold `need`, or one of its alternatives `a|b`."""
    return any(name in columns for name in need.split("|"))


def _get(row: pd.Series, names: str) -> Any:
    """The value of the first of "a|b" the row has (a column's current or earlier name)."""
    for name in names.split("|"):
        if name in row.index:
            return row[name]
    return None


def value_in_cell(row: pd.Series, value: str, period: str, c: CellContext) -> Cell:
    """'54,4% (juni 2026)': a KPI value with the month it was measured in."""
    if is_missing(row.get(value)):
        return Cell(MISSING, "num")
    kind: Kind = "percent" if bool(row.get("is_rate", True)) else "number"
    return Cell(f"{c.fmt.value(row[value], kind)} ({c.fmt.period(row.get(period))})", "num")


def plain_cell(column: str, kind: Kind) -> Render:
    numeric = kind not in ("text", "date", "month", "period")

    measured = column not in _NOT_MEASURES  # a count or target beside it is no measurement

    def render(row: pd.Series, c: CellContext) -> Cell:
        absent = (not_measured(row, c.fmt) if measured and is_missing(row[column]) else None)
        return Cell(absent or c.fmt.value(row[column], kind), "num" if numeric else "text")
    return render


#: Columns that carry no measurement of their own: they stay blank where the value is n/a.
_NOT_MEASURES = frozenset({"n", "target", "immature_n", "open_n", "successes"})


def interval_cell(value: str, low: str, high: str, kind: Kind) -> Render:
    def render(row: pd.Series, c: CellContext) -> Cell:
        absent = not_measured(row, c.fmt) if is_missing(row[value]) else None
        return Cell(absent or c.fmt.interval(row[value], _get(row, low), _get(row, high), kind),
                    "num")
    return render


def _kind_of_unit(unit: object) -> Kind:
    unit = "" if is_missing(unit) else str(unit)
    if unit == "%":
        return "percent"
    if unit == "days":
        return "days"
    money = unit.split("/", 1)[0]
    if len(money) == 3 and money.isupper():  # a currency code: the engagement's amounts
        return "amount"
    return "number"


#: What a value in a unit per period is followed by ("EUR/month": "€ 121.563 per maand").
_PER_UNIT = {"month": N_("per month"), "year": N_("per year"), "week": N_("per week")}


def _unit_suffix(unit: object, fmt: Formatter) -> str:
    unit = "" if is_missing(unit) else str(unit)
    if unit == "x":  # a ratio: pipeline coverage
        return "×"
    per = unit.split("/", 1)[1] if "/" in unit else ""
    return " " + fmt.gettext(_PER_UNIT[per]) if per in _PER_UNIT else ""


def unit_value_cell(column: str) -> Render:
    def render(row: pd.Series, c: CellContext) -> Cell:
        text = c.fmt.value(row[column], _kind_of_unit(row.get("unit")))
        if text == MISSING:
            measured = column not in _NOT_MEASURES
            return Cell((measured and not_measured(row, c.fmt)) or text, "num")
        return Cell(text + _unit_suffix(row.get("unit"), c.fmt), "num")
    return render


def unit_interval_cell(value: str, low: str, high: str) -> Render:
    def render(row: pd.Series, c: CellContext) -> Cell:
        kind = _kind_of_unit(row.get("unit"))
        shown = c.fmt.value(row[value], kind)
        if shown == MISSING:
            return Cell(not_measured(row, c.fmt) or shown, "num")
        text = shown + _unit_suffix(row.get("unit"), c.fmt)
        if not (is_missing(row[low]) and is_missing(row[high])):
            text += f" ({c.fmt.range(row[low], row[high], kind)})"
        return Cell(text, "num")
    return render


def measure_interval_cell(value: str, low: str, high: str) -> Render:
    """Step 6's scenario rows: `measure` says orders (a number) or revenue (an amount)."""
    def render(row: pd.Series, c: CellContext) -> Cell:
        kind: Kind = "amount" if str(row.get("measure")) == "revenue" else "number"
        bounds = _get(row, low), _get(row, high)
        if kind == "number":
            return Cell(c.fmt.interval(row[value], *bounds, "number", decimals=1), "num")
        return Cell(c.fmt.interval(row[value], *bounds, kind), "num")
    return render


def step_cell(row: pd.Series, c: CellContext) -> Cell:
    return Cell(f"{c.phase(row['from_phase'])} → {c.phase(row['to_phase'])}")


def phase_cell(column: str) -> Render:
    return lambda row, c: Cell(c.phase(row[column]))


def code_cell(column: str) -> Render:
    return lambda row, c: Cell(code_text(row[column], c.fmt))


def status_cell(column: str) -> Render:
    # the code decides the words and the colour; a frame without codes shows its prose uncoloured
    def render(row: pd.Series, c: CellContext) -> Cell:
        code = row.get("status_code")
        if is_missing(code):
            return Cell(code_text(row[column], c.fmt), "none")
        return Cell(code_text(code, c.fmt), status_tone(code))
    return render


def file_cell(column: str) -> Render:
    # a file by its name only: a machine's folders are no business of the reader
    return lambda row, c: Cell(MISSING if is_missing(row[column])
                               else os.path.basename(str(row[column])))


def listed_cell(column: str) -> Render:
    def render(row: pd.Series, c: CellContext) -> Cell:
        value = row[column]
        if isinstance(value, list | tuple):
            return Cell(", ".join(str(v) for v in value) or MISSING)
        return Cell(MISSING if is_missing(value) or str(value) == "" else str(value))
    return render


def yes_no_cell(column: str) -> Render:
    def render(row: pd.Series, c: CellContext) -> Cell:
        value = row[column]
        if is_missing(value):
            return Cell(MISSING)
        return Cell(c.fmt.gettext("yes") if bool(value) else c.fmt.gettext("no"))
    return render


def weeks_range_cell(row: pd.Series, c: CellContext) -> Cell:
    return Cell(f"{c.fmt.number(row['weeks'], 1)} ({c.fmt.range(row['weeks_low'], row['weeks_high'], 'number', decimals=1)})",  # noqa: E501
                "num")


def step_name_cell(row: pd.Series, c: CellContext) -> Cell:
    column = "step_name_nl" if c.fmt.language == "nl" else "step_name_en"
    return Cell(str(row[column]))
