"""Every mistake an analyst can make in the engagement YAML gets an answer that names the file,
the key path, the value and the fix."""

from __future__ import annotations

import pytest
import yaml
from conftest import MAPPING, PHASES

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError

SOURCE = {"path": "h.csv", "shape": "history",
          "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}


def write(tmp_path, doc=None, text=None):
    path = tmp_path / "engagement.yaml"
    if text is None:
        base = {"name": "t", "phases": PHASES, "stage_mapping": MAPPING, "sources": [SOURCE]}
        base.update(doc or {})
        text = yaml.safe_dump({k: v for k, v in base.items() if v is not None}, sort_keys=False)
    path.write_text(text)
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\nD1;Suspect;13-01-2025\n")
    return path


def test_unknown_key_gets_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)engagement.yaml.*key `stage_maping`: Extra inputs are "
                                          r"not permitted.*Fix: remove it or rename it to "
                                          r"'stage_mapping'"):
        Engagement.from_yaml(write(tmp_path, {"stage_maping": {}}))


def test_missing_key_says_add_it(tmp_path):
    with pytest.raises(ConfigError, match=r"key `phases`: Field required.*Fix: add this key"):
        Engagement.from_yaml(write(tmp_path, {"phases": None}))


def test_stage_mapped_to_an_unknown_phase_lists_the_phases(tmp_path):
    mapping = {**MAPPING, "Demo": "demo_phase"}
    with pytest.raises(ConfigError, match=r"key `stage_mapping`: stage 'Demo' maps to 'demo_phase', "
                                          r"which is not a "
                                          r"phase key; allowed are \["):
        Engagement.from_yaml(write(tmp_path, {"stage_mapping": mapping}))


def test_bad_phase_key_explains_the_rule(tmp_path):
    phases = [{"key": "Lead Phase", "label": "x"}, {"key": "order", "label": "y"}]
    with pytest.raises(ConfigError, match=r"key `phases\[0\].key`: phase key 'Lead Phase' must be "
                                          r"lower-case"):
        Engagement.from_yaml(write(tmp_path, {"phases": phases}))


def test_one_phase_is_not_a_process(tmp_path):
    with pytest.raises(ConfigError, match="at least two phases"):
        Engagement.from_yaml(write(tmp_path, {"phases": [{"key": "order", "label": "Order"}],
                                              "stage_mapping": {"Gewonnen": "won"}}))


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"engagement.yaml: line \d+, column \d+: not valid YAML.*"
                                          r"Fix: check the indentation"):
        Engagement.from_yaml(write(tmp_path, text="name: t\nphases:\n  - key: [lead\n"))


def test_wrong_column_role_suggests_the_right_one(tmp_path):
    source = {**SOURCE, "columns": {**SOURCE["columns"], "created": "Aangemaakt"}}
    with pytest.raises(ConfigError, match=r"(?s)key `sources\[0\]`.*'created' is not a column role; "
                                          r"did you mean 'created_at'\?"):
        Engagement.from_yaml(write(tmp_path, {"sources": [source]}))


def test_duplicate_source_names(tmp_path):
    with pytest.raises(ConfigError, match=r"source names must be unique.*\['h'\]"):
        Engagement.from_yaml(write(tmp_path, {"sources": [SOURCE, SOURCE]}))


def test_unknown_shape_lists_the_shapes(tmp_path):
    with pytest.raises(ConfigError, match=r"key `sources\[0\].shape`: Input should be 'history', "
                                          r"'wide' or 'snapshot' \(got 'histroy'\)"):
        Engagement.from_yaml(write(tmp_path, {"sources": [{**SOURCE, "shape": "histroy"}]}))


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(Exception, match=r"nope.csv: file not found. Fix: check `path`"):
        Engagement.from_yaml(write(tmp_path, {"sources": [{**SOURCE, "path": "nope.csv"}]}))
    with pytest.raises(ConfigError, match=r"elsewhere.yaml: engagement file not found.*funnel new"):
        Engagement.from_yaml(tmp_path / "elsewhere.yaml")


