"""One exception rule (issue 22): a wrong argument is a ValueError (the toolkit's OptionError) or
a TypeError in every public function; ToolkitError is for the data and the engagement YAML; and
a step's `Parts.attempt` never turns a programming error into a "not computed" problem."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from functools import cache

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import toolkit  # noqa: E402
from toolkit.base.exceptions import (  # noqa: E402
    ConfigError,
    DataError,
    OptionError,
    ToolkitError,
)
from toolkit.io.engagement import Engagement  # noqa: E402
from toolkit.present.plotting.checks import NothingToDraw  # noqa: E402
from toolkit.steps.parts import Parts  # noqa: E402

# packages whose public functions take arguments from code (the CLI, the report run and the
# loaders take paths and files: their errors are about files, named by ToolkitError subclasses)
SKIP = ("toolkit.report", "toolkit.cli", "toolkit.io", "toolkit.datasets", "toolkit.demo_followup",
        "toolkit.steps.store", "__main__")

#: A wrong value for each option a public function may take, and what each names.
BAD = {"confidence": 1.5, "method": "wilsen", "period": "fortnight", "window_days": -1,
       "seed": -1, "alpha": 2.0, "draws": -1, "min_n": 0, "adjust": "bonferoni", "chart": "np",
       "interval": "both", "cohort": "closed", "horizon": "decade", "credibility": 0,
       "power": 1.0, "alternative": "sideways", "sigma": 0, "straddle": "both", "q": 2}

#: Valid values of required arguments that are not the engagement.
SAMPLES = {"successes": 5, "trials": 10, "x1": 5, "n1": 10, "x2": 3, "n2": 10, "x_a": 5,
           "n_a": 10, "x_b": 6, "n_b": 10, "p1": 0.3, "p2": 0.4, "p_baseline": 0.3,
           "baseline_rate": 0.3, "uplift": 0.05, "n": 100, "p_values": [0.01, 0.2],
           "durations": np.array([1.0, 2.0, 3.0, 4.0]), "observed": np.array([1, 0, 1, 1]),
           "event": np.array(["converted", "lost", "censored", "converted"])}


#: Options a function needs besides its required arguments.
EXTRA = {"required_volume": {"orders": 10}}


@cache
def _engagement() -> Engagement:
    from toolkit.datasets import PHASE_LABELS, PHASES, generate_company
    company = generate_company(n_records=900, seed=3)
    return Engagement.from_tables(company.events, company.records,
                                  phases=[{"key": k, "label": PHASE_LABELS[k]} for k in PHASES],
                                  as_of=company.as_of, segments=["action", "region"])


def public_functions():
    """(dotted name, function) of every function a public module lists in `__all__`."""
    seen: dict[str, object] = {}
    for info in pkgutil.walk_packages(toolkit.__path__, prefix="toolkit."):
        if any(part in info.name for part in SKIP):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if inspect.isfunction(obj) and obj not in seen.values():
                seen[f"{info.name}.{name}"] = obj
    return sorted(seen.items())


def _calls():
    """(name, function, required arguments, the bad option) for every public function that takes
    one of BAD's options and whose required arguments SAMPLES or the engagement supply."""
    out = []
    for name, function in public_functions():
        parameters = inspect.signature(function).parameters.values()
        required = [p.name for p in parameters if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        for p in parameters:
            others = [r for r in required if r != p.name]
            if p.name in BAD and set(others) <= set(SAMPLES) | {"engagement"}:
                out.append(pytest.param(function, others, p.name, id=f"{name}-{p.name}"))
    return out


CALLS = _calls()


def test_the_walk_covers_the_public_functions_design_names():
    covered = {call.values[0].__name__ for call in CALLS}
    assert {"rate_ci", "diff_ci", "two_rate_test", "kaplan_meier", "cumulative_incidence",
            "cohort_conversion", "low_hanging_fruit", "what_if", "bottleneck_sizing",
            "prob_b_beats_a", "compute_kpis", "diagnosis", "run_all"} <= covered, covered
    assert len(CALLS) >= 60


@pytest.mark.parametrize(("function", "required", "option"), CALLS)
def test_a_wrong_option_is_a_value_or_type_error(function, required, option):
    args = {name: (_engagement() if name == "engagement" else SAMPLES[name]) for name in required}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            function(**args, **EXTRA.get(function.__name__, {}), **{option: BAD[option]})
    if isinstance(info.value, ToolkitError):  # the toolkit's own: the OptionError, naming it
        assert isinstance(info.value, OptionError | DataError), type(info.value)
        assert f"`{option}`" in str(info.value) or option == "q", str(info.value)


@pytest.mark.parametrize("bad", ["left", 3, [None]])
def test_a_wrong_ax_is_a_type_error_in_every_plot(bad):
    from test_plotting import CASES
    for function, build, options, _, _ in CASES.values():
        with pytest.raises(TypeError, match="`ax`"):
            function(build(), ax=bad, **options)
        plt.close("all")


def test_a_bad_plot_option_is_an_option_error_not_a_toolkit_error_only():
    from test_plotting import CASES

    from toolkit.present.plotting import plot_cohort_conversion, plot_segment_scan, save_figure
    cohort = CASES["cohort"][1]()
    with pytest.raises(OptionError, match="`target`"):
        plot_cohort_conversion(cohort, target=35)
    scan = CASES["segment_scan"][1]() if "segment_scan" in CASES else None
    if scan is not None:
        with pytest.raises(TypeError, match="`max_rows`"):
            plot_segment_scan(scan, max_rows="12")
    with pytest.raises(TypeError, match="`fig_or_ax`"):
        save_figure("figure", "x.png")
    plt.close("all")


# ------------------------------------------------------------------------------- Parts.attempt
@pytest.mark.parametrize("error", [OptionError("The value for `confidence` must be ..."),
                                   ConfigError("a bad YAML key"), TypeError("bad type"),
                                   KeyError("no such column"), ValueError("a bug"),
                                   AttributeError("a bug"), ZeroDivisionError()])
def test_parts_attempt_reraises_programming_errors(error):
    parts = Parts()

    def compute():
        raise error

    with pytest.raises(type(error)):
        parts.attempt("funnel", compute)
    assert parts.problems == {}  # never a client-visible "not computed"


@pytest.mark.parametrize("error", [DataError("too few records"),
                                   NothingToDraw("no rows", fix="", reader="no rows")])
def test_parts_attempt_records_what_the_data_cannot_carry(error):
    parts = Parts()

    def compute():
        raise error

    assert parts.attempt("funnel", compute) is None
    assert str(parts.problems["funnel"]) == str(error)


def test_a_wrong_confidence_inside_a_part_raises_instead_of_becoming_a_problem():
    from toolkit.measure.survival import kaplan_meier
    parts = Parts()
    with pytest.raises(ValueError, match="`confidence`"):
        parts.attempt("time to convert", lambda: kaplan_meier([1.0, 2.0], [1, 1],
                                                               confidence=1.5))
    assert parts.problems == {}


def test_data_errors_stay_toolkit_errors_that_are_not_option_errors():
    # the other side of the rule: a frame without the columns a plot needs is about the data
    from toolkit.present.plotting import plot_funnel
    with pytest.raises(DataError) as info:
        plot_funnel(pd.DataFrame({"phase": ["a"]}))
    assert not isinstance(info.value, OptionError)
