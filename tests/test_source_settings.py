"""The typed settings a loader is given (issue 22, "typed edges"): `resolve_source` returns a
frozen `SourceSettings` whose fields say what they are, instead of a dict with private keys."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from toolkit.io.config import SourceConfig
from toolkit.io.loading import EngagementReading, ReadingSettings, SourceSettings, resolve_source
from toolkit.io.loading.headers import drop_absent_preset_columns


def _salesforce(**extra) -> SourceConfig:
    return SourceConfig.model_validate({
        "name": "deals", "path": "history.csv", "shape": "history", "preset": "salesforce",
        "columns": {"value": "Bedrag"}, "attributes": {"region": "Regio"},
        "records": {"path": "Opportunity.csv", "columns": {"is_won": "Gewonnen"}}, **extra})


def test_a_preset_fills_in_under_the_yaml_and_says_which_columns_it_named():
    lent = EngagementReading(timezone="Europe/Amsterdam", as_of="2025-06-30",
                             missing_values=("-",), fold_categories=False, currency="USD")
    settings = resolve_source(_salesforce(), engagement=lent)
    assert isinstance(settings, SourceSettings)
    # the YAML wins; the preset fills in the rest
    assert settings.columns["value"] == "Bedrag"
    assert settings.columns["record_id"] == "OpportunityId"
    assert settings.date_format == "mdy" and settings.delimiter == ","
    # the roles the preset named and the YAML did not (an optional one may be absent)
    assert "value" not in settings.preset_columns
    assert settings.preset_columns["currency"] == "CurrencyIsoCode"
    assert settings.preset_attributes == {}  # the preset's history shape names no attribute
    # the per-record file: its preset's defaults, its own preset columns, the engagement's loans
    records = settings.records
    assert isinstance(records, ReadingSettings) and records.path == "Opportunity.csv"
    assert records.columns["is_won"] == "Gewonnen" and records.columns["record_id"] == "Id"
    assert "is_won" not in records.preset_columns
    assert records.preset_columns["is_closed"] == "IsClosed"
    assert records.engagement is lent and settings.engagement is lent


def test_the_settings_are_frozen_and_hold_no_private_keys():
    settings = resolve_source(_salesforce())
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.columns = {}  # type: ignore[misc]
    names = [f.name for f in dataclasses.fields(settings)]
    assert not [n for n in names if n.startswith("_")]
    assert settings.engagement == EngagementReading()  # without an engagement: the defaults


def test_without_a_preset_nothing_is_a_preset_column():
    source = SourceConfig.model_validate({
        "path": "x.csv", "shape": "snapshot",
        "columns": {"record_id": "Id", "current_stage": "Fase", "created_at": "Datum"}})
    settings = resolve_source(source)
    assert settings.preset_columns == {} and settings.records is None
    assert settings.true_values == ("true", "1", "1.0", "yes", "ja", "waar")


def test_a_lead_list_without_dates_reads_none_of_the_presets_date_columns():
    source = SourceConfig.model_validate({
        "path": "deals.csv", "shape": "snapshot", "preset": "pipedrive", "dated": False})
    settings = resolve_source(source)
    assert not {"created_at", "closed_at"} & set(settings.columns)
    assert settings.columns["status"] == "Deal - Status"


def test_a_missing_optional_preset_column_gives_new_settings_and_a_note():
    source = SourceConfig.model_validate({
        "name": "deals", "path": "deals.csv", "shape": "snapshot", "preset": "pipedrive"})
    settings = resolve_source(source)
    raw = pd.DataFrame(columns=["Deal - ID", "Deal - Stage", "Deal - Status",
                                "Deal - Deal created", "Deal - Owner", "source_row"])
    notes: list[str] = []
    kept = drop_absent_preset_columns(raw, settings, file="/x/deals.csv", notes=notes)
    assert "closed_at" not in kept.columns and "value" not in kept.columns
    assert "lost_reason" not in kept.attributes and kept.attributes["owner"] == "Deal - Owner"
    assert notes == ["deals.csv: the preset's column(s) ['Deal - Deal closed on', 'Deal - Value', "
                     "'Deal - Lost reason'] are not in this export; loaded without them"]
    # the settings given are not changed
    assert settings.columns["closed_at"] == "Deal - Deal closed on"
    assert settings.attributes["lost_reason"] == "Deal - Lost reason"
    # an export with every column: the same settings, no note
    full = raw.assign(**{"Deal - Deal closed on": None, "Deal - Value": None,
                         "Deal - Lost reason": None})
    assert drop_absent_preset_columns(full, settings, file="deals.csv", notes=notes) is settings
    assert len(notes) == 1


def test_the_stage_is_kept_when_no_status_says_the_outcome():
    # Without a status the stage is needed: the loader's "column not found" says so, not a note.
    source = SourceConfig.model_validate({
        "name": "deals", "path": "deals.csv", "shape": "snapshot", "preset": "pipedrive"})
    resolved = resolve_source(source)
    settings = dataclasses.replace(resolved, columns={
        k: v for k, v in resolved.columns.items() if k != "status"})
    raw = pd.DataFrame(columns=["Deal - ID", "source_row"])
    kept = drop_absent_preset_columns(raw, settings, file="deals.csv", notes=[])
    assert kept.columns["current_stage"] == "Deal - Stage"
    assert "value" not in kept.columns
