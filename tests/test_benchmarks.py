"""Published benchmarks mapped onto the demo's phases (values from ../shared/reference)."""

from __future__ import annotations

import pytest
from conftest import DEMO, SHARED

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError
from toolkit.measure.benchmarks import BENCHMARKS_FILE, benchmarks_for, load_benchmarks


def test_shipped_file_is_the_team_reference_with_sources():
    assert BENCHMARKS_FILE.read_text() == (SHARED / "reference" / "funnel_benchmarks.csv").read_text()
    assert load_benchmarks()["source"].notna().all()


def test_benchmarks_for_the_demo_take_the_median_of_matching_sources():
    b = benchmarks_for(Engagement.from_yaml(DEMO / "engagement.yaml")).set_index("from_phase")
    # lead -> opportunity = mql -> sql: HubSpot 0.30-0.50, growthengineer 0.40, Klipfolio 0.13
    # -> low 0.30, typical median(0.40, 0.13) = 0.265, high 0.50, three sources
    row = b.loc["lead"]
    assert (row["low"], row["typical"], row["high"], row["n_sources"]) == (
        pytest.approx(0.30), pytest.approx(0.265), pytest.approx(0.50), 3)
    # target -> lead = inquiry -> mql: one source with a range only -> typical = midpoint 0.175
    assert b.loc["target", "typical"] == pytest.approx(0.175)


def test_mapping_to_an_unknown_phase_names_the_key():
    e = Engagement.from_yaml(DEMO / "engagement.yaml")
    e.config.benchmark_stages = {"qualified": "mql"}
    with pytest.raises(ConfigError, match=r"key `benchmark_stages`.*\['qualified'\]"):
        benchmarks_for(e)
