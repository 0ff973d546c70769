"""The engagement YAML: its schema, and errors that name the file, the key path and the fix."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from babel.numbers import is_currency
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from toolkit.base.exceptions import ConfigError
from toolkit.base.phases import Phase, PhaseModel
from toolkit.io.limits import (
    MAX_AMOUNT,
    MAX_WINDOW_DAYS,
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
    LimitError,
    check_regular_file,
)
from toolkit.io.limits import (
    YEARS as _YEARS,
)
from toolkit.io.presets import PRESET_DEFAULTS
from toolkit.io.privacy import PrivacyConfig

__all__ = ["SourceConfig", "RecordsConfig", "LookupConfig", "EngagementConfig", "ChangeConfig",
           "ReportConfig", "change_step", "lead_phase_key", "load_config", "SHAPES", "PRESETS",
           "LANGUAGES", "EDITIONS"]

SHAPES = ("history", "wide", "snapshot")
PRESETS = ("salesforce", "hubspot", "pipedrive", "hubspot_contacts", "dynamics", "odoo")
#: The report's languages (the method's own, Dutch, and English) and editions.
LANGUAGES = ("nl", "en")
EDITIONS = ("client", "training")

# The roles a source column can play. Everything else a source offers is an `attribute`.
COLUMN_ROLES = (
    "record_id", "stage", "changed_at", "created_at", "closed_at", "value", "lost_at_stage",
    "is_closed", "is_won", "is_deleted", "current_stage", "status", "currency", "is_active",
)


_RECORD_COLUMNS = ("record_id", "created_at", "outcome", "closed_at", "lost_at_phase", "value")
# Columns of the records table and of result tables (DESIGN.md vocabulary, the KPI table): an
# attribute may not take one of these names. `owner` is allowed (the presets' deal owner); the
# KPI table then names its own responsible-function column `kpi_owner`.
RESERVED_ATTRIBUTE_NAMES = frozenset(_RECORD_COLUMNS + (
    "phase", "from_phase", "to_phase", "segment", "period", "n", "successes", "rate", "ci_low",
    "ci_high", "p_value", "p_adjusted", "kpi", "label", "kind", "unit", "target",
    "higher_is_better", "status_vs_target", "status_code", "reason_code", "immature_n", "open_n",
    "source", "source_row",
    "entered_at", "source_stage", "attribute", "window_days", "method"))


def _check_zone(value: str | None) -> str | None:
    """An IANA time zone name (Europe/Amsterdam, UTC); a typo gets the nearest names."""
    if value is None:
        return value
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(f"not a time zone name{hint} || use an IANA name such as "
                         f"'Europe/Amsterdam' or 'UTC'") from None
    return value


class _Reading(BaseModel):
    """How to read one file: the parts of a locale a CRM export varies in."""

    model_config = ConfigDict(extra="forbid")

    path: str
    columns: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    delimiter: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    header_row: int | None = Field(
        default=None, ge=1,
        description="the spreadsheet row (1-based) holding the headers, when title rows sit above it")
    timezone: str | None = None
    true_values: list[str] = Field(default_factory=lambda: ["true", "1", "1.0", "yes", "ja", "waar"])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @field_validator("header_row", mode="before")
    @classmethod
    def _row_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML's `yes`/`true`, which pydantic would take as row 1
            raise ValueError("the header row is a row number, not true/false || write the row "
                             "that holds the column names, e.g. `header_row: 3`")
        return value

    @field_validator("path")
    @classmethod
    def _usable_path(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("the path contains a NUL character || check the path")
        if len(value) > 4096:
            raise ValueError(f"the path is {len(value):,} characters long || check the path")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in "\r\n\"" or value.isalnum()):
            raise ValueError("a delimiter is one character that is not a letter, digit, quote or "
                             "line break || use the file's separator, e.g. ';', ',', '|' or a tab "
                             "('\\t'), or leave `delimiter:` out to detect it")
        return value

    @field_validator("date_format")
    @classmethod
    def _usable_format(cls, value: str | None) -> str | None:
        if value is None or value in ("dmy", "mdy", "ymd"):
            return value
        if "%" not in value:
            raise ValueError(f"date_format {value!r} is neither a convention nor a strftime format "
                             f"|| use 'dmy' (31-12-2025), 'mdy' (12/31/25), 'ymd' (2025-12-31) "
                             f"or a strftime format such as '%d-%m-%Y %H:%M'")
        import pandas as pd
        try:
            pd.to_datetime(pd.Series(["2025-01-03"]), format=value, errors="coerce")
        except ValueError as exc:
            raise ValueError(f"not a valid strftime format ({exc}) || use 'dmy', 'mdy', 'ymd' or "
                             f"a format such as '%d-%m-%Y %H:%M'") from None
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_names_free(cls, value: dict[str, str]) -> dict[str, str]:
        # An attribute named like a column the toolkit itself writes (the record's `value`, a
        # result's `label` or `n`) would overwrite it or be overwritten: two columns, one name.
        for name in value:
            if name in RESERVED_ATTRIBUTE_NAMES:
                raise ValueError(
                    f"attribute name {name!r} is also a column the toolkit writes (records: "
                    f"{list(_RECORD_COLUMNS)}; results: phase, period, n, label, ...) || rename "
                    f"the attribute, e.g. `{name}_attr: <header>` or a name that says what it "
                    f"holds (`deal_{name}`)")
        return value

    @model_validator(mode="after")
    def _roles(self) -> _Reading:
        for role in self.columns:
            if role not in COLUMN_ROLES:
                close = difflib.get_close_matches(role, COLUMN_ROLES, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(
                    f"{role!r} is not a column role; {hint}roles are {list(COLUMN_ROLES)}; put "
                    f"segment columns under `attributes` instead"
                )
        return self


class RecordsConfig(_Reading):
    """A per-record file beside a stage history (e.g. Salesforce Opportunity.csv)."""


class LookupConfig(_Reading):
    """An attribute lookup table (agent -> team, office, manager; account -> sector), joined onto
    the records by key. Records whose key has no row keep blank attributes and are reported."""

    key: str = Field(description="the lookup file's key column, e.g. 'Agent'")
    on: str = Field(description="the record attribute it matches, e.g. 'agent'")
    personal: list[str] = Field(default_factory=list,
                                description="lookup attributes holding personal data")


class SourceConfig(_Reading):
    """One CRM export of the engagement."""

    name: str | None = None
    shape: Literal["history", "wide", "snapshot"]
    preset: Literal["salesforce", "hubspot", "pipedrive", "hubspot_contacts", "dynamics",
                    "odoo"] | None = None
    stage_columns: dict[str, str] = Field(
        default_factory=dict,
        description="wide shape: source column -> CRM stage name it dates (mapped like any stage)")
    stage_column_pattern: str | None = Field(
        default=None, description="wide shape: regex with a group `stage`, e.g. 'Date entered (?P<stage>.+)'")
    records: RecordsConfig | None = None
    stage: str | None = Field(
        default=None, description="history shape: the CRM stage of every row, for a file that "
                                  "holds one stage only (a closed-deals file: `stage: Won`)")
    adds_to: str | None = Field(
        default=None, description="the name of the source whose records this file dates later "
                                  "phases of (joined on the record id)")
    created_phase: str | None = Field(
        default=None, description="snapshot/wide: the phase the creation date dates (default: the "
                                  "first phase; e.g. the engaged phase for an engage date)")
    personal: list[str] = Field(default_factory=list,
                                description="attributes holding personal data, pseudonymised on load")
    dated: bool = Field(
        default=True, description="snapshot: false for a lead list without any date (one row per "
                                  "lead, its stage or a converted flag): counts, conversions and "
                                  "segment comparisons only; every time-based view says it needs "
                                  "dates")

    @field_validator("stage_column_pattern")
    @classmethod
    def _pattern_with_stage(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import re
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc}) || write it as Python "
                             f"regex, e.g. 'Date entered (?P<stage>.+)'") from None
        if "stage" not in compiled.groupindex:
            raise ValueError("the pattern has no group named `stage` || name the part that is the "
                             "stage: 'Date entered (?P<stage>.+)'")
        return value

    @model_validator(mode="after")
    def _dateless_is_a_snapshot(self) -> SourceConfig:
        if self.dated:
            return self
        if self.shape != "snapshot":
            raise ValueError(f"`dated: false` is for a lead list (one row per record, no dates), "
                             f"which is `shape: snapshot`; a {self.shape} source is made of dates "
                             f"|| set `shape: snapshot`, or remove `dated: false`")
        dates = [role for role in ("created_at", "closed_at", "changed_at") if role in self.columns]
        if dates:
            raise ValueError(f"`dated: false` says the file has no dates, but `columns` names "
                             f"{dates} || remove `dated: false` to use the dates (better: cohorts, "
                             f"durations and trends need them), or remove {dates} from `columns`")
        return self

    @model_validator(mode="after")
    def _preset_has_shape(self) -> SourceConfig:
        if self.preset and (self.preset, self.shape) not in PRESET_DEFAULTS:
            shapes = sorted(shape for preset, shape in PRESET_DEFAULTS if preset == self.preset)
            raise ValueError(f"the preset {self.preset!r} has no {self.shape!r} shape; it has "
                             f"{shapes} || set `shape:` to one of those, or remove `preset:`")
        return self


class ChangeConfig(BaseModel):
    """A process change the client made: step 6 evaluates before/after only for these."""

    model_config = ConfigDict(extra="forbid")

    date: date
    description: str
    step: str = Field(description="the transition changed: 'lead -> opportunity', or its "
                                  "from-phase key 'lead'")
    comparison: dict[str, list[str]] | None = Field(
        default=None, description="the segments the change did not touch, as `{attribute: "
                                  "[segment, ...]}` (one attribute): a comparison group for a "
                                  "difference-in-differences")

    @field_validator("comparison", mode="before")
    @classmethod
    def _one_attribute(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(f"the comparison group names one attribute and its untouched "
                             f"segments, but {value!r} was given || write e.g. `comparison: "
                             f"{{region: [Noord]}}`")
        (name, segments), = value.items()
        segments = [segments] if isinstance(segments, str | int | float) else segments
        if not segments or not all(isinstance(v, str | int | float) for v in segments):
            raise ValueError(f"the comparison group {name!r} names no segment || list the "
                             f"segments the change did not touch, e.g. `comparison: {{{name}: "
                             f"[Noord]}}`")
        return {str(name): [str(v) for v in segments]}


class ReportConfig(BaseModel):
    """How the report of this engagement is made (`funnel run`'s options override it)."""

    model_config = ConfigDict(extra="forbid")

    edition: Literal["client", "training"] = Field(
        default="client", description="`client`: what a consultant hands to a board; `training`: "
                                      "the same plus exercises, checks and the method notes")
    attribute_labels: dict[str, str] = Field(
        default_factory=dict,
        description="how the report names a segment attribute (`deal_source: Leadbron`); default "
                    "the method's word for a role it knows (owner, action) or the column header")

    @field_validator("attribute_labels")
    @classmethod
    def _labels_are_words(cls, value: dict[str, str]) -> dict[str, str]:
        for name, label in value.items():
            if not str(label).strip():
                raise ValueError(f"[report.attribute_labels.{name}] the label is empty || write "
                                 f"the word the client uses for this attribute, or leave it out")
        return {name: str(label).strip() for name, label in value.items()}


class EngagementConfig(BaseModel):
    """Everything an analyst adapts per client, in one YAML file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    client: str = ""
    description: str = ""
    timezone: str = "Europe/Amsterdam"
    currency: str = "EUR"
    language: Literal["nl", "en"] = Field(
        default="en", description="the report's language: headings, sentences, table headers and "
                                  "number formats (36,1% and 1.234 in Dutch)")
    as_of: date | datetime | None = None
    phases: list[Phase]
    stage_mapping: dict[str, str]
    unknown_stages: Literal["error", "quarantine"] = "error"
    sources: list[SourceConfig]
    segments: list[str] | None = None
    lookups: list[LookupConfig] = Field(default_factory=list)
    missing_values: list[str] = Field(
        default_factory=list, description="values read as missing in every attribute column, "
                                          "e.g. a form's placeholder: ['Select', '-', 'n/a']")
    fold_categories: bool = Field(
        default=True, description="fold attribute spellings that differ only in case, spaces or "
                                  "hyphens (reported in the notes)")
    value_bands: list[float] | None = None
    cohort_window_days: int = Field(default=90, gt=0, le=MAX_WINDOW_DAYS)
    kpis: list[dict[str, Any]] | None = Field(
        default=None, description="KPIs that add to the defaults derived from the phases; "
                                  "`{replace: true, list: [...]}` replaces the defaults")
    kpis_replace: bool = Field(default=False, exclude=True)  # set from `kpis: {replace: ...}`
    targets: dict[str, float] = Field(default_factory=dict)
    costs: list[dict[str, Any]] | None = None
    changes: list[ChangeConfig] = Field(default_factory=list)
    lead_phase: str | None = Field(
        default=None, description="the phase whose entries are the qualified leads (the output of "
                                  "the early phases): the shortage/leak split, the lead volume "
                                  "and every 'leads' in the report; default the phase after the "
                                  "one whose `output` names qualified leads, else the second")
    duration_factors: dict[str, Any] | None = None
    benchmark_stages: dict[str, str] | None = None
    benchmarks_file: str | None = None
    report: ReportConfig = Field(default_factory=ReportConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError(f"the currency must be an ISO 4217 code such as EUR or USD, but "
                             f"{value!r} is not one || write the three-letter code of the amounts' "
                             f"currency, e.g. `currency: EUR`")
        return value

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the engagement's name is empty || give it a name, e.g. `name: "
                             "acme-2026` (the report and its workbook are named after it)")
        return value

    @field_validator("cohort_window_days", mode="before")
    @classmethod
    def _whole_days(cls, value: Any) -> Any:
        # YAML reads `true` as a boolean, which pydantic would take as 1 day
        if isinstance(value, bool):
            raise ValueError("the window is a number of days, not true/false || write a whole "
                             "number of days, e.g. `cohort_window_days: 90`")
        return value

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of_date(cls, value: Any) -> Any:
        # The YAML is read with its dates as text (see _Loader), so a typo such as 2025-02-29
        # is a clear error here instead of a crash in the YAML reader.
        if isinstance(value, datetime | date) or value is None:
            parsed = value
        else:
            text = str(value).strip()
            try:
                parsed = (date.fromisoformat(text) if len(text) == 10 else
                          datetime.fromisoformat(text.replace("Z", "+00:00")))
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a date ({exc}) || write the measurement date "
                                 f"as YYYY-MM-DD, e.g. `as_of: 2025-06-30`") from None
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            raise ValueError(f"{value!s} has a time zone ({parsed.tzinfo}), and the data's dates "
                             f"are in the engagement's `timezone` || write the date (or date and "
                             f"time) without a time zone, e.g. `as_of: 2025-06-30`")
        return parsed

    @field_validator("costs")
    @classmethod
    def _costs_usable(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        # What step 5 refuses, refused here too: `validate` and `run` agree.
        import pandas as pd
        for i, row in enumerate(value or ()):
            cost = row.get("cost")
            if not row.get("action") or isinstance(cost, bool) or not isinstance(
                    cost, int | float) or not 0 <= cost <= MAX_AMOUNT:
                raise ValueError(f"[costs[{i}]] each cost needs an `action` and a `cost` between "
                                 f"0 and {MAX_AMOUNT:.0e} || write e.g. {{action: event, cost: "
                                 f"12000, period: '2025'}}")
            if "period" in row:
                try:
                    pd.Period(str(row["period"]))
                except (ValueError, TypeError):
                    raise ValueError(f"[costs[{i}].period] {str(row['period'])!r} is not a period "
                                     f"label || write a year '2025', a quarter '2025Q1' or a "
                                     f"month '2025-03'") from None
        return value

    @field_validator("as_of")
    @classmethod
    def _plausible_as_of(cls, value: date | datetime | None) -> date | datetime | None:
        # A timestamp holds the years 1678-2261, and no CRM export holds deals before 1990.
        if value is not None and not 1990 <= value.year <= _YEARS[1]:
            raise ValueError(f"the measurement date must lie between 1990 and {_YEARS[1]} || set "
                             f"the date the data was exported, e.g. `as_of: 2026-10-31`, or "
                             f"leave `as_of` out to use the latest date in the data")
        return value

    @field_validator("targets")
    @classmethod
    def _finite_targets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if not math.isfinite(v))
        if bad:
            raise ValueError(f"targets must be finite numbers, but {bad} are not || give each a "
                             f"number, e.g. `orders_per_month: 10`, or remove it")
        # What the steps refuse, refused here too: `validate` and `run` agree.
        rates = sorted(k for k, v in value.items() if k.startswith("conversion_")
                       and not 0 < v <= 1)
        if rates:
            raise ValueError(f"conversion targets are rates between 0 and 1, but {rates} are not "
                             f"|| write a share, e.g. `{rates[0]}: 0.35` for 35%")
        bad = sorted(k for k, v in value.items() if not 0 < v <= MAX_AMOUNT)
        if bad:
            raise ValueError(f"targets must be positive numbers up to {MAX_AMOUNT:.0e}, but {bad} "
                             f"are not || give each a plausible number, e.g. "
                             f"`orders_per_month: 10`, or remove it")
        return value

    @field_validator("targets", mode="before")
    @classmethod
    def _no_flag_targets(cls, value: Any) -> Any:
        if isinstance(value, dict):
            flags = sorted(str(k) for k, v in value.items() if isinstance(v, bool))
            if flags:
                raise ValueError(f"targets are numbers, not true/false, but {flags} are || give "
                                 f"each a number, e.g. `orders_per_month: 10`")
        return value

    @model_validator(mode="before")
    @classmethod
    def _kpis_as_list(cls, data: Any) -> Any:
        # `kpis:` is a list that adds to the default KPIs, or {replace: true, list: [...]}: one
        # declared KPI must never silently drop the eighteen others.
        if not isinstance(data, dict):
            return data
        if "kpis_replace" in data:
            raise ValueError("[kpis_replace] is not a key of the engagement || write `kpis: "
                             "{replace: true, list: [...]}` to replace the default KPIs")
        spec = data.get("kpis")
        if not isinstance(spec, dict):
            return data
        unknown = sorted(set(spec) - {"replace", "list"})
        if unknown:
            raise ValueError(f"[kpis] unknown key(s) {unknown}: `kpis` is a list of KPIs, or "
                             f"`{{replace: true, list: [...]}}` || move the KPIs under `list`")
        replace = spec.get("replace", False)
        if not isinstance(replace, bool):
            raise ValueError(f"[kpis.replace] must be true or false, but {replace!r} was given || "
                             f"write `replace: true` to replace the default KPIs")
        listed = spec.get("list") or []
        if replace and not listed:
            raise ValueError("[kpis.list] `replace: true` replaces the default KPIs with none || "
                             "list the KPIs under `kpis.list`, or drop `replace`")
        return {**data, "kpis": listed, "kpis_replace": replace}

    @field_validator("stage_mapping", "targets", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # A section with only comments under it reads as None: treat it as empty, so the loader can
        # list the stages found in the data that still need a mapping.
        return {} if value is None else value

    @model_validator(mode="after")
    def _sources_named(self) -> EngagementConfig:
        if not self.sources:
            raise ValueError("an engagement needs at least one source under `sources`")
        names = []
        for s in self.sources:
            if s.name is None:
                s.name = Path(s.path).stem
            names.append(s.name)
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"source names must be unique; give each a `name:` ({doubles} repeat)")
        return self

    @model_validator(mode="after")
    def _adds_to_names_a_source(self) -> EngagementConfig:
        names = [s.name for s in self.sources]
        for i, s in enumerate(self.sources):
            if s.adds_to is None:
                continue
            target = next((t for t in self.sources if t.name == s.adds_to), None)
            if target is None or target is s or target.adds_to is not None:
                raise ValueError(
                    f"[sources[{i}].adds_to] {s.adds_to!r} is not another source that holds its "
                    f"own records; the sources are {names} || name the source whose records this "
                    f"file adds phases to (one that has no `adds_to` itself)")
            if not target.dated:
                raise ValueError(f"[sources[{i}].adds_to] {s.adds_to!r} is a lead list without "
                                 f"dates (`dated: false`); a file that dates later phases needs "
                                 f"records with dates || load {s.adds_to!r} with its creation "
                                 f"date (`columns.created_at`), or load this file on its own")
            if s.shape != "history":
                raise ValueError(f"[sources[{i}].adds_to] only a history source can add phases "
                                 f"to another source's records (this one is {s.shape!r}) || "
                                 f"use `shape: history` with `columns: {{record_id, changed_at}}` "
                                 f"and `stage:`")
        return self

    @model_validator(mode="after")
    def _dated_or_not(self) -> EngagementConfig:
        # One engagement is either dated or not: a dateless lead list beside dated sources would
        # make every monthly view silently leave its records out.
        dateless = [s.name for s in self.sources if not s.dated]
        if dateless and len(dateless) < len(self.sources):
            raise ValueError(f"[sources] {dateless} have no dates (`dated: false`) but the other "
                             f"sources do; one engagement cannot mix them (its monthly views "
                             f"would leave the dateless records out) || make a separate "
                             f"engagement for the lead list, or load it with its creation date")
        return self

    @model_validator(mode="after")
    def _phase_model_valid(self) -> EngagementConfig:
        # The phase model's own rules (order, unique keys, mapping targets), reported as YAML keys.
        try:
            PhaseModel(phases=tuple(self.phases), stage_mapping=dict(self.stage_mapping))
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            key = "stage_mapping" if msg.startswith("stage") else "phases"
            fix = (" || keep one spelling of the stage under `stage_mapping`, mapped to the right "
                   "phase" if "differ only in case" in msg else "")
            raise ValueError(f"[{key}] {msg}{fix}") from None
        return self

    @model_validator(mode="after")
    def _kpis_name_phases(self) -> EngagementConfig:
        # Checked here, not when the KPIs are first computed, so a typo fails at load time.
        keys = [p.key for p in self.phases]
        for i, spec in enumerate(self.kpis or []):
            if not isinstance(spec, dict):
                continue
            for field in ("from_phase", "to_phase", "phase"):
                value = spec.get(field)
                if value is not None and value not in keys:
                    close = difflib.get_close_matches(str(value), keys, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"[kpis[{i}].{field}] {value!r} is not a phase; the phases are "
                                     f"{keys}{hint} || use one of the phase keys, or add the "
                                     f"phase under `phases`")
            window = spec.get("window_days")
            if window is not None and (not isinstance(window, int)
                                       or not 0 < window <= MAX_WINDOW_DAYS):
                raise ValueError(f"[kpis[{i}].window_days] the window must be a whole number of days "
                                 f"greater than 0 (at most {MAX_WINDOW_DAYS}), but {window!r} was "
                                 f"given || give the window in days, e.g. `window_days: 90`, or "
                                 f"leave it out to use `cohort_window_days`")
        return self

    @model_validator(mode="after")
    def _labels_name_attributes(self) -> EngagementConfig:
        # A label for an attribute no source reads is a typo the report would silently ignore.
        known = sorted({str(name) for reading in [*self.sources, *self.lookups,
                                                  *(s.records for s in self.sources if s.records)]
                        for name in (reading.attributes or {})})
        for name in self.report.attribute_labels:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"[report.attribute_labels.{name}] no source has an attribute "
                                 f"{name!r}; the attributes are {known}{hint} || use a name "
                                 f"declared under a source's `attributes:`")
        return self

    @model_validator(mode="after")
    def _changes_name_steps(self) -> EngagementConfig:
        keys = [p.key for p in self.phases]
        known = sorted({str(name) for reading in [*self.sources, *self.lookups,
                                                  *(s.records for s in self.sources if s.records)]
                        for name in (reading.attributes or {})})
        for i, change in enumerate(self.changes):
            try:
                change_step(change.step, keys)
            except ValueError as exc:
                raise ValueError(f"[changes[{i}].step] {exc}") from None
            for name in change.comparison or {}:
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"[changes[{i}].comparison.{name}] no source has an "
                                     f"attribute {name!r}; the attributes are {known}{hint} || "
                                     f"name an attribute declared under a source's "
                                     f"`attributes:`")
        return self

    @model_validator(mode="after")
    def _lead_phase_names_a_phase(self) -> EngagementConfig:
        # A typo here would silently move the shortage/leak split: refuse it at load time.
        if self.lead_phase is None:
            return self
        keys = [p.key for p in self.phases]
        usable = keys[:-1]
        if self.lead_phase not in usable:
            close = difflib.get_close_matches(str(self.lead_phase), usable, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            what = ("is the won phase, where no lead is counted" if self.lead_phase == keys[-1]
                    else "is not a phase key")
            raise ValueError(f"[lead_phase] {self.lead_phase!r} {what}{hint} || name the phase "
                             f"whose entries are the qualified leads, one of {usable}")
        return self

    def phase_model(self) -> PhaseModel:
        return PhaseModel(phases=tuple(self.phases), stage_mapping=dict(self.stage_mapping))

    def lead_phase_key(self) -> str:
        """The phase whose entries are the qualified leads: `lead_phase`, else the phase after
        the one whose `output` names qualified leads, else the second phase (the first in a
        funnel of one transition, whose second phase is the won one)."""
        return lead_phase_key([p.key for p in self.phases], [p.output for p in self.phases],
                              self.lead_phase)


# The method's words for the early phases' output, in the report's two languages.
_QUALIFIED_LEADS = re.compile(r"\b(qualified|gekwalificeerde)\s+leads?\b|\bmqls?\b", re.I)


def lead_phase_key(keys: list[str], outputs: list[str], declared: str | None = None) -> str:
    """See :meth:`EngagementConfig.lead_phase_key` (phase keys in order, each phase's output)."""
    if declared is not None:
        return declared
    last = max(len(keys) - 2, 0)  # leads are counted before the won phase
    for k, output in enumerate(outputs):
        if _QUALIFIED_LEADS.search(output or ""):
            return keys[min(k + 1, last)]
    return keys[min(1, last)]


def change_step(step: str, keys: list[str]) -> tuple[str, str]:
    """The (from_phase, to_phase) of a declared change's `step`: 'lead -> opportunity' or 'lead'."""
    parts = [p.strip() for p in str(step).replace("→", "->").split("->")]
    if len(parts) == 1 and parts[0] in keys[:-1]:
        return parts[0], keys[keys.index(parts[0]) + 1]
    if len(parts) == 2 and parts[0] in keys and parts[1] in keys and (
            keys.index(parts[1]) > keys.index(parts[0])):
        return parts[0], parts[1]
    steps = [f"{a} -> {b}" for a, b in zip(keys[:-1], keys[1:], strict=True)]
    raise ValueError(f"{step!r} is not a step of the phase model || name the transition the "
                     f"change was made in, one of {steps}")


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fix_for(err: Mapping[str, Any], model_keys: list[str]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), model_keys, n=1)
        return (f"remove it or rename it to {close[0]!r}" if close
                else "remove it; see the YAML reference in README.md")
    if kind == "missing":
        return "add this key; see the YAML reference in README.md"
    if kind.startswith("literal"):
        return "use one of the allowed values"
    if kind in ("greater_than", "greater_than_equal"):
        return "use a positive whole number"
    return "correct the value; see the YAML reference in README.md"


def _all_keys() -> list[str]:
    keys = set(EngagementConfig.model_fields) | set(SourceConfig.model_fields)
    keys |= set(Phase.model_fields) | set(RecordsConfig.model_fields) | set(PrivacyConfig.model_fields)
    keys |= set(LookupConfig.model_fields)
    return sorted(keys)


def _refuse_expansion(root: yaml.Node | None, *, path: Path) -> None:
    """Refuse a document that aliases (`&a` / `*a`) expand to more than MAX_YAML_NODES nodes: a
    600-byte "billion laughs" file would otherwise be walked (and validated, and dumped) billions
    of times. Counted once per distinct node, so the check itself stays linear."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a node that contains itself (a recursive alias) counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                break
        sizes[id(node)] = total
        return total

    if root is not None and size(root) > MAX_YAML_NODES:
        raise ConfigError(
            f"the YAML expands to more than {MAX_YAML_NODES:,} values through its aliases "
            f"(`&name` / `*name`), far more than any engagement needs", file=str(path),
            fix="write the values out instead of nesting aliases (an engagement file needs none)")


def _refuse_duplicate_keys(node: yaml.Node | None, *, path: Path, where: str = "",
                           seen_nodes: set[int] | None = None) -> None:
    """PyYAML keeps the last of two equal keys without a word; a stage mapped twice would then
    silently lose one mapping. Walk the parsed document and refuse any repeated key (each node
    once, however often an alias repeats it)."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            child = f"{where}.{key}" if where else str(key)
            if key is not None and key in seen:
                raise ConfigError(
                    f"line {line}: {key!r} appears more than once under "
                    f"`{where or '<top>'}` (first on line {seen[key]}); YAML would silently keep "
                    f"only the last one", file=str(path), key=where or None,
                    fix=f"keep one {key!r} entry (merge the two, or delete the wrong one)")
            if key is not None:
                seen[key] = line
            _refuse_duplicate_keys(value_node, path=path, where=child, seen_nodes=seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path=path, where=f"{where}[{i}]", seen_nodes=seen_nodes)


class _EngagementLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a mapping's keys as YAML 1.2 does: `on`, `off`, `yes`, `no`
    (and `y`, `n`, any case) are words there, booleans only in YAML 1.1. A lookup's `on: agent`
    or a CRM stage called `No` would otherwise become the key `True`/`False` ("Keys should be
    strings"). Values keep PyYAML's reading: `fold_categories: no` still means false."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        for key_node, _value in node.value:
            if (isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:bool"
                    and key_node.style is None and key_node.value.lower() not in ("true", "false")):
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep=deep)


def _read_yaml_text(path: Path) -> str:
    """The engagement file's text: a regular file of at most MAX_YAML_BYTES, in UTF-8."""
    try:
        size = check_regular_file(path, limit=MAX_YAML_BYTES, what="engagement file")
    except FileNotFoundError:
        raise ConfigError("engagement file not found", file=str(path),
                          fix="check the path, or create one with `funnel new NAME`") from None
    except LimitError as exc:
        raise ConfigError(str(exc), file=str(path), fix=exc.fix) from None
    data = path.read_bytes()[:size + 1]
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"line {line}: the file is not UTF-8 (byte {data[exc.start]:#04x})",
                          file=str(path),
                          fix="save it as UTF-8 (in most editors: Save as, encoding UTF-8)") from None


