"""The report rendered from the step results with Jinja templates: an executive summary as the index
page, then one page per step, in the engagement's language, as a `client` or a `training` edition.

Nothing is computed here that a step did not compute: the pages choose parts of the step results
(:mod:`toolkit.report.pages`), write every number through the one formatter and every sentence
through the message catalogue. The figures are the steps' own, drawn once and embedded as PNG, so
each page is one self-contained file that opens offline.

Editions:

- ``client``: what a consultant hands to a board. No code, no parameters, no exercises, no demo
  text, no machine paths.
- ``training``: the same pages plus, per step, the method notes and exercises of the step's
  notebook and the checks the notebook runs on its results.
"""

from __future__ import annotations

import base64
import io
import multiprocessing
import pickle
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError, OptionError, ToolkitError
from toolkit.base.version import VERSION as __version__
from toolkit.present.client import for_client
from toolkit.present.format import MISSING, Formatter, formatter, is_missing
from toolkit.present.hyphenation import hyphenate
from toolkit.present.messages import translations
from toolkit.present.narrative import verdict
from toolkit.present.plotting import drawing_language
from toolkit.present.problems import is_coded, problem_text
from toolkit.present.tables import DisplayTable, attribute_headers, code_text, display_table
from toolkit.report.pages import PAGES, STEP_PURPOSE, STEP_TITLES, Section
from toolkit.report.training import notebook_parts
from toolkit.steps.parts import part_name
from toolkit.steps.result import STEP_KEYS, StepResult

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup
    from matplotlib.figure import Figure

    from toolkit.analysis.diagnosis import LowHangingFruit
    from toolkit.base.phases import PhaseModel
    from toolkit.io.engagement import Engagement