def test_changes_are_declared_with_date_description_and_step(tmp_path):
    from toolkit.io.config import change_step
    keys_in_yaml = [p["key"] for p in PHASES]
    step = f"{keys_in_yaml[0]} -> {keys_in_yaml[1]}"
    change = {"date": "2025-03-01", "description": "new script", "step": step}
    e = Engagement.from_yaml(write(tmp_path, {"changes": [change]}))
    assert [c.step for c in e.config.changes] == [step]
    assert str(e.config.changes[0].date) == "2025-03-01"
    with pytest.raises(ConfigError, match=r"key `changes\[0\].step`: 'leads' is not a step.*Fix: "
                                          r"name the transition"):
        Engagement.from_yaml(write(tmp_path, {"changes": [{**change, "step": "leads"}]}))
    keys = ["target", "lead", "order"]
    assert change_step("lead", keys) == ("lead", "order")
    assert change_step("target -> lead", keys) == ("target", "lead")
    assert change_step("target → order", keys) == ("target", "order")
    with pytest.raises(ValueError, match="'order -> lead' is not a step"):
        change_step("order -> lead", keys)


def test_the_report_language_is_nl_or_en(tmp_path):
    from toolkit.io.config import load_config
    assert load_config(write(tmp_path, {"language": "nl"})).language == "nl"
    assert load_config(write(tmp_path)).language == "en"  # engagements written before the key
    with pytest.raises(ConfigError, match=r"key `language`: Input should be 'nl' or 'en' "
                                          r"\(got 'NL'\)"):
        load_config(write(tmp_path, {"language": "NL"}))


def test_the_currency_is_an_iso_code(tmp_path):
    from toolkit.io.config import load_config
    assert load_config(write(tmp_path, {"currency": "USD"})).currency == "USD"
    with pytest.raises(ConfigError, match=r"key `currency`: .*'EURO' is not one.*Fix: write the "
                                          r"three-letter code"):
        load_config(write(tmp_path, {"currency": "EURO"}))


def test_the_report_edition_is_client_unless_the_yaml_says_training(tmp_path):
    from toolkit.io.config import load_config
    assert load_config(write(tmp_path)).report.edition == "client"
    assert load_config(write(tmp_path, {"report": {"edition": "training"}})).report.edition \
        == "training"
    with pytest.raises(ConfigError, match=r"key `report.edition`: Input should be 'client' or "
                                          r"'training'"):
        load_config(write(tmp_path, {"report": {"edition": "board"}}))


def test_an_attribute_label_must_name_an_attribute_of_a_source(tmp_path):
    source = {**SOURCE, "attributes": {"lead_source": "Fase", "owner": "Deal"}}
    with pytest.raises(ConfigError, match=r"key `report.attribute_labels.lead_sorce`: no source has an "
                                          r"attribute 'lead_sorce'; the attributes are "
                                          r"\['lead_source', 'owner'\] \(did you mean "
                                          r"'lead_source'\?\).*Fix: use a name declared under"):
        Engagement.from_yaml(write(tmp_path, {"sources": [source],
                                              "report": {"attribute_labels": {"lead_sorce": "X"}}}))
    with pytest.raises(ConfigError, match=r"attribute_labels.owner.*the label is empty"):
        Engagement.from_yaml(write(tmp_path, {"sources": [source],
                                              "report": {"attribute_labels": {"owner": "  "}}}))
    config = Engagement.from_yaml(write(tmp_path, {
        "sources": [source], "report": {"attribute_labels": {"owner": " Verkoper "}}})).config
    assert config.report.attribute_labels == {"owner": "Verkoper"}


# Issue 22, typed edges: a rule of the schema raises a pydantic custom error whose type is its code
# and whose context carries the fix (and the key a rule on the whole engagement is about); the
# ConfigError lines are written from those, never parsed out of the message. The text is pinned
# here whole, as users see it.

def _problems(tmp_path, doc) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Engagement.from_yaml(write(tmp_path, doc))
    head, *lines = str(caught.value).split("\n  ")
    assert head == f"{tmp_path / 'engagement.yaml'}: {len(lines)} problem(s) in the engagement file:"
    return lines


def test_a_wrong_key_reads_whole_with_its_suggestion(tmp_path):
    assert _problems(tmp_path, {"lead_phse": "lead"}) == [
        "key `lead_phse`: Extra inputs are not permitted (did you mean 'lead_phase'?) (got "
        "'lead'). Fix: remove it or rename it to 'lead_phase'"]