class _Loader(_EngagementLoader):
    """The engagement's loader (keys as YAML 1.2 reads them) with dates and times kept as text:
    PyYAML's own reading of them crashes on a typo (`2025-02-29`: ValueError); the schema reads
    them and names the key instead."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp",
                        lambda loader, node: loader.construct_scalar(node))


def load_config(path: str | os.PathLike) -> EngagementConfig:
    """Read and validate an engagement YAML; every problem raises ConfigError naming key and fix."""
    path = Path(path)
    text = _read_yaml_text(path)
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
        _refuse_expansion(document, path=path)
        _refuse_duplicate_keys(document, path=path)
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader, dates kept as text)
    except RecursionError:
        raise ConfigError("the YAML is nested too deeply to be an engagement file", file=str(path),
                          fix="check the indentation and brackets") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}not valid YAML ({getattr(exc, 'problem', exc)})", file=str(path),
                          fix="check the indentation and quoting on that line") from None
    if not isinstance(raw, dict):
        raise ConfigError("the file must be a YAML mapping with keys like `name`, `phases`, `sources`",
                          file=str(path), value=type(raw).__name__,
                          fix="start from the template made by `funnel new NAME`")
    try:
        return EngagementConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        keys = _all_keys()
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = err["loc"]
            if err.get("type") == "extra_forbidden":
                close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
                msg += f" (did you mean {close[0]!r}?)" if close else ""
            fix = None
            if msg.startswith("[") and "] " in msg:  # a model-level rule that knows its key
                key, msg = msg[1:].split("] ", 1)
                loc = (key,)
                err = {**err, "loc": loc}
            if " || " in msg:  # a rule of ours that knows the fix
                msg, fix = msg.split(" || ", 1)
            value = err.get("input")
            shown = "" if err.get("type") == "missing" or isinstance(value, dict | list) else (
                f" (got {value!r})")
            lines.append(f"key `{_key_path(err['loc']) or '<top>'}`: {msg}{shown}. "
                         f"Fix: {fix or _fix_for(err, keys)}")
        first = exc.errors()[0]
        error = ConfigError(
            "\n  ".join([f"{len(lines)} problem(s) in the engagement file:"] + lines),
            file=str(path))
        error.key = _key_path(first["loc"]) or None  # for callers; the text names every key
        raise error from None
