"""The loop's calibration harness (benchmarks/calibrate_loop.py) on a handful of companies: each
export is the company cut at its as-of date, a restated history is reported as restated and
nothing else, and the figures come with their Wilson intervals. The 200-company run is a
benchmark, not a test (README.md, "Measured rates"; docs/calibration.md)."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest
from conftest import REPO as ROOT


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location(
        "calibrate_loop", ROOT / "benchmarks" / "calibrate_loop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_loop"] = module
    spec.loader.exec_module(module)
    return module


def test_an_export_is_the_company_cut_at_its_as_of_date(harness):
    company = harness.generate(3)
    early, late = (harness.export(company, harness.START + pd.DateOffset(months=m))
                   for m in (1, 2))
    assert set(early.records["record_id"]) < set(late.records["record_id"])
    assert early.events["entered_at"].max() < early.as_of
    # a record open at the first as-of date may be closed at the second, never the reverse
    both = early.records.merge(late.records, on="record_id", suffixes=("_early", "_late"))
    closed_early = both["outcome_early"] != "open"
    assert (both.loc[closed_early, "outcome_early"] == both.loc[closed_early,
                                                                "outcome_late"]).all()


def test_a_handful_of_companies(harness):
    actions, restated = harness.run(4, 3, seed=5)
    assert set(actions["working"]) <= {"worked", "did_not_work", "too_early", "beyond_follow_up"}
    # the working action is judged at the first monthly export on or after its predicted date
    judged = pd.to_datetime(actions["judged_at"])
    assert (judged >= pd.to_datetime(actions["predicted"])).all()
    assert ((judged - pd.to_datetime(actions["predicted"])).dt.days <= 31).all()
    # a restated history is found whole, and nothing else is called restated or a change
    assert restated["all_found"].all() and (restated["extra"] == 0).all()
    assert (restated["as_change"] == 0).all() and (restated["planted"] >= 3).all()
    figures = harness.table(actions, restated)
    assert list(figures["n"]) == [4, 4, 4, 3]
    assert (figures["wilson_low"] <= figures["share"]).all()
    assert (figures["share"] <= figures["wilson_high"]).all()


def test_wilson_by_hand(harness):
    # 90 of 100: centre (0.9 + 1.96^2/200) / (1 + 1.96^2/100) = 0.8852, half width 0.0596
    low, high = harness.wilson(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-3) and high == pytest.approx(0.9448, abs=1e-3)
