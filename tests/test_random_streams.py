"""One random stream per run (issue 22): a function that draws takes an int, a SeedSequence or a
Generator; a run hands each part its own child of SeedSequence(seed), so the same seed gives the
same results and parts shown side by side never share their draws."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from toolkit import steps
from toolkit.analysis.diagnosis import bottleneck_sizing
from toolkit.analysis.simulation import plan_improvement, required_volume, what_if
from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import (
    STREAMS,
    child_sequence,
    random_generator,
    seed_sequence,
    stream,
)
from toolkit.io.engagement import Engagement
from toolkit.stats import prob_b_beats_a


@cache
def _engagement() -> Engagement:
    from toolkit.datasets import PHASE_LABELS, PHASES, generate_company
    company = generate_company(n_records=1500, seed=5)
    return Engagement.from_tables(company.events, company.records,
                                  phases=[{"key": k, "label": PHASE_LABELS[k]} for k in PHASES],
                                  as_of=company.as_of, segments=["action", "region"],
                                  targets={"orders_per_month": 30})


# ------------------------------------------------------------------------------- the seed rule
def test_a_whole_number_draws_what_default_rng_draws():
    assert random_generator(7).random(3).tolist() == np.random.default_rng(7).random(3).tolist()
    assert seed_sequence(7).entropy == 7


def test_a_seed_sequence_is_used_as_it_is_and_a_generator_is_drawn_from():
    sequence = np.random.SeedSequence(11)
    assert seed_sequence(sequence) is sequence
    generator = np.random.default_rng(3)
    assert random_generator(generator) is generator
    first, second = seed_sequence(generator), seed_sequence(generator)
    assert first.entropy != second.entropy  # the caller's stream moved on
    again = np.random.default_rng(3)
    assert seed_sequence(again).entropy == first.entropy  # and reproduces from its state


@pytest.mark.parametrize("seed", [None, -1, 1.5, True, "0", [1, 2]])
def test_anything_else_is_refused_as_a_wrong_argument(seed):
    with pytest.raises(OptionError, match="`seed`"):
        seed_sequence(seed)
    with pytest.raises(ValueError):
        random_generator(seed)


def test_each_part_has_the_child_of_the_run_sequence_at_its_place():
    children = np.random.SeedSequence(4).spawn(len(STREAMS))
    for k, part in enumerate(STREAMS):
        assert stream(4, part).generate_state(4).tolist() == \
            children[k].generate_state(4).tolist()
        assert stream(4, part).generate_state(4).tolist() == \
            stream(np.random.SeedSequence(4), part).generate_state(4).tolist()
    states = {tuple(stream(4, part).generate_state(4)) for part in STREAMS}
    assert len(states) == len(STREAMS)  # no two parts share a stream
    assert child_sequence(np.random.SeedSequence(4), 1).spawn_key == (1,)
    with pytest.raises(OptionError, match="did you mean 'sizing'"):
        stream(4, "sizng")


# ------------------------------------------------------------------- library functions
def test_a_function_gives_the_same_result_for_an_int_and_its_sequence():
    e = _engagement()
    by_int = what_if(e, rates={("lead", "opportunity"): 0.6}, seed=3, draws=500)
    by_sequence = what_if(e, rates={("lead", "opportunity"): 0.6},
                          seed=np.random.SeedSequence(3), draws=500)
    pd.testing.assert_frame_equal(by_int.outcomes, by_sequence.outcomes)
    drawn = what_if(e, rates={("lead", "opportunity"): 0.6},
                    seed=np.random.default_rng(3), draws=500)
    assert drawn.outcomes.shape == by_int.outcomes.shape
    a = prob_b_beats_a(10, 100, 15, 100, seed=np.random.SeedSequence(1))
    b = prob_b_beats_a(10, 100, 15, 100, seed=1)
    assert a.prob_b_beats_a == b.prob_b_beats_a


def test_one_generator_handed_down_gives_two_calls_different_draws():
    e = _engagement()
    generator = np.random.default_rng(9)
    one = what_if(e, rates={("lead", "opportunity"): 0.6}, seed=generator, draws=500)
    two = what_if(e, rates={("lead", "opportunity"): 0.6}, seed=generator, draws=500)
    assert not one.samples.equals(two.samples)


# ---------------------------------------------------------------------------------- the run
def test_the_same_seed_gives_the_same_results():
    e = _engagement()
    first, again = steps.improvement(e, seed=2), steps.improvement(e, seed=2)
    for name, table in first.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name], obj=name)
    other = steps.improvement(e, seed=3)
    assert not first.tables["scenario"].equals(other.tables["scenario"])


def test_the_parts_of_a_run_draw_from_independent_streams():
    e = _engagement()
    plan = plan_improvement(e, seed=0)
    assert plan.scenario is not None and plan.required is not None
    step = (plan.bottleneck["from_phase"], plan.bottleneck["to_phase"])
    rates = {step: plan.bottleneck["reference_rate"]}
    # the what-if draws from its own stream, not from the one the required volume draws from
    own = what_if(e, rates=rates, seed=stream(0, "scenario"))
    pd.testing.assert_frame_equal(plan.scenario.samples, own.samples)
    shared = what_if(e, rates=rates, seed=stream(0, "required"))
    assert not plan.scenario.samples.equals(shared.samples)
    pd.testing.assert_frame_equal(
        plan.required, required_volume(e, orders=30, period="month", seed=stream(0, "required")))
    # before the streams every part started default_rng(0): the what-if shared the draws
    assert not plan.scenario.samples.equals(what_if(e, rates=rates, seed=0).samples)


def test_steps_that_size_without_step_5_size_as_step_5_did():
    e = _engagement()
    fruit = steps.diagnosis(e, seed=1).results["fruit"]
    sizing = bottleneck_sizing(e, seed=stream(1, "sizing"))
    pd.testing.assert_frame_equal(fruit.sizing, sizing)
    plan = plan_improvement(e, seed=1)
    assert plan.bottleneck is not None
    pd.testing.assert_series_equal(plan.bottleneck, sizing.dropna(
        subset=["rate", "reference_rate"]).iloc[0])
