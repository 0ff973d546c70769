"""Argument checks shared by the survival estimators: durations, observed flags, outcome labels and
the confidence level, each refused with the value and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from toolkit.base.exceptions import DataError, OptionError

EVENTS: tuple[str, str, str] = ("converted", "lost", "censored")
"""How a spell between two phases ends, the categories of the `event` column."""
# Float step levels such as 0.5 come out of products like (1 - 1/2) as 0.5000000000000001;
# a quantile must still find the step that lands exactly on its level.
LEVEL_TOL = 1e-10


def z_value(confidence: float) -> float:
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise OptionError(
            f"The value for `confidence` must be a number strictly between 0 and 1 (e.g. 0.95), "
            f"but {confidence!r} was passed."
        )
    return float(norm.ppf(0.5 + confidence / 2))


def as_durations(durations: Any) -> np.ndarray:
    try:
        time = np.asarray(durations, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptionError(
            "The value for `durations` must be numbers (e.g. the `duration_days` column of "
            "`transition_durations`), but values that are not numbers were passed."
        ) from None
    if time.ndim != 1:
        raise OptionError(
            f"The value for `durations` must be one-dimensional, but an array of shape "
            f"{time.shape} was passed."
        )
    if time.size == 0:
        raise DataError(
            "`durations` is empty: there is nothing to estimate",
            fix="check the filter that selected the records (did any reach the start phase?)",
        )
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum())} duration(s) are missing, infinite or negative; the first is at "
            f"position {first}",
            column="durations", value=float(time[first]),
            fix="compute durations with `transition_durations`, which clips bad orderings to 0 "
                "and flags them in `data_issue`",
        )
    return time


def as_observed(observed: Any, n: int) -> np.ndarray:
    raw = np.asarray(observed)
    if raw.shape != (n,):
        raise OptionError(
            f"The value for `observed` must have one entry per duration ({n}), but an array of "
            f"shape {raw.shape} was passed."
        )
    if raw.dtype == bool:
        return raw
    if raw.dtype.kind in "iuf" and np.isin(raw, (0, 1)).all():
        return raw.astype(bool)
    raise OptionError(
        "The value for `observed` must be booleans (or 0/1): True where the event happened, "
        "False where the record is censored, e.g. `durations.event == 'converted'`, but other "
        "values were passed."
    )


def as_labels(event: Any, n: int, outcomes: Sequence[str], censored: str) -> np.ndarray:
    """Integer codes 0..k-1 for the outcomes, -1 for censored; rejects any other label."""
    labels = [*outcomes, censored]
    # factorize first: a million labels have only a handful of distinct values (and a
    # categorical `event` column factorizes without touching the strings).
    inverse, uniques = pd.factorize(pd.Series(event) if not isinstance(event, pd.Series)
                                    else event)
    if inverse.size != n:
        raise OptionError(
            f"The value for `event` must have one entry per duration ({n}), but {inverse.size} "
            f"entries were passed."
        )
    lookup = pd.Index(labels).get_indexer(pd.Index(uniques))
    unknown_values = [u for u, code in zip(uniques, lookup, strict=True) if code < 0]
    n_missing = int((inverse < 0).sum())
    if unknown_values or n_missing:
        listing = ", ".join(repr(v) for v in unknown_values[:10])
        if n_missing:
            listing += f"{', ' if listing else ''}{n_missing} missing"
        raise DataError(
            f"`event` holds labels that are neither an outcome nor the censoring label: {listing}",
            column="event",
            fix=f"pass `outcomes=` and `censored=` that cover every label; now {labels}",
        )
    codes = lookup[inverse].astype(np.int64)
    codes[codes == len(outcomes)] = -1
    return codes


