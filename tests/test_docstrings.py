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

#: Packages whose public functions (their `__all__`) have numpydoc sections; the list grows.
NUMPYDOC = ["toolkit.stats", "toolkit.io.loading", "toolkit.present.tables",
            "toolkit.present.plotting"]


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
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        yield importlib.import_module(info.name)


_PLACEHOLDER = re.compile(r"^\s*\{shared\.\w+\}\s*$", re.MULTILINE)


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
        if gives and "Returns\n-------" not in doc:
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
