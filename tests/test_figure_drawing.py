"""The report's figures drawn as the step results arrive (`FigureDrawing`), and the steps handed
over one at a time (`run_each`): the same PNGs whether workers draw them or this process does, a
figure that cannot travel to a worker or cannot be drawn handled, only shown figures drawn. Small
hand-made figures; no step is computed."""

from __future__ import annotations

import multiprocessing

import matplotlib.pyplot as plt
import pytest
from conftest import DEMO

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError, ToolkitError
from toolkit.report import render
from toolkit.report.render import FigureDrawing
from toolkit.steps import run_each
from toolkit.steps.result import StepResult


def _bars():
    figure, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["a", "b"], [3, 5])
    return ax


def _line():
    figure, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [2, 1, 3])
    return figure


def _cannot():
    raise ToolkitError("no data for this figure")


def _results(**overrides) -> dict[int, StepResult]:
    # step 1's page shows "funnel" and "timeline"; "not on a page" is on none
    figures = {"funnel": _bars, "timeline": _line, "not on a page": _line, **overrides}
    return {1: StepResult(step=1, key="baseline", figures=figures)}


def _drawn(results, *, parallel: bool = True) -> dict:
    with FigureDrawing("nl") as drawing:
        drawing._parallel = parallel and drawing._parallel
        for step, result in results.items():
            drawing.submit(step, result)
        return drawing.collect()


def test_workers_and_this_process_draw_the_same_figures():
    here = _drawn(_results(), parallel=False)
    assert set(here) == {(1, "funnel"), (1, "timeline")}  # only what a page shows
    assert all(uri.startswith("data:image/png;base64,") for uri in here.values())
    if "fork" in multiprocessing.get_all_start_methods():
        assert _drawn(_results()) == here


def test_a_figure_that_cannot_travel_to_a_worker_is_drawn_here():
    # a lambda cannot be pickled to a worker process
    results = _results(funnel=lambda: _bars())
    drawn = _drawn(results)
    assert drawn == _drawn(_results(), parallel=False)


def test_a_figure_that_cannot_be_drawn_is_none_and_the_others_are_kept():
    drawn = _drawn(_results(timeline=_cannot))
    assert drawn[(1, "timeline")] is None
    assert drawn[(1, "funnel")].startswith("data:image/png;base64,")


def test_without_fork_every_figure_is_drawn_here(monkeypatch):
    monkeypatch.setattr(render.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with FigureDrawing("en") as drawing:
        drawing.submit(1, _results()[1])
        assert drawing._pool is None
        drawn = drawing.collect()
    assert drawn == _drawn(_results(), parallel=False)


def test_run_each_checks_the_settings_before_the_first_step():
    with pytest.raises(ConfigError, match="at least one step"):
        run_each(object(), steps=[])  # raised at the call, not when iterated


def test_run_each_hands_over_each_step_before_computing_the_next(monkeypatch):
    from toolkit import steps
    demo = Engagement.from_yaml(DEMO / "engagement.yaml")
    computed, options_of = [], {}
    for number, step in list(steps.STEPS.items()):
        def counted(engagement, *, _step=step, _number=number, **options):
            computed.append(_number)
            options_of[_number] = options
            return _step(engagement, **options)
        monkeypatch.setitem(steps.STEPS, number, counted)
    each = run_each(demo, seed=0, steps=[1, 2])
    assert computed == []  # nothing before the first result is asked for
    step, first = next(each)
    assert (step, computed) == (1, [1])
    step, second = next(each)
    assert (step, computed) == (2, [1, 2])
    assert options_of[2]["baseline"] is first  # step 2 builds on step 1's result, as in run_all
    assert list(each) == []
