"""The steps layer: StepResult (the contract other layers build on) and the seven step calls."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import dataclasses  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from conftest import DEMO, REPO  # noqa: E402
from corpus import CASES as CORPUS  # noqa: E402
from edge import CASES, empty_tables, write_case  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from toolkit import Engagement, steps  # noqa: E402
from toolkit.base.exceptions import ConfigError  # noqa: E402
from toolkit.steps import (  # noqa: E402
    STEP_KEYS,
    SUMMARY_COLUMNS,
    NotComputed,
    StepResult,
    summary_frame,
)

GOLDEN = REPO / "tests" / "golden"
from toolkit.steps.store import run_file  # noqa: E402

# The module of step 5 (the package's name `diagnosis` is the step function)
step_diagnosis = importlib.import_module("toolkit.steps.diagnosis")


# ------------------------------------------------------------------------------- StepResult
def _result(**changes) -> StepResult:
    fields = dict(
        step=5, key="diagnosis",
        tables={"fruit": pd.DataFrame({"rank": [1], "finding": ["<b>owner = x</b>"]})},
        results={"fruit": object()},
        figures={"bottlenecks": lambda ax=None: ax},
        problems={"scan": "too few records to conclude"},
        summary=summary_frame([{"measure": "extra orders", "value": 56.0, "ci_low": 49.0,
                                "ci_high": 63.0, "n": 2091, "status": "leak"}]),
        headline="Leak first: opportunity -> proposal converts 23.6% against 40.0%.",
        sheets={"Low-hanging fruit": pd.DataFrame({"rank": [1]})},
        conclusions_by_language={"en": ["Verdict: **leak**.", "No finding is strong enough."]})
    fields.update(changes)
    return StepResult(**fields)


def test_summary_frame_has_the_contract_columns_and_types():
    frame = summary_frame([{"measure": "records", "value": 12000, "n": 12000},
                           {"measure": "weakest step", "value": 0.25, "ci_low": 0.23,
                            "ci_high": 0.27, "n": 2091.0, "status": "significantly below"}])
    assert tuple(frame.columns) == SUMMARY_COLUMNS == (
        "measure", "value", "ci_low", "ci_high", "n", "status")
    assert str(frame["n"].dtype) == "Int64" and frame["n"].tolist() == [12000, 2091]
    assert frame["value"].dtype == float and pd.isna(frame.loc[0, "ci_low"])
    assert frame["status"].tolist() == ["", "significantly below"]
    assert summary_frame().empty and tuple(summary_frame().columns) == SUMMARY_COLUMNS


def test_a_step_result_is_frozen_and_its_mappings_read_only():
    result = _result()
    with pytest.raises(AttributeError):
        result.headline = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.tables["other"] = pd.DataFrame()  # type: ignore[index]
    with pytest.raises(TypeError):
        result.problems["other"] = "why"  # type: ignore[index]
    assert list(result.tables) == ["fruit"] and result.problems == {
        "scan": "too few records to conclude"}


def test_the_mappings_are_copies_of_what_was_passed():
    problems = {"scan": "too few"}
    result = _result(problems=problems)
    problems["chart"] = "later"
    assert list(result.problems) == ["scan"]


def test_conclusions_per_language_and_a_clear_error_for_another():
    result = _result()
    assert result.conclusions() == ["Verdict: **leak**.", "No finding is strong enough."]
    assert result.conclusions("en") == result.conclusions()
    result.conclusions().append("changed")  # a copy: the result stays as it was
    assert len(result.conclusions()) == 2
    with pytest.raises(ConfigError, match=r"`language` must be one of \['en'\], but 'nl'"):
        result.conclusions("nl")


@pytest.mark.parametrize("changes, message", [
    ({"step": 5, "key": "steering"}, "step and key must be one of"),
    ({"step": 8, "key": "diagnosis"}, "step and key must be one of"),
    ({"summary": "12 records"}, r"summary must be a DataFrame with the columns"),
    ({"summary": pd.DataFrame({"measure": ["x"]})}, r"summary must be a DataFrame"),
    ({"tables": {"fruit": [1, 2]}}, r"tables\['fruit'\] must be a DataFrame, but a list"),
    ({"sheets": {"Fruit": "x"}}, r"sheets\['Fruit'\] must be a DataFrame"),
    ({"problems": {"scan": None}}, r"problems\['scan'\] must be a str"),
    ({"figures": {"bottlenecks": "plot"}}, r"figures\['bottlenecks'\] must be callable"),
    ({"tables": [pd.DataFrame()]}, "tables must be a mapping of names"),
    ({"headline": None}, "headline must be a str"),
])
def test_a_malformed_result_is_refused_naming_the_field(changes, message):
    with pytest.raises((TypeError, ValueError), match=message):
        _result(**changes)


def test_every_step_has_its_key():
    assert dict(STEP_KEYS) == {1: "baseline", 2: "process_model", 3: "kpis", 4: "measurement",
                               5: "diagnosis", 6: "improvement", 7: "steering"}
    for step, key in STEP_KEYS.items():
        assert StepResult(step=step, key=key).summary.empty


def test_html_shows_headline_problems_tables_and_summary_escaped():
    page = _result()._repr_html_()
    headline, problem = page.index("Leak first"), page.index("too few records to conclude")
    table, summary = page.index("fruit</b>"), page.index("summary</b>")
    assert headline < problem < table < summary
    assert "&lt;b&gt;owner = x&lt;/b&gt;" in page and "<b>owner = x</b>" not in page
    assert "extra orders" in page and "2091" in page


def test_html_of_a_long_table_shows_its_first_rows_and_says_so():
    big = pd.DataFrame({"n": range(100)})
    page = _result(tables={"scan": big})._repr_html_()
    assert "first 12 of 100 rows" in page and "<td>11</td>" in page and "<td>12</td>" not in page


def test_a_part_is_shown_or_the_reason_it_is_missing():
    result = _result()
    assert result.table("fruit") is result.tables["fruit"]
    missing = result.table("segment scan", problem="scan")
    assert missing == NotComputed("segment scan", "too few records to conclude")
    assert repr(missing) == "segment scan: not computed. too few records to conclude"
    # no reason under that name: every problem of the step is named
    assert result.table("stalled").reason == "scan: too few records to conclude"
    assert result.draw("mix vs rate").reason == "scan: too few records to conclude"
    assert "&lt;" in NotComputed("x", "<b>")._repr_html_()
    assert StepResult(step=1, key="baseline").table("funnel").reason.startswith(
        "this step's data hold nothing")


def test_a_name_the_step_cannot_produce_is_refused_with_the_nearest_name():
    # a typo used to read as "not computed: this step's data hold nothing for it"
    with pytest.raises(KeyError, match=r"no table 'segment_scan'\. Did you mean 'segment scan'\?"):
        _result().table("segment_scan")
    with pytest.raises(KeyError, match=r"no figure 'bottleneck'\. Did you mean 'bottlenecks'\?"):
        _result().draw("bottleneck")
    with pytest.raises(KeyError, match="Its tables are"):
        StepResult(step=1, key="baseline").table("quarantine")


def test_the_names_each_step_can_produce_are_those_its_docstring_pages_and_notebooks_use():
    import json
    import re

    import toolkit.steps as steps
    from toolkit.base.paths import NOTEBOOKS_DIR
    from toolkit.report.pages import PAGES
    from toolkit.steps.result import STEP_FIGURES, STEP_TABLES
    for step, key in STEP_KEYS.items():
        doc = " ".join(getattr(steps, key).__doc__.split())
        for kind, known in (("Tables", STEP_TABLES), ("Figures", STEP_FIGURES)):
            listed = re.search(rf"{kind}: (.*?)\.", doc)
            names = set(re.findall(r"`([^`]+)`", listed.group(1))) if listed else set()
            assert names == known[step], (step, kind)
        # views the report derives from a step's tables (render._derived_tables)
        derived = {"quarantine by reason", "required volume first phase"}
        for section in PAGES.get(step, ()):
            assert section.table in {None, *STEP_TABLES[step], *derived}, section
            assert set(section.figures) <= STEP_FIGURES[step], section
    for number in STEP_KEYS:
        notebook = next(NOTEBOOKS_DIR.glob(f"0{number}_*.ipynb"))
        code = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                       if c["cell_type"] == "code")
        assert set(re.findall(r'result\.table\("([^"]+)"', code)) <= STEP_TABLES[number]
        assert set(re.findall(r'result\.draw\("([^"]+)"', code)) <= STEP_FIGURES[number]


def test_draw_passes_the_axes_on():
    marker = object()
    assert _result().draw("bottlenecks", ax=marker) is marker


def test_repr_names_the_parts_not_the_data():
    text = repr(_result())
    assert text.startswith("StepResult(step=5, key='diagnosis'") and "fruit" in text
    assert "rank" not in text


# ------------------------------------------------------------------------------- the steps
def _draw_all(result: StepResult) -> list[str]:
    """Draw every figure of `result` with warnings as errors; the texts drawn on the axes."""
    texts = []
    for name, draw in result.figures.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            drawn = draw()
            fig = drawn if isinstance(drawn, Figure) else drawn.figure
            fig.canvas.draw()
        assert fig.axes, (result.key, name)
        texts += [t.get_text() for ax in fig.axes for t in ax.texts]
        plt.close(fig)
    return texts


def _check_contract(results: dict[int, StepResult]) -> None:
    assert list(results) == sorted(results)
    for step, result in results.items():
        assert isinstance(result, StepResult) and result.step == step
        assert result.key == STEP_KEYS[step]
        assert isinstance(result.summary, pd.DataFrame)
        assert tuple(result.summary.columns) == SUMMARY_COLUMNS
        assert isinstance(result.headline, str) and result.headline and "\n" not in result.headline
        assert "nan" not in result.headline.lower().replace("nans", "")
        lines = result.conclusions()
        assert lines and all(isinstance(line, str) and line for line in lines)
        assert not any(" nan" in line.lower() for line in lines), lines
        assert all(why and isinstance(why, str) for why in result.problems.values())


@pytest.fixture(scope="module")
def demo():
    return Engagement.from_yaml(DEMO / "engagement.yaml")


@pytest.fixture(scope="module")
def demo_results(demo):
    return steps.run_all(demo, seed=0)


def test_every_step_on_the_demo_keeps_the_contract_and_draws(demo_results):
    _check_contract(demo_results)
    assert list(demo_results) == [1, 2, 3, 4, 5, 6, 7]
    drawn = {r.key: list(r.figures) for r in demo_results.values()}
    assert drawn == {
        "baseline": ["funnel", "timeline"], "process_model": ["process schema"],
        "kpis": ["kpi tree"],
        "measurement": ["cohort conversion", "cohort heatmap", "time to convert", "seasonality"],
        "diagnosis": ["bottlenecks", "segment scan", "mix vs rate"], "improvement": [],
        "steering": ["scorecard", "control chart"]}
    for result in demo_results.values():
        _draw_all(result)
    # the demo declares no change: step 6 says how to declare one, every other part is computed
    assert {s: list(r.problems) for s, r in demo_results.items() if r.problems} == {6: ["change"]}
    assert "add an entry under `changes:`" in demo_results[6].problems["change"]


def test_the_steps_reproduce_the_notebooks_conclusions_on_the_demo(demo_results):
    # tests/golden/conclusions_demo.json: the "what we concluded" text of each notebook on the
    # demo, captured from the notebooks' own calls before the steps layer existed
    golden = json.loads((GOLDEN / "conclusions_demo.json").read_text(encoding="utf-8"))
    assert {str(s): r.conclusions() for s, r in demo_results.items()} == golden


def test_the_demo_headlines_are_the_findings_of_the_answer_key(demo_results):
    r = demo_results
    assert r[1].headline == ("12,000 records entered, 242 became an order; the weakest step so "
                             "far is opportunity → proposal at 25%.")
    assert r[5].headline.startswith("Leak first") and r[5].summary.loc[0, "status"] == "leak"
    assert r[6].headline.startswith("Raising opportunity → proposal from 24% to 40%")
    assert r[7].headline.startswith("In 2026-07, 2 of 4 KPIs with a target are on target.")


def test_the_step_sheets_are_the_workbooks_parts(demo_results):
    sheets = {s: list(r.sheets) for s, r in demo_results.items() if r.sheets}
    assert sheets == {1: ["Funnel", "Quarantine", "Reconciliation"], 4: ["KPIs"],
                      5: ["Low-hanging fruit", "Segment scan"], 6: ["Action plan"],
                      7: ["Scorecard"]}
    card = demo_results[7].sheets["Scorecard"]
    assert list(card.columns[:3]) == ["kpi", "label", "unit"]
    # the rate KPIs management steers on: the four conversions, the cumulative one, the win rate
    assert len(card) == 6 and card["kpi"].str.startswith("conversion_").sum() == 4
    assert demo_results[4].sheets["KPIs"] is demo_results[3].results["values"]


# A hand-made funnel of two phases: 60 leads three days apart from 2 January 2025, every fourth
# one won 10 days after entering, the others lost after 5 days; all mature at the as-of date.
def _two_phase(target: float | None = 0.4) -> Engagement:
    start = pd.Timestamp("2025-01-02")
    events, records = [], []
    for i in range(60):
        entered = start + pd.Timedelta(days=3 * i)
        won = i % 4 == 0
        events.append((f"R{i}", "lead", entered, "Lead", len(events) + 2))
        if won:
            events.append((f"R{i}", "order", entered + pd.Timedelta(days=10), "Won",
                           len(events) + 2))
        records.append((f"R{i}", entered, "won" if won else "lost",
                        entered + pd.Timedelta(days=10 if won else 5),
                        None if won else "lead", 1000.0))
    ev = pd.DataFrame(events, columns=["record_id", "phase", "entered_at", "source_stage",
                                       "source_row"])
    rec = pd.DataFrame(records, columns=["record_id", "created_at", "outcome", "closed_at",
                                         "lost_at_phase", "value"])
    return Engagement.from_tables(
        ev, rec, phases=[{"key": "lead", "label": "Lead"}, {"key": "order", "label": "Order"}],
        as_of=pd.Timestamp("2025-12-31"), cohort_window_days=30,
        targets={} if target is None else {"conversion_lead_order": target})


def test_a_hand_made_funnel_through_every_step():
    results = steps.run_all(_two_phase(), seed=0)
    _check_contract(results)
    for result in results.values():
        _draw_all(result)
    # 15 of 60 leads became an order: 25%. Wilson 95% by hand (z = 1.96, z^2 = 3.8416):
    # centre (0.25 + 3.8416/120) / (1 + 3.8416/60) = 0.28201 / 1.06403 = 0.26504, half-width
    # 1.96 * sqrt(0.25 * 0.75 / 60 + 3.8416 / 14400) / 1.06403 = 0.10728 -> 0.1578 to 0.3723
    weakest = results[1].summary.set_index("measure").loc["weakest step lead → order"]
    assert weakest["value"] == 0.25 and weakest["n"] == 60
    assert (round(weakest["ci_low"], 4), round(weakest["ci_high"], 4)) == (0.1578, 0.3723)
    records = results[1].summary.set_index("measure").loc["records"]
    assert records["value"] == 60
    assert results[2].headline == "The process has 2 phases: Lead → Order."
    # the interval's top (37.2%) is below the target of 40%: significantly off target
    conversion = results[4].summary.set_index("measure").loc["Conversion Lead → Order within 30 days"]
    assert conversion["value"] == 0.25 and conversion["status"] == "significantly off target"
    assert results[4].headline.startswith(
        "1 of 1 conversions measured on mature cohorts: 1 significantly off target.")
    assert results[5].summary.loc[0, "status"] == "one transition"


def test_without_a_target_the_steps_say_so_instead_of_judging():
    results = steps.run_all(_two_phase(target=None), seed=0)
    _check_contract(results)
    conversion = results[4].summary.set_index("measure").loc["Conversion Lead → Order within 30 days"]
    assert conversion["status"] == "no target"
    assert "orders_per_month" in results[6].problems["required"]


@pytest.fixture(scope="module")
def edge_engagements(tmp_path_factory):
    root = tmp_path_factory.mktemp("edge_steps")
    out = {case: Engagement.from_yaml(write_case(root / case, case), use_cache=False)
           for case in CASES}
    out["empty_tables"] = empty_tables()
    return out


@pytest.mark.parametrize("case", [*CASES, "empty_tables"])
def test_every_step_on_an_edge_engagement_states_what_it_cannot_compute(edge_engagements, case):
    e = edge_engagements[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a step records its problems; it never warns or raises
        results = steps.run_all(e, seed=0)
    _check_contract(results)
    texts = [t for r in results.values() for t in _draw_all(r)]
    # too little data for a scenario or a chart: each part names its reason
    assert "too few records to conclude" in results[6].problems["scenario"]
    assert results[6].headline.startswith("No scenario: ")
    assert "chart" in results[7].problems and "report" in results[7].problems
    assert "control chart" not in results[7].figures
    if len(e.records) == 0:
        assert results[1].problems["funnel"].startswith("no record could be used")
        assert results[1].headline == "No record could be used: see the quarantine reasons."
        assert results[5].summary.loc[0, "status"] == "insufficient data"
        assert any(t.startswith("Nothing to show yet") for t in texts)


def test_run_all_computes_the_diagnosis_once(monkeypatch):
    calls = {"low_hanging_fruit": 0, "bottleneck_sizing": 0}

    def counted(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    counted(step_diagnosis, "low_hanging_fruit")
    # wherever steps 6 and 7 could size the bottlenecks again: every analysis module holding it
    for name, module in list(sys.modules.items()):
        if name.startswith("toolkit.analysis") and hasattr(module, "bottleneck_sizing"):
            counted(module, "bottleneck_sizing")
    results = steps.run_all(_two_phase(), seed=0)
    assert calls == {"low_hanging_fruit": 1, "bottleneck_sizing": 0}
    assert set(results) == set(range(1, 8))
    # a step run alone sizes what it needs itself
    steps.improvement(_two_phase(), seed=0)
    assert calls["bottleneck_sizing"] == 1


def test_run_all_runs_the_steps_asked_for():
    results = steps.run_all(_two_phase(), seed=0, steps=[7, 5])
    assert list(results) == [5, 7]
    for wrong in ([0], [8], ["5"]):
        with pytest.raises(ConfigError, match=r"`steps` must be one of \[1, 2, 3, 4, 5, 6, 7\]"):
            steps.run_all(_two_phase(), steps=wrong)
    with pytest.raises(ConfigError, match="`steps` must name at least one step"):
        steps.run_all(_two_phase(), steps=[])
    with pytest.raises(ConfigError, match="`seed` must be a whole number"):
        steps.run_all(_two_phase(), seed=None)


def test_an_earlier_result_must_be_the_right_steps():
    e = _two_phase()
    first = steps.baseline(e)
    with pytest.raises(TypeError, match=r"`diagnosis` must be the StepResult of step 5 "
                                        r"\(diagnosis\), but step 1 \(baseline\) was passed"):
        steps.steering(e, diagnosis=first)
    with pytest.raises(TypeError, match="`kpis` must be the StepResult of step 3"):
        steps.measurement(e, kpis=pd.DataFrame())


def test_a_step_given_earlier_results_equals_the_step_alone():
    e = _two_phase()
    alone, chained = steps.steering(e), steps.steering(e, diagnosis=steps.diagnosis(e))
    pd.testing.assert_frame_equal(alone.tables["scorecard"], chained.tables["scorecard"])
    assert alone.conclusions() == chained.conclusions() and alone.headline == chained.headline
    alone, chained = steps.measurement(e), steps.measurement(e, kpis=steps.kpis(e))
    pd.testing.assert_frame_equal(alone.tables["kpis"], chained.tables["kpis"])


def test_a_bad_engagement_file_still_raises(tmp_path, history_engagement):
    path = history_engagement(["D1;Suspect;03-01-2025;100", "D1;Lead;10-01-2025;100"])
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["kpis"] = [{"name": "c", "kind": "conversoin", "from_phase": "lead",
                    "to_phase": "opportunity"}]
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    e = Engagement.from_yaml(path, use_cache=False)  # loading reads the exports only
    with pytest.raises(ConfigError, match=r"engagement\.yaml, key `kpis\[0\]\.kind`.*conversoin"):
        steps.check_engagement(e)
    with pytest.raises(ConfigError, match=r"key `kpis\[0\]\.kind`"):
        steps.run_all(e)


def test_a_lead_list_without_dates_runs_every_step_and_names_what_needs_dates(tmp_path):
    # eight leads with a converted flag: 4 converted (L1, L4, L5, L7)
    (tmp_path / "leads.csv").write_text("Lead;Bron;Omgezet\n" + "\n".join(
        ["L1;web;1", "L2;web;0", "L3;web;0", "L4;beurs;1", "L5;beurs;1", "L6;beurs;0", "L7;web;1",
         "L8;beurs;0"]) + "\n", encoding="utf-8")
    doc = {"name": "leads", "phases": [{"key": "lead", "label": "Lead"},
                                       {"key": "customer", "label": "Klant"}],
           "stage_mapping": {},
           "sources": [{"name": "leads", "path": "leads.csv", "shape": "snapshot", "dated": False,
                        "columns": {"record_id": "Lead", "is_won": "Omgezet"},
                        "attributes": {"bron": "Bron"}}]}
    (tmp_path / "engagement.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    e = Engagement.from_yaml(tmp_path / "engagement.yaml", use_cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = steps.run_all(e, seed=0)
    _check_contract(results)
    for result in results.values():
        _draw_all(result)
    assert results[1].tables["funnel"]["reached"].tolist() == [8, 4]
    needs_dates = {(s, part) for s, r in results.items() for part, why in r.problems.items()
                   if "needs dates" in why}
    assert {(4, "cohorts"), (4, "seasonality"), (5, "fruit"), (6, "plan"), (7, "view")
            } <= needs_dates
    assert results[7].sheets["Scorecard"]["note"].iloc[0].startswith("No scorecard: Steering")


# ------------------------------------------------------------- one computation per funnel run
def test_a_step_result_survives_pickling(demo_results):
    for result in demo_results.values():
        copy = pickle.loads(pickle.dumps(result))
        assert (copy.step, copy.key, copy.headline) == (result.step, result.key, result.headline)
        assert copy.conclusions() == result.conclusions() and copy.problems == result.problems
        assert list(copy.tables) == list(result.tables) and list(copy.figures) == list(result.figures)
        for name, table in result.tables.items():
            pd.testing.assert_frame_equal(copy.tables[name], table)
        pd.testing.assert_frame_equal(copy.summary, result.summary)
        with pytest.raises(TypeError):
            copy.tables["x"] = pd.DataFrame()  # type: ignore[index]
    _draw_all(pickle.loads(pickle.dumps(demo_results[5])))


def test_a_notebook_of_a_run_gets_the_runs_results_explicitly_and_nothing_else_does(
        demo, demo_results):
    assert demo.cache_key
    # a doctored step 5, so a result taken from the run's file is told from one computed afresh
    marked = dataclasses.replace(demo_results[5], headline="from the run's file")
    results = {**demo_results, 5: marked}
    before = dict(os.environ)
    with run_file(demo, results, seed=0) as path:
        assert path and os.environ == before  # nothing travels through the environment
        # the engagement the notebook opens with the run's file answers from it ...
        e = steps.open_engagement(DEMO / "engagement.yaml", run=path)
        assert e.cache_key == demo.cache_key
        assert steps.diagnosis(e, seed=0).headline == "from the run's file"
        # ... another seed or another option is another computation
        assert steps.store.shared_result(e, 5, seed=1) is None
        other = steps.improvement(e, seed=0, uplift="+5pp")
        assert other.tables["experiment"]["uplift"].iloc[0] == pytest.approx(0.05)
        # any other engagement object computes, inside a run or not (the run's own included)
        assert steps.diagnosis(demo, seed=0).headline == demo_results[5].headline
        assert steps.diagnosis(steps.open_engagement(DEMO / "engagement.yaml"),
                               seed=0).headline == demo_results[5].headline
        # the notebooks' kernels are other processes: they read the file they are given
        child = subprocess.run(
            [sys.executable, "-c",
             "import sys; from toolkit import steps; "
             "e = steps.open_engagement(sys.argv[1], run=sys.argv[2]); "
             "print(steps.diagnosis(e, seed=0).headline)", str(DEMO / "engagement.yaml"), path],
            capture_output=True, text=True, timeout=300)
        assert child.returncode == 0, child.stderr
        assert child.stdout.strip() == "from the run's file"
        folder = Path(path).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # the client's tables, private
    assert not folder.exists()
    # the run is over: its file is gone, and opening with it computes
    late = steps.open_engagement(DEMO / "engagement.yaml", run=path)
    assert steps.diagnosis(late, seed=0).headline == demo_results[5].headline


def test_tables_without_a_cache_key_are_never_taken_for_a_runs(demo_results):
    e = _two_phase()
    assert not e.cache_key
    with run_file(e, demo_results, seed=0) as path:
        assert path == ""
        assert steps.baseline(e).headline.startswith("60 records entered")


@pytest.mark.parametrize("name", ["only_terminal_events", "control_characters_in_values"])
def test_corpus_cases_whose_figures_warned_draw_cleanly(name, tmp_path, monkeypatch):
    # every event of a record on one day (time to convert 0 days: an axis without width), and
    # control characters in a segment value (no glyph): both once warned while drawing
    monkeypatch.setenv("FUNNEL_KEY", "corpus-key-0123456789abcdef")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    case = next(c for c in CORPUS if c.name == name)
    e = steps.open_engagement(case.build(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = steps.run_all(e, seed=0)
    _check_contract(results)
    for result in results.values():
        _draw_all(result)
