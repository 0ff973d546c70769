"""The checks every statistic makes of its input: counts (whole, finite, at most the
trials), a probability or confidence level, and the error they raise when impossible."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from toolkit.base.exceptions import DataError, OptionError

FloatOrArray = float | NDArray[np.float64]


class CountError(DataError, ValueError):
    """Impossible counts; a DataError that generic code can also catch as ValueError."""


# --------------------------------------------------------------------------------- validation
def z_value(confidence: float) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float, np.floating, np.integer))
        or not 0.0 < float(confidence) < 1.0
    ):
        raise OptionError(
            f"The value for `confidence` must be a number strictly between 0 and 1 (e.g. 0.95), "
            f"but {confidence!r} was passed."
        )
    return float(stats.norm.isf((1.0 - float(confidence)) / 2.0))


def check_probability(name: str, value: object, *, open_interval: bool = True) -> float:
    try:
        # any object: float() raises TypeError for one it cannot read, turned into the error below
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    inside = 0.0 < number < 1.0 if open_interval else 0.0 <= number <= 1.0
    if isinstance(value, bool) or not inside:
        bounds = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        raise OptionError(f"The value for `{name}` must be a number {bounds}, but {value!r} "
                           "was passed.")
    return number


def as_float_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise CountError(
            f"The value for `{name}` must be a count or an array of counts, but {values!r} was "
            "passed."
        ) from error
    return array


def where_text(array: NDArray[np.float64], mask: NDArray[np.bool_]) -> str:
    """' (at position i)' for the first offending element of an array, '' for a scalar."""
    if array.ndim == 0:
        return ""
    position = tuple(int(i) for i in np.argwhere(mask)[0])
    index = position[0] if len(position) == 1 else position
    return f" (at position {index})"


def check_counts(successes: ArrayLike, trials: ArrayLike, names: tuple[str, str]
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Validate and broadcast a pair of count arrays; NaN passes through (it gives NaN out)."""
    x_name, n_name = names
    x = as_float_array(successes, x_name)
    n = as_float_array(trials, n_name)
    scalar = x.ndim == 0 and n.ndim == 0
    try:
        x, n = np.broadcast_arrays(x, n)
    except ValueError as error:
        raise CountError(
            f"`{x_name}` and `{n_name}` must have the same length (or one must be a single "
            f"number), but their shapes are {np.shape(successes)} and {np.shape(trials)}."
        ) from error
    for array, name in ((x, x_name), (n, n_name)):
        bad = np.isinf(array)
        if bad.any():
            raise CountError(f"The value for `{name}` must be finite, but {array[bad][0]:g} was "
                              f"passed{where_text(array, bad)}.")
        bad = array < 0
        if bad.any():
            raise CountError(
                f"The value for `{name}` must be a count >= 0, but {array[bad][0]:g} was passed"
                f"{where_text(array, bad)}. Fix: check the data for negative counts."
            )
    bad = x > n
    if bad.any():
        raise CountError(
            f"The value for `{x_name}` must be at most `{n_name}`, but {x_name}="
            f"{x[bad][0]:g} was passed with {n_name}={n[bad][0]:g}{where_text(x, bad)}. Fix: "
            f"`{x_name}` counts the records that made the step out of the `{n_name}` that could."
        )
    return x.astype(float), n.astype(float), scalar


def scalar_counts(x: Any, n: Any, names: tuple[str, str], *, minimum_trials: int = 1
                   ) -> tuple[int, int]:
    """Two whole-number counts for the exact tests, with at least ``minimum_trials`` trials."""
    xs, ns, scalar = check_counts(x, n, names)
    if not scalar:
        raise CountError(f"`{names[0]}` and `{names[1]}` must be single numbers here, but arrays "
                          f"of shape {xs.shape} were passed. Fix: call the test once per pair, "
                          "or use pairwise_rate_tests.")
    xf, nf = float(xs), float(ns)
    if math.isnan(xf) or math.isnan(nf) or xf != round(xf) or nf != round(nf):
        raise CountError(f"`{names[0]}` and `{names[1]}` must be whole numbers, but "
                          f"{names[0]}={xf:g}, {names[1]}={nf:g} were passed.")
    if nf < minimum_trials:
        raise CountError(f"The value for `{names[1]}` must be at least {minimum_trials} here, "
                          f"but {nf:g} was passed. Fix: drop the empty group before testing.")
    return int(round(xf)), int(round(nf))


def interval_out(low: NDArray[np.float64], high: NDArray[np.float64], scalar: bool
         ) -> tuple[FloatOrArray, FloatOrArray]:
    if scalar:
        return float(low), float(high)
    return low, high
