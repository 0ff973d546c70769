"""The steps layer: StepResult (the contract other layers build on) and the seven step calls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from toolkit.steps import STEP_KEYS, SUMMARY_COLUMNS, StepResult, summary_frame  # noqa: E402


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
    with pytest.raises(ValueError, match=r"`language` must be one of \['en'\], but 'nl'"):
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


def test_repr_names_the_parts_not_the_data():
    text = repr(_result())
    assert text.startswith("StepResult(step=5, key='diagnosis'") and "fruit" in text
    assert "rank" not in text
