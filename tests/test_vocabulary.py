"""The vocabulary: one table of codes with their prose, one option validator, one seed rule."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pandas as pd
import pytest

import toolkit.analysis
import toolkit.measure
from toolkit.base.exceptions import ConfigError
from toolkit.base.vocabulary import (
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
