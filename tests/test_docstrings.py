"""Docstrings: shared parameter descriptions are written once (toolkit/base/docstrings.py) and
filled in; the public functions of the packages in NUMPYDOC document their parameters and what
they return in numpydoc sections."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

from toolkit.base.docstrings import SHARED, fill_shared, shared_docs

#: Packages and modules whose public functions (their `__all__`) have numpydoc sections; the list
#: grows.
NUMPYDOC = ["toolkit.stats", "toolkit.io.loading", "toolkit.present.tables",
            "toolkit.present.plotting",
            "toolkit.steps", "toolkit.steps.baseline", "toolkit.steps.kpis",
            "toolkit.steps.process_model", "toolkit.steps.steering", "toolkit.steps.parts",
            "toolkit.steps.store",
            "toolkit.measure.funnel", "toolkit.measure.cohorts", "toolkit.measure.actions",
            "toolkit.measure.audit", "toolkit.measure.benchmarks", "toolkit.measure.kpis",
            "toolkit.measure.survival", "toolkit.measure.seasonality",
            "toolkit.analysis.diagnosis", "toolkit.analysis.simulation",
            "toolkit.analysis.steering", "toolkit.analysis.planning",
            "toolkit.analysis.action_plan", "toolkit.analysis.history", "toolkit.analysis.leakage",
            "toolkit.analysis.previous", "toolkit.analysis.run_state",
            "toolkit.analysis.segment_model", "toolkit.analysis.since",
            "toolkit.base.vocabulary", "toolkit.base.paths", "toolkit.base.findings",
            "toolkit.base.phases", "toolkit.base.drawing", "toolkit.base.docstrings",
            "toolkit.present.client", "toolkit.present.findings", "toolkit.present.format",
            "toolkit.present.hyphenation", "toolkit.present.messages", "toolkit.present.problems",
            "toolkit.present.since", "toolkit.present.narrative",
            "toolkit.report", "toolkit.report.browser", "toolkit.report.render",
            "toolkit.report.consistency", "toolkit.report.loop", "toolkit.report.sheets",
            "toolkit.report.training", "toolkit.datasets", "toolkit.cli",
            "toolkit.demo_followup"]

#: DESIGN.md's public API: every parameter of these is described by name in a Parameters section.
DESIGN_API = ["toolkit.stats.rate_ci", "toolkit.stats.diff_ci", "toolkit.stats.two_rate_test",
              "toolkit.stats.k_rate_test", "toolkit.steps.baseline",
              "toolkit.steps.process_model", "toolkit.steps.kpis", "toolkit.steps.measurement",
              "toolkit.steps.diagnosis", "toolkit.steps.improvement", "toolkit.steps.steering",
              "toolkit.steps.run_all", "toolkit.steps.open_engagement",
              "toolkit.measure.funnel.cohort_conversion", "toolkit.measure.funnel.period_conversion",
              "toolkit.measure.funnel.funnel", "toolkit.measure.funnel.win_rate",
              "toolkit.measure.kpis.compute_kpis", "toolkit.measure.survival.kaplan_meier",
              "toolkit.measure.survival.cumulative_incidence",
              "toolkit.analysis.diagnosis.low_hanging_fruit",
              "toolkit.analysis.diagnosis.bottleneck_sizing",
              "toolkit.analysis.diagnosis.shortage_or_leak", "toolkit.analysis.diagnosis.segment_scan",
              "toolkit.analysis.simulation.what_if", "toolkit.analysis.simulation.evaluate_change",
              "toolkit.analysis.steering.scorecard", "toolkit.analysis.action_plan.action_plan",
              "toolkit.analysis.since.evaluate_actions"]


def test_a_placeholder_line_becomes_the_shared_text_indented_as_the_line():
    doc = "Draw.\n\n    Parameters\n    ----------\n    {shared.ax}\n    size : int\n"
    filled = fill_shared(doc)
    first, *rest = SHARED["ax"].splitlines()
    assert filled == ("Draw.\n\n    Parameters\n    ----------\n    " + first + "\n"
                      + "".join("    " + line + "\n" for line in rest) + "    size : int\n")


def test_text_that_is_no_placeholder_line_stays():
    doc = "A mapping {vestiging: Vestiging} and {shared.ax} inside a sentence."
    assert fill_shared(doc) == doc
    assert fill_shared(None) is None


def test_an_unknown_shared_name_is_refused():
    with pytest.raises(KeyError, match="shared.axes"):
        fill_shared("    {shared.axes}\n")


def test_the_decorator_fills_the_docstring_once():
    @shared_docs
    def draw(ax=None):
        """Draw.

        Parameters
        ----------
        {shared.ax}
        """
    assert "{shared" not in draw.__doc__
    assert SHARED["ax"].splitlines()[1].strip() in draw.__doc__


def _public_functions():
    for package in NUMPYDOC:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{package}.{name}", obj


def _modules_of(package: str):
    module = importlib.import_module(package)
    yield module
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), package + "."):
        yield importlib.import_module(info.name)


_PLACEHOLDER = re.compile(r"^\s*\{shared\.\w+\}\s*$", re.MULTILINE)


def test_no_module_sends_the_reader_to_its_module_docstring_for_a_parameter():
    # shared parameters are written once (toolkit.base.docstrings), not "see the module docstring"
    left = [f"{module.__name__}.{name}" for package in NUMPYDOC for module in _modules_of(package)
            for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__
            and re.search(r"\n\s+See the module docstring", obj.__doc__ or "")]
    assert not left, left


def test_no_docstring_keeps_a_placeholder():
    left = []
    for package in [*NUMPYDOC, "toolkit.base"]:
        for module in _modules_of(package):
            for name, obj in vars(module).items():
                if callable(obj) and _PLACEHOLDER.search(getattr(obj, "__doc__", None) or ""):
                    left.append(f"{module.__name__}.{name}")
    assert not left, left


def test_public_functions_document_parameters_and_returns():
    missing = []
    for name, function in _public_functions():
        doc = inspect.getdoc(function) or ""
        signature = inspect.signature(function)
        if signature.parameters and "Parameters\n----------" not in doc:
            missing.append(f"{name}: Parameters")
        returns = signature.return_annotation
        # a generator-based context manager yields nothing to document as a return value
        gives = returns not in ("None", None, "Iterator[None]", inspect.Signature.empty)
        if gives and "Returns\n-------" not in doc and "Yields\n------" not in doc:
            missing.append(f"{name}: Returns")
    assert not missing, missing


def test_plot_functions_describe_ax_the_same_way():
    texts = {name: inspect.getdoc(f) for name, f in _public_functions()
             if name.startswith("toolkit.present.plotting.plot_")}
    assert len(texts) >= 13
    ax = SHARED["ax"]
    described = [name for name, doc in texts.items() if ax in doc]
    # plot_seasonality draws two panels: its `ax` is a pair of Axes, described on its own
    assert sorted(set(texts) - set(described)) == ["toolkit.present.plotting.plot_seasonality"]


def documented_parameters(doc: str) -> list[str] | None:
    """The parameter names a numpydoc docstring's Parameters section describes (None without
    one): each entry is a line at the section's indentation, ``name : type`` or ``name``, and
    ``a, b : int`` or ``*args, **kwargs`` describe several at once."""
    match = re.search(r"^Parameters\n-{10}\n(.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", doc, re.S | re.M)
    if match is None:
        return None
    names = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names += [name.strip().lstrip("*") for name in line.split(" : ")[0].split(",")]
    return names


def test_the_parameter_parser_reads_numpydoc_entries():
    doc = ("Do.\n\nParameters\n----------\nx : int\n    The x.\n    more : not an entry\n"
           "a, b\n    Two.\n*args, **kwargs\n    Passed on.\n\nReturns\n-------\nint\n    x\n")
    assert documented_parameters(doc) == ["x", "a", "b", "args", "kwargs"]
    assert documented_parameters("Prose only, `x` in a sentence.") is None


def _undocumented(function) -> list[str]:
    names = documented_parameters(inspect.getdoc(function) or "")
    wanted = [p for p in inspect.signature(function).parameters if p not in ("self", "cls")]
    return wanted if names is None else [p for p in wanted if p not in names]


@pytest.mark.parametrize("path", DESIGN_API)
def test_the_design_api_describes_every_parameter_by_name(path):
    module, name = path.rsplit(".", 1)
    function = getattr(importlib.import_module(module), name)
    assert not _undocumented(function), _undocumented(function)


def test_the_converted_packages_describe_every_parameter_by_name():
    missing = {name: left for name, function in _public_functions()
               if (left := _undocumented(function))}
    assert not missing, missing
