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
