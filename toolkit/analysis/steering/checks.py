"""Checks of the KPI tables a caller passes to the steering functions: columns, counts, keys and
the direction of each KPI, each refused with the fix."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError, OptionError

# Shared validation

def prepare_kpis(kpis: pd.DataFrame, *, higher_is_better: Any, argument: str) -> pd.DataFrame:
    """Validate the tidy KPI frame and return a copy with every expected column present."""
    if not isinstance(kpis, pd.DataFrame):
        raise TypeError(f"`{argument}` must be a pandas DataFrame, not {type(kpis).__name__}. "
                        "Fix: pass the tidy KPI frame from compute_kpis.")
    require_columns(kpis, ["kpi", "period", "value"], argument=argument)
    frame = kpis.copy()
    for column in ("n", "successes", "ci_low", "ci_high", "target"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = numeric(frame[column], column=column)
    frame["value"] = numeric(frame["value"], column="value")
    check_unique(frame, ["kpi", "period"], argument=argument)

    if isinstance(higher_is_better, bool):
        frame["higher_is_better"] = higher_is_better
    else:
        if higher_is_better is not None and not isinstance(higher_is_better, Mapping):
            raise OptionError(
                "The value for `higher_is_better` must be None, True, False or a mapping "
                f"{{kpi: bool}}, but {higher_is_better!r} was passed",
                fix="e.g. higher_is_better={'Days to order': False}")
        mapping = dict(higher_is_better or {})
        unknown = sorted(set(map(str, mapping)) - set(frame["kpi"].astype(str)))
        if unknown:
            raise OptionError(
                f"`higher_is_better` names KPIs that are not in `{argument}`: {unknown}",
                fix=f"use KPI names from {sorted(frame['kpi'].astype(str).unique())}")
        column = (frame["higher_is_better"] if "higher_is_better" in frame.columns
                  else pd.Series(pd.NA, index=frame.index, dtype=object))
        from_mapping = frame["kpi"].map(mapping)
        resolved = from_mapping.where(from_mapping.notna(), column)
        missing = frame.loc[resolved.isna(), "kpi"].astype(str).unique().tolist()
        if missing:
            raise DataError(
                f"the column `higher_is_better` is missing or empty for KPIs {missing}",
                column="higher_is_better",
                fix="add it to the KPI frame, or pass higher_is_better=True/False or a mapping "
                    "{kpi: bool}")
        frame["higher_is_better"] = resolved.map(_as_bool)

    rate = frame["n"].notna() & frame["successes"].notna()
    bad = frame[rate & frame["target"].notna() & ~frame["target"].between(0, 1)]
    if len(bad):
        first = bad.iloc[0]
        raise DataError(
            f"the target of rate KPI {first['kpi']!r} must be a proportion between 0 and 1",
            column="target", value=first["target"],
            fix=f"write {first['target'] / 100:g} for {first['target']:g}%")
    return frame


def direction_known(kpis: pd.DataFrame, higher_is_better: Any) -> bool:
    """Whether every KPI's direction is given, by the argument or by the column."""
    if isinstance(higher_is_better, bool):
        return True
    if not isinstance(kpis, pd.DataFrame) or "kpi" not in kpis.columns:
        return False
    named = set(higher_is_better) if isinstance(higher_is_better, Mapping) else set()
    rest = kpis[~kpis["kpi"].isin(named)]
    return len(rest) == 0 or ("higher_is_better" in kpis.columns
                              and rest["higher_is_better"].notna().all())


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "ja"):
        return True
    if text in ("false", "0", "no", "nee"):
        return False
    raise DataError("`higher_is_better` must be true or false", column="higher_is_better",
                    value=value, fix="write true or false")


def is_rate_row(row: pd.Series) -> bool:
    return bool(pd.notna(row["n"]) and pd.notna(row["successes"]))


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, argument: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{argument}` must be a pandas DataFrame, not {type(frame).__name__}. "
                        "Fix: pass a tidy DataFrame.")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"`{argument}` lacks the column(s) {missing}; it has {list(map(str, frame.columns))}",
            fix="rename the columns or pass their names as keyword arguments")


def check_unique(frame: pd.DataFrame, keys: list[str], *, argument: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, keys].iloc[0].tolist()
        raise DataError(
            f"`{argument}` has more than one row for {dict(zip(keys, first, strict=True))}",
            row=int(np.flatnonzero(duplicated.to_numpy())[0]) + 1,
            fix=f"aggregate to one row per {' and '.join(keys)} first")


def numeric(series: pd.Series, *, column: str) -> pd.Series:
    converted = pd.to_numeric(series, errors="coerce")
    broken = converted.isna() & series.notna()
    if broken.any():
        position = int(np.flatnonzero(broken.to_numpy())[0])
        raise DataError("the value is not a number", row=position + 1, column=column,
                        value=series.iloc[position], fix="fix or remove the value")
    return converted.astype(float)


def check_counts(frame: pd.DataFrame, *, n_column: str, successes_column: str) -> None:
    checks = [
        (frame["n"].isna(), n_column, "the number of trials is missing"),
        (frame["n"] <= 0, n_column, "the number of trials must be positive"),
        (frame["successes"].isna(), successes_column, "the number of successes is missing"),
        (frame["successes"] < 0, successes_column, "the number of successes is negative"),
        (frame["successes"] > frame["n"], successes_column,
         "there are more successes than trials"),
    ]
    for mask, column, message in checks:
        if mask.any():
            position = int(np.flatnonzero(mask.to_numpy())[0])
            raise DataError(
                f"{message} (period {frame['period'].iloc[position]!r})", row=position + 1,
                column=column, value=frame.loc[position, "n" if column == n_column
                                               else "successes"],
                fix="drop periods without trials, and check that successes <= n")


def check_alpha(alpha: float) -> None:
    if not is_number(alpha) or not 0 < alpha < 1:
        raise OptionError(f"The value for `alpha` must be between 0 and 1, but {alpha!r} was "
                          "passed", fix="use 0.05")


def is_number(value: Any) -> bool:
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and math.isfinite(float(value)))


