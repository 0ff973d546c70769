"""``result.plot(ax=None)``: a result object draws itself with its plot function.

The plot functions live in ``toolkit.present.plotting``, a layer above the results (measure/,
analysis/), so a result never imports them at import time: it names its function, and
:func:`draw` imports the plotting module when the result is drawn (as pandas finds its plotting
backend). Importing a result module therefore never imports matplotlib.

This is the one import that goes up the layers, and it is declared: the layers contract in
pyproject.toml lists it under ``ignore_imports``, and ``tests/test_layers.py`` allows this one
function-level import by name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["draw"]


def draw(function: str, data: Any, **options: Any) -> Any:
    """Draw with a plot function of ``toolkit.present.plotting``, imported when drawn.

    Parameters
    ----------
    function : str
        The plot function's name (``"plot_funnel"``, ...).
    data : object
        Its data (a result frame or result object).
    **options
        Its keyword options (``ax``, ``language``, ...).

    Returns
    -------
    object
        What ``toolkit.present.plotting.<function>(data, **options)`` returns: the Axes (or
        Figure).
    """
    from toolkit.present import plotting  # declared in the layers contract (see the docstring)

    return getattr(plotting, function)(data, **options)
