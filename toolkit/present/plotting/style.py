"""The house style of every figure: palette and rc settings, the language a figure is drawn
in and saving a figure."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.rcsetup import cycler

from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import (
    STATUS_NOT_SIGNIFICANT,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUS_TOO_FEW,
    STATUS_UNJUDGED,
)
from toolkit.present.format import Formatter, formatter
from toolkit.present.messages import check_language, translations

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "PALETTE",
    "SERIES_COLORS",
    "theme",
    "phase_palette",
    "status_color",
    "save_figure",
]


#: The named colours of every figure. Status colours are Okabe & Ito's colour-blind safe
#: vermillion, orange and bluish green; phases run from light to dark blue.
PALETTE: dict[str, str] = {
    "ink": "#1F2933",             # text and key lines
    "muted": "#6B7480",           # secondary text, axes
    "grid": "#E4E7EB",
    "band": "#0072B2",            # interval bands (drawn transparent)
    "primary": "#0072B2",         # the series when there is one
    "light": "#9CC3E6",
    "counts": "#C9CED6",          # n bars behind rates
    "immature": "#D9DDE3",
    "below": "#D55E00",           # significantly below target / outside control limits
    "not_significant": "#E69F00",  # short of target but compatible with it
    "on_target": "#009E73",
    "neutral": "#9AA1AB",         # no target, no data, too few records
    "converted": "#0072B2",
    "lost": "#CC79A7",
    "rate_effect": "#0072B2",
    "mix_effect": "#CC79A7",
    "phase_light": "#A6CBE8",
    "phase_dark": "#08306B",
    "box": "#F4F6F8",
}

#: Colours for categorical series (segments); Okabe-Ito / Tol colours without the status hues.
SERIES_COLORS: tuple[str, ...] = ("#0072B2", "#CC79A7", "#56B4E9", "#332288", "#44AA99",
                                  "#882255", "#999933", "#5D6D7E")

HOUSE_RC: dict[RcKeyType, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "#B8BEC6",
    "axes.linewidth": 0.8,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlecolor": PALETTE["ink"],
    "axes.labelsize": 10,
    "axes.labelcolor": PALETTE["ink"],
    "text.color": PALETTE["ink"],
    "xtick.color": PALETTE["muted"],
    "ytick.color": PALETTE["muted"],
    "xtick.labelcolor": PALETTE["ink"],
    "ytick.labelcolor": PALETTE["ink"],
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same metrics everywhere
    "axes.prop_cycle": cycler(color=list(SERIES_COLORS)),
    # Figure text comes from the client's data (segment values, labels): `$...$` in a value is
    # characters, never mathtext (a value such as `$\x$` would otherwise fail the figure).
    "text.parse_math": False,
}


def theme() -> None:
    """Apply the toolkit's figure style globally (seaborn whitegrid plus the house colours).

    The plot functions do not need it: they draw inside their own style context. Call it at the
    top of a notebook to give your own seaborn/matplotlib figures the same look.
    """
    sns.set_theme(style="whitegrid", rc=HOUSE_RC)


def phase_palette(n: int) -> list[tuple[float, float, float]]:
    """Colours from light to dark blue, one per phase.

    Parameters
    ----------
    n : int
        How many colours (phases); a positive whole number.

    Returns
    -------
    list of (r, g, b)
        ``n`` colours, the first phase lightest.

    Raises
    ------
    OptionError
        `n` is not a positive whole number.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise OptionError(f"The value for `n` must be a positive whole number, but {n!r} was passed.")
    return list(sns.blend_palette([PALETTE["phase_light"], PALETTE["phase_dark"]], n_colors=int(n)))


def status_color(code: object) -> str:
    """The colour of a status code.

    Parameters
    ----------
    code : str or None
        A ``status_code`` of the scorecard or the KPI table (``toolkit.base.vocabulary``).

    Returns
    -------
    str
        A hex colour of `PALETTE`: significantly below/off target vermillion, not significant
        amber, on target green; no target, no data, significance unknown, too few records to
        conclude or an unknown code grey.
    """
    if code in STATUS_TOO_FEW or code in STATUS_UNJUDGED or code is None:
        return PALETTE["neutral"]
    if code in STATUS_SIGNIFICANT:
        return PALETTE["below"]
    if code in STATUS_NOT_SIGNIFICANT:
        return PALETTE["not_significant"]
    if code in STATUS_ON_TARGET:
        return PALETTE["on_target"]
    return PALETTE["neutral"]


# The language the figures being drawn speak (`language=` of a plot call, or the report's).
LANGUAGE: ContextVar[str] = ContextVar("toolkit_plot_language", default="en")


@contextlib.contextmanager
def drawing_language(language: str) -> Iterator[None]:
    """Draw the figures made inside the block in `language`.

    Parameters
    ----------
    language : ``"en"`` or ``"nl"``
        The language of the words and numbers of the figures drawn in the block (a plot call's
        own ``language=`` still wins).

    Raises
    ------
    OptionError
        An unknown language.
    """
    token = LANGUAGE.set(check_language(language))
    try:
        yield
    finally:
        LANGUAGE.reset(token)


def gettext(message: str) -> str:
    """`message` (an English msgid) in the language of the figure being drawn."""
    return translations(LANGUAGE.get()).gettext(message)


def fig_fmt() -> Formatter:
    """The one formatter (toolkit.present.format), in the language of the figure being drawn:
    every number on a figure is written by it, as on the pages and in the workbook."""
    return formatter(LANGUAGE.get())


def figure_of(ax: Axes) -> Figure:
    """The figure that holds `ax`, the one with a size and a file: the root figure when `ax`
    sits in a subfigure."""
    parent = ax.figure
    return parent.figure if isinstance(parent, SubFigure) else parent


def save_figure(fig_or_ax: Figure | Axes | Sequence[Axes], path: str | Path, *,
                dpi: int = 150) -> Path:
    """Save a figure as a PNG with a tight bounding box.

    Parameters
    ----------
    fig_or_ax : matplotlib Figure or Axes, or the Axes a plot of several panels returns
        The figure, or an Axes on it (the whole figure is saved; the root figure when the Axes
        sits in a subfigure).
    path : str or Path
        Where to save; a path without suffix gets ``.png``; missing folders are created.
    dpi : int
        Dots per inch, a positive number.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    TypeError
        `fig_or_ax` is neither a Figure nor an Axes (nor a sequence of Axes).
    OptionError
        `dpi` is not a positive number.
    """
    if isinstance(fig_or_ax, Axes):
        fig = figure_of(fig_or_ax)
    elif isinstance(fig_or_ax, Figure):
        fig = fig_or_ax
    elif (isinstance(fig_or_ax, Sequence) and not isinstance(fig_or_ax, str) and fig_or_ax
          and all(isinstance(a, Axes) for a in fig_or_ax)):
        fig = figure_of(fig_or_ax[0])
    else:
        raise TypeError(f"The value for `fig_or_ax` must be a matplotlib Figure or Axes, but a "
                        f"{type(fig_or_ax).__name__} was passed.")
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or dpi <= 0:
        raise OptionError(f"The value for `dpi` must be a positive number (e.g. 150), but {dpi!r} "
                           f"was passed.")
    target = Path(path)
    if not target.suffix:
        target = target.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(HOUSE_RC):
        fig.savefig(target, dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    return target