__all__ = ["EDITIONS", "TEMPLATES_DIR", "FigureDrawing", "render_report", "step_page_name", "css_string",
           "kpi_fields", "page_environment"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
EDITIONS = ("client", "training")

# The figures keep the size their plot function gives them (their text is laid out for it); the
# page scales the image to its column.
_FIGURE_DPI = 110


def step_page_name(step: int) -> str:
    """The file of a step's page (as the notebooks' names).

    Parameters
    ----------
    step : int
        The step number, 1-7.

    Returns
    -------
    str
        E.g. ``01_baseline.html``.
    """
    return f"{step:02d}_{STEP_KEYS[step]}.html"


def css_string(text: str) -> str:
    """`text` as a CSS string literal: a value from the YAML (the client's name) in the print
    header can close neither the string nor the style element.

    Parameters
    ----------
    text : str
        The text.

    Returns
    -------
    str
        The quoted, escaped literal.
    """
    out = []
    for ch in str(text):
        if ch in '"\\' or ch in "<>&" or ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# --------------------------------------------------------------------------------- figures
def _figure_png(draw: Callable[..., Any], language: str = "en") -> str | None:
    """Draw one figure of a step result in `language`; its PNG as a data URI (None when it cannot
    be drawn)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with drawing_language(language):
            drawn = draw()
    except (ToolkitError, ValueError, KeyError, TypeError):
        _close_new(before)
        return None
    figure = drawn if hasattr(drawn, "savefig") else getattr(drawn, "figure", None)
    if figure is None:
        _close_new(before)
        return None
    _cut_long_texts(figure)
    buffer = io.BytesIO()
    # bbox "tight": a title longer than the axes (a long phase label) is kept, not cut off
    figure.savefig(buffer, format="png", dpi=_FIGURE_DPI, bbox_inches="tight", facecolor="white")
    _close_new(before)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_MAX_FIGURE_TEXT = 200  # characters of one text in a figure; the tables show the whole value


def _cut(text: object) -> str:
    text = str(text)
    return text if len(text) <= _MAX_FIGURE_TEXT else text[:_MAX_FIGURE_TEXT - 1] + "…"


def _cut_long_texts(figure: Figure) -> None:
    """Cut every text of `figure` (titles, legends, labels, and the tick labels its formatters
    make at drawing time) to _MAX_FIGURE_TEXT characters. A segment value of 100,000 characters
    (a pasted note, within the field limit) as a tick label made the "tight" picture hundreds of
    thousands of pixels wide: two minutes and 1.9 GB for one figure."""
    from matplotlib.text import Text
    from matplotlib.ticker import FuncFormatter
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for labels, ticks, setter in (
                    (axis.get_majorticklabels, axis.get_major_formatter, axis.set_major_formatter),
                    (axis.get_minorticklabels, axis.get_minor_formatter, axis.set_minor_formatter)):
                if any(len(label.get_text()) > _MAX_FIGURE_TEXT for label in labels()):
                    made = ticks()
                    setter(FuncFormatter(lambda x, pos, f=made: _cut(f(x, pos))))
    for text in figure.findobj(Text):
        if len(text.get_text()) > _MAX_FIGURE_TEXT:
            text.set_text(_cut(text.get_text()))


def _close_new(before: set[int]) -> None:
    import matplotlib.pyplot as plt
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


def _shown_figures(step: int, result: StepResult) -> list[tuple[str, Any]]:
    """The figures of `result` that its page shows: a figure drawn for nothing costs seconds."""
    names = {name for section in PAGES.get(step, ()) for name in section.figures}
    return [(name, draw) for name, draw in result.figures.items() if name in names]


class FigureDrawing:
    """The figures of the report's pages, drawn as the step results arrive.

    Drawing is most of a report's time (matplotlib lays out and renders each figure), and the
    figures are independent: on a machine that can fork, two worker processes draw them while the
    later steps are still being computed, so the drawing of steps 1 to 4 overlaps the sizing of
    step 5. Elsewhere (or when a figure cannot travel to a worker) they are drawn one after the
    other when collected. Use as a context manager; `collect` returns them as PNG data URIs.
    """

    def __init__(self, language: str = "en"):
        self.language = language
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[tuple[int, str], Any, Any]] = []  # (key, draw, future)
        self._parallel = "fork" in multiprocessing.get_all_start_methods()

    def __enter__(self) -> FigureDrawing:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, step: int, result: StepResult) -> None:
        """Start drawing the shown figures of one step result."""
        for name, draw in _shown_figures(step, result):
            future = None
            if self._parallel:
                try:
                    if self._pool is None:
                        self._pool = ProcessPoolExecutor(
                            max_workers=2, mp_context=multiprocessing.get_context("fork"))
                    future = self._pool.submit(_figure_png, draw, self.language)
                except (OSError, BrokenProcessPool, RuntimeError):
                    self._parallel = False  # no workers here: draw them at collect
            self._pending.append(((step, name), draw, future))

    def collect(self) -> dict[tuple[int, str], str | None]:
        """Every submitted figure as a PNG data URI (None where it cannot be drawn)."""
        drawn = {}
        for key, draw, future in self._pending:
            uri = None
            if future is not None:
                try:
                    uri = future.result()
                except (OSError, BrokenProcessPool, pickle.PicklingError, AttributeError,
                        TypeError):
                    future = None  # a figure that cannot travel to a worker: draw it here
            drawn[key] = _figure_png(draw, self.language) if future is None else uri
        return drawn


def _draw_all(results: Mapping[int, StepResult],
              language: str = "en") -> dict[tuple[int, str], str | None]:
    """Every shown figure of every step, in `language`, as PNG data URIs."""
    with FigureDrawing(language) as drawing:
        for step in sorted(results):
            drawing.submit(step, results[step])
        return drawing.collect()


# ------------------------------------------------------------------------------ the pages
@dataclass
class _SectionView:
    title: str
    lead: str = ""
    table: DisplayTable | None = None
    figures: list[str] = field(default_factory=list)
    problem: str = ""
    problem_coded: bool = False  # written from its code: a client reads it too


@dataclass
class _StepView:
    number: int
    key: str
    title: str
    purpose: str
    page: str
    conclusions: list[str] = field(default_factory=list)
    conclusions_elsewhere: bool = False  # the step wrote them, but not in this language
    sections: list[_SectionView] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    method: str = ""
    exercises: str = ""
    checks: str = ""


def _markdown() -> Callable[[str], Any]:  # mistune's Markdown: str in, HTML str out
    import mistune
    # Only the training edition's method and exercises: the Markdown cells of the library's own
    # notebooks (no client value). The conclusions are plain sentences, escaped once by the
    # templates (the filter `with_code`), never Markdown rendered back.
    return mistune.create_markdown(escape=False)


# A YAML key or a value to type, between backticks in a sentence (`changes:`): shown as code,
# never as literal backticks on a page.
_CODE_SPAN = re.compile(r"`([^`<>\n]+)`")


def _code_spans(html: str) -> str:
    """`html` (already escaped) with each backtick span as <code>."""
    return _CODE_SPAN.sub(r"<code>\1</code>", html)


def _text_with_code(text: str) -> Markup:
    """A plain sentence (a conclusion, a problem's reason) escaped for the page, its backtick
    spans as code: the templates' filter `with_code`, markupsafe's escape as Jinja's autoescape
    applies it, once."""
    from markupsafe import Markup, escape
    return Markup(_code_spans(str(escape(text))))


def _derived_tables(engagement: Engagement, result: StepResult, fields: pd.DataFrame
                    ) -> dict[str, pd.DataFrame]:
    """Views of a step's tables the pages show (a filter or a count of rows), nothing recomputed."""
    tables: dict[str, pd.DataFrame] = dict(result.tables)
    if result.step == 1:
        quarantine = engagement.quarantine
        if "reason_code" in quarantine and len(quarantine):
            tables["quarantine by reason"] = (
                quarantine.groupby(["source", "reason_code"], observed=True).size()
                .rename("rows").reset_index().sort_values("rows", ascending=False,
                                                          kind="stable"))
    if result.step == 2 and "phases" in tables and "phase" in tables["phases"]:
        # the phases of the model (the table also lists the exits lost and ignore)
        phases = tables["phases"]
        tables["phases"] = phases[phases["phase"].isin(engagement.phase_model.keys)]
    if result.step == 2 and "stage mapping" in tables and {"phase", "rows"} <= set(
            tables["stage mapping"].columns):
        # in the process's order, the most used spelling of a stage first
        order = {key: i for i, key in enumerate(engagement.phase_model.keys)}
        mapping = tables["stage mapping"]
        tables["stage mapping"] = mapping.assign(
            _order=mapping["phase"].map(order).fillna(len(order))).sort_values(
            ["_order", "rows"], ascending=[True, False], kind="stable").drop(columns="_order")
    if result.step == 4 and "seasonality tests" in tables:
        seasons = tables["seasonality tests"].copy()
        # the seasonality result's two rows are volume, then rate (seasonality.tests)
        seasons["measure_index"] = range(len(seasons))
        tables["seasonality tests"] = seasons
    if result.step == 7:
        for name in ("scorecard", "what changed"):
            if name in tables:
                tables[name] = _with_kpi_fields(tables[name], fields)
    if result.step == 6 and "required volume" in tables:
        required = tables["required volume"]
        if len(required):
            first = required["phase"].iloc[0]
            tables["required volume first phase"] = required[required["phase"] == first]
    return tables


@shared_docs
def kpi_fields(results: Mapping[int, StepResult]) -> pd.DataFrame:
    """Per KPI its kind and phases (from the KPI tables of steps 3 and 4), so a table that names
    KPIs only by key (the scorecard) can write their labels in the report's language.

    Parameters
    ----------
    {shared.results}

    Returns
    -------
    DataFrame
        One row per KPI: ``kpi, label, kind`` and, where the tables have them, ``from_phase,
        to_phase, phase``.
    """
    found = []
    for result in results.values():
        for table in result.tables.values():
            if {"kpi", "kind", "label"} <= set(table.columns):
                columns = [c for c in ("kpi", "label", "kind", "from_phase", "to_phase", "phase")
                           if c in table.columns]
                found.append(table[columns])
    if not found:
        return pd.DataFrame(columns=["kpi", "kind"])
    return pd.concat(found, ignore_index=True).drop_duplicates("kpi")


def _with_kpi_fields(frame: pd.DataFrame, fields: pd.DataFrame) -> pd.DataFrame:
    if "kpi" not in frame or "kind" in frame or not len(fields):
        return frame
    return frame.merge(fields.drop(columns=[c for c in ("label",) if c in frame]), on="kpi",
                       how="left")


def _kpi_labels(results: Mapping[int, StepResult]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for result in results.values():
        for table in result.tables.values():
            if {"kpi", "label"} <= set(table.columns):
                for kpi, label in zip(table["kpi"], table["label"], strict=True):
                    if isinstance(kpi, str) and isinstance(label, str):
                        labels.setdefault(kpi, label)
    return labels


def _section(section: Section, tables: Mapping[str, pd.DataFrame], result: StepResult,
             figures: Mapping[str, str | None], fmt: Formatter, phases: PhaseModel,
             labels: Mapping[str, str],
             attributes: Mapping[str, str]) -> _SectionView | None:
    view = _SectionView(title=fmt.gettext(section.title),
                        lead=fmt.gettext(section.lead) if section.lead else "")
    frame = tables.get(section.table) if section.table else None
    if frame is not None:
        for column, kept in section.rows.items():
            if column in frame:
                frame = frame[frame[column].isin(kept)]
        if len(frame):
            view.table = display_table(frame, section.columns, fmt=fmt, phases=phases,
                                       labels=labels, max_rows=section.max_rows,
                                       headers=section.headers, attributes=attributes)
            if not view.table.headers:
                view.table = None
    view.figures = [uri for name in section.figures if (uri := figures.get(name))]
    if section.problem and section.problem in result.problems and view.table is None:
        why = result.problems[section.problem]
        view.problem = problem_text(why, fmt, phases=phases, labels=labels,
                                    attributes=attributes)
        view.problem_coded = is_coded(why)
    if view.table is None and not view.figures and not view.problem:
        return None
    return view


def _step_view(engagement: Engagement, result: StepResult, fmt: Formatter, language: str,
               edition: str, labels: Mapping[str, str], fields: pd.DataFrame,
               markdown: Callable[[str], Any],
               figures: Mapping[str, str | None]) -> _StepView:
    tables = _derived_tables(engagement, result, fields)
    view = _StepView(number=result.step, key=result.key,
                     title=fmt.gettext(STEP_TITLES[result.step]),
                     purpose=fmt.gettext(STEP_PURPOSE[result.step]),
                     page=step_page_name(result.step))
    try:
        lines = result.conclusions(language)
    except ConfigError:  # not written in this language yet
        lines = []
        view.conclusions_elsewhere = bool(result.conclusions_by_language)
    if edition == "client":
        lines = [for_client(line) for line in lines]
    view.conclusions = [str(line) for line in lines]  # plain: the template escapes each once
    shown_problems: set[str] = set()
    for section in PAGES.get(result.step, ()):
        shown = _section(section, tables, result, figures, fmt, engagement.phase_model, labels,
                         attribute_headers(engagement))
        if shown is not None and edition == "client" and shown.problem:
            shown.problem = for_client(shown.problem)
        if shown is not None and shown.problem:
            shown.problem = _text_with_code(shown.problem)
        if shown is not None:
            view.sections.append(shown)
            if shown.problem:
                shown_problems.add(section.problem or "")
    view.problems = [_text_with_code(fmt.gettext("{part}: {why}").format(
                         part=part_name(part, fmt),
                         why=problem_text(why, fmt, phases=engagement.phase_model, labels=labels,
                                          attributes=attribute_headers(engagement))))
                     for part, why in result.problems.items() if part not in shown_problems]
    if edition == "training":
        view.method, view.exercises, view.checks = notebook_parts(result.step, markdown,
                                                                  fmt.gettext)
    return view


# ------------------------------------------------------------------------ executive summary
def _verdict(results: Mapping[int, StepResult], fmt: Formatter, phases: PhaseModel) -> dict[str, Any] | None:
    diagnosis = results.get(5)
    fruit = cast("LowHangingFruit | None",
                 diagnosis.results.get("fruit") if diagnosis is not None else None)
    return None if fruit is None else verdict(fruit, fmt, phases)


def _actions(results: Mapping[int, StepResult], fmt: Formatter, phases: PhaseModel,
             attributes: Mapping[str, str]) -> list[dict[str, str]]:
    diagnosis = results.get(5)
    fruit = cast("LowHangingFruit | None",
                 diagnosis.results.get("fruit") if diagnosis is not None else None)
    if fruit is None:
        return []
    sized = fruit.table[fruit.table["extra_orders"].notna()].head(3)
    shown = display_table(sized, ["finding_text", "extra_orders_ci"], fmt=fmt, phases=phases,
                          attributes=attributes)
    low = next((c for c in ("extra_orders_ci_low", "extra_orders_low") if c in sized), None)
    high = next((c for c in ("extra_orders_ci_high", "extra_orders_high") if c in sized), None)
    actions = []
    for (_, row), cells in zip(sized.iterrows(), shown.rows, strict=True):
        revenue, orders = row.get("extra_revenue"), row["extra_orders"]
        # the revenue range is the orders range at the average won value (revenue / orders)
        value = revenue / orders if not is_missing(revenue) and orders else None
        actions.append({
            "area": code_text(row["area"], fmt),
            "finding": cells[0].text,
            "orders": cells[1].text if len(cells) > 1 else MISSING,
            "revenue": (fmt.amount_interval(revenue, row[low] * value, row[high] * value)
                        if value is not None and low and high else fmt.amount(revenue)),
        })
    return actions


def _scorecard(results: Mapping[int, StepResult], fmt: Formatter, fields: pd.DataFrame,
               phases: PhaseModel) -> list[dict[str, str]]:
    steering = results.get(7)
    card = steering.tables.get("scorecard") if steering is not None else None
    if card is None or not len(card):
        return []
    card = _with_kpi_fields(card, fields)
    shown = display_table(card, ["kpi_label", "period", "value_ci", "target", "status"], fmt=fmt,
                          phases=phases)
    if len(shown.headers) < 5:
        return []
    return [{"label": row[0].text, "period": row[1].text, "value": row[2].text,
             "target": row[3].text, "status": row[4].text, "tone": row[4].kind}
            for row in shown.rows]


def _cohort_conversions(results: Mapping[int, StepResult]) -> pd.DataFrame | None:
    """Step 4's cohort conversions over all segments, or None."""
    measurement = results.get(4)
    kpis = measurement.tables.get("kpis") if measurement is not None else None
    if kpis is None or not {"from_phase", "to_phase", "kind"} <= set(kpis.columns):
        return None
    rows = kpis[kpis["kind"] == "conversion"]
    if "segment" in rows:
        rows = rows[rows["segment"].isna()]
    return rows if len(rows) else None


def _schema_from_cohorts(results: Mapping[int, StepResult]) -> bool:
    """Whether the process schema shows step 4's cohort conversions (else step 1's raw rates):
    its caption says which."""
    return _cohort_conversions(results) is not None


def _schema(engagement: Engagement, results: Mapping[int, StepResult], fmt: Formatter
            ) -> list[dict[str, str]]:
    """The phases left to right with the cohort conversion on each arrow (step 4's KPIs, else
    step 1's raw funnel)."""
    phases = engagement.phase_model
    rates: dict[tuple[str, str], str] = {}
    rows = _cohort_conversions(results)
    if rows is not None:
        for _, row in rows.iterrows():
            rates.setdefault((row["from_phase"], row["to_phase"]), fmt.percent(row["value"]))
    baseline = results.get(1)
    funnel = baseline.tables.get("funnel") if baseline is not None else None
    if not rates and funnel is not None:
        for _, row in funnel.iterrows():
            if not is_missing(row.get("from_phase")):
                rates[(row["from_phase"], row["phase"])] = fmt.percent(row["rate"])
    boxes = []
    for i, phase in enumerate(phases.phases):
        arrow = ""
        if i + 1 < len(phases.phases):
            arrow = rates.get((phase.key, phases.phases[i + 1].key), MISSING)
        # a label such as "Proposal/Pricing" may break after its slash, not inside a word
        boxes.append({"label": phase.label.replace("/", "/\u200b"), "arrow": arrow,
                      "functions": ", ".join(phase.functions)})
    return boxes


def _data_quality(engagement: Engagement, fmt: Formatter) -> str:
    balance = engagement.reconciliation
    rows_in = int(balance["rows_in"].sum()) if len(balance) else 0
    used = int(balance["rows_used"].sum()) if len(balance) else 0
    quarantined = int(balance["rows_quarantined"].sum()) if len(balance) else 0
    rows = fmt.ngettext("{rows_in} row in the exports: {used} used, {quarantined} set aside with a "
                        "reason.",
                        "{rows_in} rows in the exports: {used} used, {quarantined} set aside with "
                        "a reason.", rows_in).format(
        rows_in=fmt.count(rows_in), used=fmt.count(used), quarantined=fmt.count(quarantined))
    records = len(engagement.records)
    # a lead list without dates has no measurement date (asking for one raises)
    dated = getattr(engagement, "dated", True) and records
    as_of = getattr(engagement, "as_of", None) if dated else None
    if dated and not is_missing(as_of):
        measured = fmt.ngettext("{records} record measured up to {as_of}.",
                                "{records} records measured up to {as_of}.", records).format(
            records=fmt.count(records), as_of=fmt.date(as_of, length="long"))
    else:
        measured = fmt.ngettext("{records} record, without dates.",
                                "{records} records, without dates.", records).format(
            records=fmt.count(records))
    return f"{rows} {measured}"


# ---------------------------------------------------------------------------- rendering
def _environment(language: str) -> jinja2.Environment:
    import jinja2
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("j2",), default=True),
        extensions=["jinja2.ext.i18n"], keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    # old style: a message is text, not a %-format (`95% interval` would break a new-style one)
    # (the i18n extension adds this method when the Environment is made: unknown to its stubs)
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=False)
    # long words in narrow boxes (the process schema) break where the language breaks them
    env.filters["hyphenate"] = lambda text: hyphenate(text, language)
    env.filters["with_code"] = _text_with_code
    return env


def page_environment(language: str) -> jinja2.Environment:
    """The Jinja environment of the report's pages in `language` (the page "Since the last
    report" is rendered with it too).

    Parameters
    ----------
    language : str
        ``nl`` or ``en``.

    Returns
    -------
    jinja2.Environment
        With autoescape, the templates and the language's filters.
    """
    return _environment(language)


def render_report(engagement: Engagement, results: Mapping[int, StepResult], *,
                  out_dir: str | Path, language: str | None = None,
                  edition: str = "client", notes: Sequence[str] = (),
                  date: Date | None = None, print_page: bool = False,
                  pages: Iterable[int] | None = None,
                  figures: Mapping[tuple[int, str], str | None] | None = None,
                  since_page: str | None = None) -> Path:
    """Write the report of `results` into `out_dir`: ``index.html`` (the executive summary) and
    one page per step (``01_baseline.html`` ...); with `print_page`, also ``print.html``, every
    page in one document with page breaks, for the PDF.

    Parameters
    ----------
    engagement
        The engagement the steps ran on (its name, client, phase model, reconciliation).
    results
        ``{step: StepResult}`` from ``toolkit.steps.run_all``.
    out_dir
        The folder the pages go to.
    language
        ``nl`` or ``en``; default the engagement's ``language``.
    edition
        ``client`` or ``training``.
    notes
        Notes of the run (library warnings, as sentences), shown on the index page.
    date
        The report's date (default today).
    print_page
        Also write ``print.html``, every page in one document, for the PDF.
    pages
        The steps that get a page (default every step in `results`); the executive summary
        draws on all of `results`.
    figures
        The pages' figures when the caller drew them already (`FigureDrawing.collect`, keyed by
        step and figure name); default they are drawn here.
    since_page
        The file of the page "Since the last report" when the run has one: the index links it.

    Returns
    -------
    Path of ``index.html``.
    """
    from markupsafe import Markup

    config = engagement.config
    language = language or str(getattr(config, "language", "en"))
    if edition not in EDITIONS:
        raise OptionError(f"The value for `edition` must be one of {list(EDITIONS)}, but "
                           f"{edition!r} was passed.")
    fmt = formatter(language, config.currency)
    markdown = _markdown()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shown_date = fmt.date(date or Date.today(), length="long")
    labels = _kpi_labels(results)
    fields = kpi_fields(results)
    shown = sorted(results) if pages is None else sorted(set(pages) & set(results))
    drawn = (_draw_all({step: results[step] for step in shown}, language) if figures is None
             else figures)
    steps = []
    for step in shown:
        step_figures = {name: uri for (number, name), uri in drawn.items() if number == step}
        steps.append(_step_view(engagement, results[step], fmt, language, edition, labels,
                                fields, markdown, step_figures))
    phases = engagement.phase_model
    summary = {
        "verdict": _verdict(results, fmt, phases),
        "actions": _actions(results, fmt, phases, attribute_headers(engagement)),
        "scorecard": _scorecard(results, fmt, fields, phases),
        "schema": _schema(engagement, results, fmt),
        "schema_cohorts": _schema_from_cohorts(results),
        "quality": _data_quality(engagement, fmt),
        "since": since_page,
        "notes": list(dict.fromkeys(for_client(note) if edition == "client" else note
                                    for note in notes)),
    }
    client = config.client or engagement.name
    css = Markup((TEMPLATES_DIR / "report.css").read_text(encoding="utf-8"))
    common = {
        "css": css, "language": language, "edition": edition, "client": client,
        "title": fmt.gettext("Commercial process: where the orders are won and lost"),
        "date": shown_date, "steps": steps, "summary": summary,
        "footer": fmt.gettext("funnel-toolkit {version} · {date} · manifest.json holds the "
                              "versions and file hashes to reproduce this report.").format(
            version=__version__, date=shown_date),
        "print_header": Markup(css_string(f"{client} · {shown_date}")),
        "page_label": Markup(css_string(fmt.gettext("Page"))),
        "of_label": Markup(css_string(fmt.gettext("of"))),
    }
    env = _environment(language)
    page = env.get_template("report_step.html.j2")
    for i, view in enumerate(steps):
        (out / view.page).write_text(page.render(
            **common, step=view, previous=steps[i - 1] if i > 0 else None,
            next=steps[i + 1] if i + 1 < len(steps) else None), encoding="utf-8")
    index = out / "index.html"
    index.write_text(env.get_template("report_index.html.j2").render(**common), encoding="utf-8")
    if print_page:
        (out / "print.html").write_text(env.get_template("report_print.html.j2").render(**common),
                                        encoding="utf-8")
    return index
