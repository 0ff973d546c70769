"""``result.plot(ax=None)``: a result object draws itself with its plot function.

The plot functions live in ``toolkit.present.plotting``, a layer above the results (measure/,
analysis/), so a result never imports them: it names its function, and :func:`draw` looks the
function up by name when the result is drawn (as pandas finds its plotting backend). Importing a
result module therefore never imports matplotlib, and the layers contract still holds for every
import the code makes.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["draw"]

PLOTTING = "toolkit.present.plotting"


def draw(function: str, data: Any, **options: Any) -> Any:
    """``toolkit.present.plotting.<function>(data, **options)``: the Axes (or Figure) it returns."""
    return getattr(importlib.import_module(PLOTTING), function)(data, **options)
