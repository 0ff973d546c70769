"""Step 7's comparison with the previous report for its notebook (toolkit.steps.since_previous):
the previous run found by `funnel run`'s rule, this run's state made as the report makes it, and
a first run said in words, never an error."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from conftest import DEMO

from toolkit import steps
from toolkit.analysis.run_state import write_run_state
from toolkit.report.loop import loop_state
from toolkit.steps.store import run_file


@pytest.fixture(scope="module")
def demo():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engagement = steps.open_engagement(DEMO / "engagement.yaml")
        results = steps.run_all(engagement, steps=[5, 6, 7])
        state, _ = loop_state(engagement, results, None)
    return engagement, results, state


def _write(folder, state):
    folder.mkdir(parents=True)
    write_run_state(folder, state)


def test_a_first_run_says_so_in_words(demo, tmp_path):
    engagement, results, _ = demo
    result = steps.since_previous(engagement, results=results, out=tmp_path / "demo" / "today")
    assert result.step == 7 and not result.tables and result.summary.empty
    assert result.problems["since"].startswith("no previous report: this is the first run")
    assert "first run" in result.headline


def test_the_previous_report_is_found_by_the_rule_of_funnel_run(demo, tmp_path):
    engagement, results, state = demo
    reports = tmp_path / "demo"
    _write(reports / "2026-01-05", dict(state, run_at="2026-01-05T09:00:00+00:00"))
    # measured after this export: no previous run of it, though its state was written last
    later = (pd.Timestamp(state["as_of"]) + pd.DateOffset(years=1)).isoformat()
    _write(reports / "2026-03-01", dict(state, as_of=later,
                                                 run_at="2026-03-01T09:00:00+00:00"))
    # another engagement's report: never this one's previous run
    _write(reports / "2026-02-01", dict(state, engagement="another",
                                                 run_at="2026-02-01T09:00:00+00:00"))
    result = steps.since_previous(engagement, results=results, out=reports / "2026-04-01")
    assert "(2026-01-05, as of" in result.headline
    assert "since" not in result.problems
    # the same export twice: nothing added, removed or restated, every finding still there and
    # every KPI with both values at a difference of zero
    changes = result.tables["data changes"].set_index("change")["records"].to_dict()
    assert changes == {"added": 0, "removed": 0, "restated": 0, "in both": len(state["records"])}
    assert set(result.tables["findings"]["status"]) == {"still"}
    kpis = result.tables["kpis"].dropna(subset=["previous", "current"])
    assert len(kpis) > 0 and (kpis["difference"].abs() < 1e-12).all()
    counts = result.summary.set_index("measure")["value"]
    assert counts["findings new"] == 0 and counts["records restated"] == 0
    # the report's comparison, computed once: the same tables as the page of `funnel run`
    _, page = loop_state(engagement, results, state)
    for name, table in page.tables.items():
        pd.testing.assert_frame_equal(result.tables[name], table)


def test_a_folder_given_is_the_previous_run_as_with_since(demo, tmp_path):
    engagement, results, state = demo
    _write(tmp_path / "elsewhere", state)
    result = steps.since_previous(engagement, results=results, previous=tmp_path / "elsewhere",
                                  out=tmp_path / "demo" / "today")
    assert "(elsewhere, as of" in result.headline and len(result.tables["kpis"]) > 0


def test_in_a_run_the_notebook_compares_the_runs_own_results(demo, tmp_path):
    engagement, results, state = demo
    _write(tmp_path / "demo" / "before", state)
    given = steps.since_previous(engagement, results=results, out=tmp_path / "demo" / "now")
    with run_file(engagement, results, seed=0) as run:
        opened = steps.open_engagement(DEMO / "engagement.yaml", run=run)
        shared = steps.since_previous(opened, out=tmp_path / "demo" / "now")
    assert shared.headline == given.headline
    for name, table in given.tables.items():
        pd.testing.assert_frame_equal(shared.tables[name], table)


def _notebook_cells(parameters: dict) -> str:
    """Notebook 07's parameters cell, the parameters papermill injects (rendered in-process, as
    `execute_notebooks` asks papermill to), and its cell "Since the previous report"."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    nb = load_notebook_node(str(DEMO.parents[1] / "notebooks" / "07_steering.ipynb"))
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]
    injected = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    since = next(c for c in code if "since_previous" in c)
    return "\n".join([code[injected - 1], code[injected], since])


def test_notebook_07_looks_for_the_previous_report_beside_the_runs_out_folder(demo, tmp_path):
    # `funnel run --out X --notebooks`: the notebook's "Since the previous report" compares with
    # the report beside X (as the run's page does), not with one beside reports/<engagement>/
    engagement, results, state = demo
    clients = tmp_path / "clients" / "acme"
    _write(clients / "2026-01", dict(state, run_at="2026-01-05T09:00:00+00:00"))
    with run_file(engagement, results, seed=0) as run:
        namespace = {"steps": steps,
                     "e": steps.open_engagement(DEMO / "engagement.yaml", run=run)}
        exec(_notebook_cells({"engagement": str(DEMO / "engagement.yaml"), "run": run,  # noqa: S102
                              "out": str(clients / "2026-02")}), namespace)
    comparison = namespace["comparison"]
    assert namespace["out"] == str(clients / "2026-02")
    assert "(2026-01, as of" in comparison.headline and "since" not in comparison.problems
    assert len(comparison.tables["kpis"]) > 0


def test_notebook_07_compares_with_the_report_the_run_compared_with(demo, tmp_path):
    # `funnel run --since OLD --notebooks`: the run passes OLD as `previous`; the notebook
    # compares with it, not with the newer report its rule would find beside `out`
    engagement, results, state = demo
    clients = tmp_path / "clients" / "acme"
    _write(clients / "2026-01", dict(state, run_at="2026-01-05T09:00:00+00:00"))
    _write(clients / "2026-02", dict(state, run_at="2026-02-05T09:00:00+00:00"))
    elsewhere = tmp_path / "archive" / "2025-12"
    _write(elsewhere, dict(state, run_at="2025-12-05T09:00:00+00:00"))
    with run_file(engagement, results, seed=0) as run:
        namespace = {"steps": steps,
                     "e": steps.open_engagement(DEMO / "engagement.yaml", run=run)}
        exec(_notebook_cells({"engagement": str(DEMO / "engagement.yaml"), "run": run,  # noqa: S102
                              "out": str(clients / "2026-03"), "previous": str(elsewhere)}),
             namespace)
    assert "(2025-12, as of" in namespace["comparison"].headline


def test_notebook_07_without_out_looks_in_the_default_report_folder(demo, tmp_path, monkeypatch):
    # run by hand (no `out`): the default folder of `funnel run`, reports/<engagement>/<today>/
    import toolkit.steps.since as since_module
    engagement, results, state = demo
    seen = []
    monkeypatch.setattr(since_module, "report_folder",
                        lambda name: seen.append(name) or tmp_path / name / "today")
    with run_file(engagement, results, seed=0) as run:
        namespace = {"steps": steps,
                     "e": steps.open_engagement(DEMO / "engagement.yaml", run=run)}
        exec(_notebook_cells({"run": run}), namespace)  # noqa: S102
    assert namespace["out"] == "" and seen == [engagement.name]
    assert namespace["comparison"].problems["since"].startswith("no previous report")