def test_a_rule_on_the_whole_engagement_names_its_own_key_and_fix(tmp_path):
    assert _problems(tmp_path, {"lead_phase": "leed"}) == [
        "key `lead_phase`: 'leed' is not a phase key (did you mean 'lead'?). Fix: name the phase "
        "whose entries are the qualified leads, one of ['target', 'lead', 'opportunity', "
        "'proposal']"]
    with pytest.raises(ConfigError) as caught:
        Engagement.from_yaml(write(tmp_path, {"lead_phase": "leed"}))
    assert caught.value.key == "lead_phase"  # the key the line names (was None: the model's)


def test_a_field_rule_keeps_where_pydantic_found_it_and_gives_its_fix(tmp_path):
    assert _problems(tmp_path, {"currency": "EURO", "cohort_window_days": True}) == [
        "key `currency`: the currency must be an ISO 4217 code such as EUR or USD, but 'EURO' is "
        "not one (got 'EURO'). Fix: write the three-letter code of the amounts' currency, e.g. "
        "`currency: EUR`",
        "key `cohort_window_days`: the window is a number of days, not true/false (got True). "
        "Fix: write a whole number of days, e.g. `cohort_window_days: 90`"]


def test_a_rule_without_a_fix_of_its_own_gets_the_general_one(tmp_path):
    assert _problems(tmp_path, {"sources": []}) == [
        "key `<top>`: an engagement needs at least one source under `sources`. Fix: correct the "
        "value; see the YAML reference in docs/yaml.md"]


def test_the_rules_are_typed_errors_with_the_fix_and_key_in_their_context():
    from pydantic import ValidationError

    from toolkit.io.config import EngagementConfig
    doc = {"name": "t", "phases": PHASES, "stage_mapping": MAPPING, "sources": [SOURCE],
           "lead_phase": "leed", "currency": "EURO"}
    with pytest.raises(ValidationError) as caught:
        EngagementConfig.model_validate(doc)
    errors = {err["type"]: err for err in caught.value.errors()}
    assert errors["currency_unknown"]["loc"] == ("currency",)
    assert errors["currency_unknown"]["ctx"]["fix"].startswith("write the three-letter code")
    assert "key" not in errors["currency_unknown"]["ctx"]
    # (a rule on the whole engagement runs when the fields are valid)
    with pytest.raises(ValidationError) as caught:
        EngagementConfig.model_validate({**doc, "currency": "EUR"})
    (err,) = caught.value.errors()
    assert err["type"] == "lead_phase_invalid" and err["loc"] == ()
    assert err["ctx"]["key"] == "lead_phase"
    assert err["msg"] == "'leed' is not a phase key (did you mean 'lead'?)"


def test_a_value_that_looks_like_a_placeholder_is_quoted_as_written(tmp_path):
    # pydantic fills a template's {names} from the context: a YAML value is never one
    (line,) = _problems(tmp_path, {"lead_phase": "{fix}{key}"})
    assert line.startswith("key `lead_phase`: '{fix}{key}' is not a phase key. Fix: name the")


def test_a_step_that_is_none_of_the_model_is_refused_with_the_fix(tmp_path):
    from pydantic_core import PydanticCustomError

    from toolkit.analysis.simulation import evaluate_declared_changes
    from toolkit.io.config import change_step
    with pytest.raises(PydanticCustomError) as caught:
        change_step("leads", ["a", "b", "c"])
    assert caught.value.type == "not_a_step"
    assert caught.value.context == {
        "fix": "name the transition the change was made in, one of ['a -> b', 'b -> c']",
        "message": "'leads' is not a step of the phase model"}
    # a change handed to step 6 directly (not through the YAML) says the same
    e = Engagement.from_yaml(write(tmp_path))
    with pytest.raises(ConfigError) as refused:
        evaluate_declared_changes(e, [{"date": "2025-03-01", "description": "x", "step": "leads"}])
    assert str(refused.value) == (
        "key `changes`: changes: 'leads' is not a step of the phase model. Fix: name the "
        "transition the change was made in, one of ['target -> lead', 'lead -> opportunity', "
        "'opportunity -> proposal', 'proposal -> order']")
