"""The duration model fitted on a firm's own finished engagements (OLS on log weeks)."""


from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.analysis.planning.factors import FACTORS, SCORES
from toolkit.base.exceptions import DataError


def calibrate_duration_model(engagements: pd.DataFrame | str | Path, *,
                             confidence: float = 0.95) -> pd.DataFrame:
    """Fit the duration model's coefficients on a firm's own finished engagements.

    Parameters
    ----------
    engagements
        A CSV file (or frame) with one row per finished engagement: the five factor columns
        (:data:`FACTORS`, scores 1-5) and ``actual_weeks`` (the weeks it took, all steps).
    confidence
        Of the intervals.

    Returns
    -------
    DataFrame
        ``term, multiplier, ci_low, ci_high, p_value, n``: the term ``average_client_weeks``
        (the weeks of an engagement with every factor at 3) and per factor the multiplier of the
        duration per score point above 3 (below 1: a better score shortens the engagement), each
        with its interval.

    Notes
    -----
    Ordinary least squares (statsmodels OLS) of log(actual_weeks) on the scores minus 3:
    log(weeks) = a + sum_f b_f (score_f - 3), the multiplicative form of ``duration_model.yaml``
    with one multiplier per point. ``average_client_weeks`` = exp(a), a factor's multiplier =
    exp(b_f); the intervals are the t-intervals of a and b_f, exponentiated. Six coefficients need
    at least seven engagements, and say little until there are a few dozen: read the intervals.
    """
    # statsmodels' regression takes a second to import; only this function needs it, and the
    # table words import this package (`import toolkit` stays fast)
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools import add_constant

    source = str(engagements) if isinstance(engagements, str | Path) else None
    frame = _read_engagements(engagements, source)
    weeks = frame["actual_weeks"].to_numpy(dtype=float)
    design = add_constant(frame[list(FACTORS)].to_numpy(dtype=float) - 3.0, has_constant="add")
    fit = OLS(np.log(weeks), design).fit()
    intervals = np.asarray(fit.conf_int(alpha=1 - confidence))
    terms = ("average_client_weeks", *FACTORS)
    return pd.DataFrame({"term": terms, "multiplier": np.exp(fit.params),
                         "ci_low": np.exp(intervals[:, 0]), "ci_high": np.exp(intervals[:, 1]),
                         "p_value": fit.pvalues, "n": len(frame)})


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (an error message shows 7, not np.int64(7))."""
    return value.item() if isinstance(value, np.generic) else value


def _read_engagements(engagements: pd.DataFrame | str | Path, source: str | None) -> pd.DataFrame:
    """The finished engagements, checked: every factor 1-5 and a positive ``actual_weeks``."""
    if isinstance(engagements, str | Path):
        try:
            frame = pd.read_csv(engagements, sep=None, engine="python")
        except FileNotFoundError as error:
            raise DataError("the file of finished engagements does not exist", file=source,
                            fix="pass a CSV with the five factor columns and actual_weeks"
                            ) from error
    elif isinstance(engagements, pd.DataFrame):
        frame = engagements
    else:
        raise TypeError(f"The value for `engagements` must be a CSV path or a DataFrame, but a "
                        f"{type(engagements).__name__} was passed. Fix: pass a CSV with the five "
                        f"factor columns and actual_weeks.")
    needed = [*FACTORS, "actual_weeks"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"the finished engagements lack the column(s) {missing}", file=source,
                        column=missing[0], fix=f"give one row per engagement with {needed}")
    for column in needed:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values <= 0 if column == "actual_weeks" else ~values.isin(SCORES))
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                "actual_weeks must be a positive number of weeks" if column == "actual_weeks"
                else "a factor score must be a whole number from 1 to 5", file=source,
                row=position + 2 if source else position + 1, column=column,
                value=_plain(frame[column].iloc[position]),
                fix="correct the value (a score 1-5 against the anchors, the weeks it took)")
    if len(frame) <= len(needed):
        raise DataError(f"{len(frame)} finished engagement(s) cannot fit six coefficients",
                        file=source, fix="record at least seven finished engagements (a few "
                                         "dozen before the intervals say much)")
    return frame.assign(**{c: pd.to_numeric(frame[c]) for c in needed})
