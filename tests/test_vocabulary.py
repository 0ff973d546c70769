"""The vocabulary: one table of codes with their prose, one option validator, one seed rule."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pandas as pd
import pytest

import toolkit
import toolkit.analysis
import toolkit.measure
from toolkit.base.exceptions import ConfigError
from toolkit.base.vocabulary import (
    PERIODS,
    REASONS,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUSES,
    check_option,
    check_seed,
    codes_table,
    reason_codes,
    status_codes,
)


def test_codes_are_short_stable_identifiers_with_distinct_prose():
    for table in (STATUSES, REASONS):
        assert all(code.isidentifier() and code == code.lower() for code in table)
        assert len(set(table.values())) == len(table)
    table = codes_table()
    assert list(table.columns) == ["kind", "code", "prose"]
    assert len(table) == len(STATUSES) + len(REASONS)
    assert table.set_index("code").loc["off_target", "prose"] == "significantly off target"


def test_code_columns_are_categorical_and_refuse_unknown_codes():
    column = status_codes(["on_target", None, "below_target"])
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert list(column.cat.categories) == list(STATUSES)
    assert column.isna().tolist() == [False, True, False]
    assert reason_codes([]).dtype == pd.CategoricalDtype(list(REASONS))
    with pytest.raises(KeyError, match="on target"):
        status_codes(["on target"])  # a sentence is not a code


def test_status_groups_hold_codes_of_the_table():
    assert STATUS_ON_TARGET <= set(STATUSES) and STATUS_SIGNIFICANT <= set(STATUSES)
    assert not STATUS_ON_TARGET & STATUS_SIGNIFICANT


def test_check_option_returns_the_value_or_names_allowed_values_and_a_fix():
    assert check_option("method", "wilson", ["wilson", "jeffreys"]) == "wilson"
    with pytest.raises(ConfigError, match=r"The value for `method` must be one of \['wilson', "
                                          r"'jeffreys'\], but 'wilsen' was passed\. Fix: did you "
                                          r"mean 'wilson'\?"):
        check_option("method", "wilsen", ["wilson", "jeffreys"])
    with pytest.raises(ConfigError, match=r"Fix: use one of \['wilson', 'jeffreys'\]"):
        check_option("method", "zzz", ("wilson", "jeffreys"))
    # True == 1 in Python, but True is not the option 1; nor is the string "1"
    with pytest.raises(ConfigError):
        check_option("k", True, [1, 2])
    with pytest.raises(ConfigError):
        check_option("k", "1", [1, 2])
    assert check_option("k", np.int64(2), [1, 2]) == 2
    with pytest.raises(ConfigError):
        check_option("k", ["a"], ["a"])  # unhashable: refused, not a TypeError


@pytest.mark.parametrize("seed", [0, 7, np.int64(3)])
def test_seed_rule_accepts_whole_numbers_from_zero(seed):
    assert check_seed(seed) == int(seed) and type(check_seed(seed)) is int


@pytest.mark.parametrize("seed", [None, -1, 1.0, True, "0", np.random.default_rng(0)])
def test_seed_rule_refuses_everything_else_with_the_fix(seed):
    with pytest.raises(ConfigError, match=r"`seed` must be a whole number >= 0.*Fix: pass e\.g\. "
                                          r"seed=0"):
        check_seed(seed)


def _result_classes():
    """The classes of measure/ and analysis/ that have a `summary` (the result objects)."""
    for package in (toolkit.measure, toolkit.analysis):
        # every module, those of the packages split by job (analysis.diagnosis, ...) included
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and "summary" in vars(cls):
                    yield f"{module.__name__}.{name}", cls


def test_every_result_has_a_summary_frame_and_one_name_for_its_finding():
    classes = dict(_result_classes())
    assert len(classes) >= 12, sorted(classes)
    for name, cls in classes.items():
        summary = vars(cls)["summary"]
        assert isinstance(summary, property), f"{name}.summary is not a property"
        assert inspect.signature(summary.fget).return_annotation in ("pd.DataFrame",
                                                                     pd.DataFrame), name
        fields = set(getattr(cls, "__dataclass_fields__", {})) | set(vars(cls))
        # the one-line finding is `headline`: none of the old names is left
        assert not fields & {"explanation"}, name
        if "verdict" in getattr(cls, "__annotations__", {}):
            assert cls.__annotations__["verdict"] != "str", f"{name}.verdict is a sentence"


# ------------------------------------------------------------------ the vocabulary of arguments
#: Where ``n`` is an argument: a sample size (records per group) or a number of colours.
N_IS_A_SIZE = {"toolkit.stats.power.power_two_rates", "toolkit.stats.power.minimum_detectable_effect",
               "toolkit.present.plotting.style.phase_palette"}


def vocabulary_outliers(name, function) -> list[str]:
    """How the arguments of `function` break the vocabulary of toolkit.base.vocabulary."""
    found = []
    parameters = inspect.signature(function).parameters
    for p in parameters.values():
        if p.name in ("freq", "frequency"):
            found.append(f"{name}({p.name}=): a pandas frequency; take a `period` granularity")
        if p.name == "n" and name not in N_IS_A_SIZE:
            found.append(f"{name}(n=): counts are `successes`/`trials`, a record count "
                         f"`n_records`")
        if p.name == "by" and p.default not in (None, p.empty):
            found.append(f"{name}(by={p.default!r}): `by` is segment columns, not a mode")
        if p.name == "period" and p.default not in (None, p.empty, *PERIODS):
            found.append(f"{name}(period={p.default!r}): `period` is a granularity; a column "
                         f"is `period_column`, one period `period_label`")
        if p.name == "period" and "Period" in str(p.annotation):
            found.append(f"{name}(period: {p.annotation}): one period is `period_label`")
    if "successes" in parameters and "trials" not in parameters:
        found.append(f"{name}: `successes` without `trials`")
    if parameters.get("successes") is not None and isinstance(parameters["successes"].default, str):
        defaults = (parameters["successes"].default, parameters["trials"].default)
        if defaults != ("successes", "n"):
            found.append(f"{name}: count columns {defaults}, not the tidy ('successes', 'n')")
    if name.split(".")[-1].startswith("plot_"):
        returned = inspect.signature(function).return_annotation
        if returned not in ("Axes", "AxesPair"):
            found.append(f"{name} returns {returned}: every plot returns its Axes")
    return found


def _public_functions():
    seen: dict[str, object] = {}
    for info in pkgutil.walk_packages(toolkit.__path__, prefix="toolkit."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj) and obj not in seen.values():
                seen[f"{obj.__module__}.{obj.__name__}"] = obj
    return seen


def test_the_vocabulary_check_finds_each_kind_of_outlier():
    def plot_bad(data, *, freq="M", n="n", by="created", period="period",
                 successes="won", trials="leads") -> pd.DataFrame:
        """Every outlier the issue saw, in one signature."""

    def counts(successes, n):
        """Counts named two ways."""

    def one_period(stamps, period: pd.Period):
        """A period value where a granularity is meant."""

    found = vocabulary_outliers("plot_bad", plot_bad)
    assert len(found) == 6, found
    assert any("frequency" in f for f in found) and any("n_records" in f for f in found)
    assert any("not a mode" in f for f in found) and any("period_column" in f for f in found)
    assert any("not the tidy" in f for f in found) and any("returns" in f for f in found)
    assert len(vocabulary_outliers("counts", counts)) == 2  # n=, and successes without trials
    assert vocabulary_outliers("one_period", one_period) == [
        "one_period(period: pd.Period): one period is `period_label`"]
    assert vocabulary_outliers("ok", lambda data, *, by=None, period="month": None) == []


def test_every_public_function_speaks_the_vocabulary():
    functions = _public_functions()
    assert len(functions) > 150
    assert {"toolkit.stats.intervals.rate_ci", "toolkit.analysis.steering.control.control_chart",
            "toolkit.analysis.diagnosis.mix.mix_vs_rate",
            "toolkit.present.plotting.timing.plot_seasonality"} <= set(functions)
    found = [f for name, function in functions.items() for f in vocabulary_outliers(name, function)]
    assert found == []
