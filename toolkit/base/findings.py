"""A finding: a stable code and the raw values that fill its sentence (pydantic-core's error
details are the model: ``{"type": ..., "ctx": {...}}``).

Analysis and measurement return findings, never sentences with formatted numbers: only the
presentation layer (``toolkit.present.findings``) writes a finding as a sentence, in either report
language, with every number through the one formatter. A :class:`Finding` is also a ``str``, its
English sentence, so code that logs a reason or a note, or keeps it in a table, keeps working; code
that decides on a finding compares ``finding.code`` and ``finding.values``, never the text.

The English sentence comes from the renderer that ``toolkit.present.findings`` installs with
:func:`use_renderer` when the package is imported (``toolkit/__init__.py`` imports it), so this
module needs nothing above ``base``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Finding", "use_renderer", "english", "shown"]

#: (code, values) -> the English sentence; installed by ``toolkit.present.findings``.
_RENDERER: Callable[[str, Mapping[str, Any]], str] | None = None
#: (kind, value) -> the value in English as the one formatter writes it (same installer).
_SHOW: Callable[[str, Any], str] | None = None


def use_renderer(render: Callable[[str, Mapping[str, Any]], str],
                 show: Callable[[str, Any], str]) -> None:
    """Install the functions that write a finding's English sentence from its code and values,
    and one value of a kind (``toolkit.present.findings.KINDS``).

    Parameters
    ----------
    render : callable
        ``render(code, values)``: the English sentence of a finding.
    show : callable
        ``show(kind, value)``: one value of a kind in English.
    """
    global _RENDERER, _SHOW
    _RENDERER, _SHOW = render, show


def shown(kind: str, value: Any) -> str:
    """`value` in English as the one formatter writes a value of `kind`, for the few English
    sentences the analysis still writes itself.

    Parameters
    ----------
    kind : str
        ``'percent'``, ``'points'``, ``'number1'``, ``'number0'`` ...
        (``toolkit.present.findings.KINDS``).
    value : object
        The value.

    Returns
    -------
    str
        The value as text.
    """
    if _SHOW is None:  # a programming error: toolkit/__init__ installs it on import
        raise RuntimeError("no finding renderer installed: import toolkit first")
    return _SHOW(kind, value)


def english(code: str, values: Mapping[str, Any]) -> str:
    """The English sentence of a finding, written by the installed renderer.

    Parameters
    ----------
    code : str
        The finding's code.
    values : mapping
        The values that fill it.

    Returns
    -------
    str
        The sentence.
    """
    if _RENDERER is None:  # a programming error: toolkit/__init__ installs it on import
        raise RuntimeError("no finding renderer installed: import toolkit first")
    return _RENDERER(code, values)


class Finding(str):
    """A finding: its ``code``, the ``values`` its sentence names (raw numbers, keys, dates, inner
    findings), and, as the str itself, its English sentence.

    ``Finding("seasonal_volume", {"cv_volume": 0.31, "p_value": 0.002})`` writes the English
    sentence through ``toolkit.present.findings``; ``text=`` gives it instead (a sentence the
    library already holds, e.g. an error's own message).
    """

    code: str
    values: dict[str, Any]

    def __new__(cls, code: str, values: Mapping[str, Any] | None = None, *,
                text: str | None = None) -> Finding:
        values = dict(values or {})
        self = super().__new__(cls, english(code, values) if text is None else text)
        self.code = code
        self.values = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # a str subclass with attributes: rebuilt from its fields (results travel to the figure
        # workers and the notebooks' kernels by pickle), with the sentence it was made with
        return (_rebuild, (type(self), str(self), self.code, self.values))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.values!r})"


def _rebuild(cls: type[Finding], text: str, code: str, values: dict[str, Any]) -> Finding:
    self = str.__new__(cls, text)
    self.code = code
    self.values = values
    return self
