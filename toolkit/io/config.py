"""The engagement YAML: its schema, and errors that name the file, the key path and the fix.

Each rule of the schema raises a pydantic custom error whose type is the rule's code and whose
context carries the fix (and the YAML key a rule on the whole engagement is about): see `_rule`;
`load_config` writes the lines of its ConfigError from those. The file's text is read by
:mod:`toolkit.io.yaml_file`."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from babel.numbers import is_currency
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from toolkit.base.exceptions import ConfigError
from toolkit.base.phases import Phase, PhaseModel
from toolkit.io.limits import (
    MAX_AMOUNT,
    MAX_WINDOW_DAYS,
)
from toolkit.io.limits import (
    YEARS as _YEARS,
)
from toolkit.io.presets import PRESET_DEFAULTS
from toolkit.io.privacy import PrivacyConfig
from toolkit.io.yaml_file import read_yaml

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


def _rule(code: str, message: str, *, fix: str | None = None, key: str | None = None
          ) -> PydanticCustomError:
    """A rule of the engagement YAML broken: an error of type `code` whose context carries the
    `fix` and, for a rule that is about another key than where pydantic found it (a model-level
    rule), the YAML `key` it is about. `load_config` writes its line from these.

    The message is the context's last value and the template only refers to it, so a value the
    message quotes from the YAML is never read as a placeholder (pydantic fills in the context's
    values in order).
    """
    context: dict[str, str] = {}
    if key is not None:
        context["key"] = key
    if fix is not None:
        context["fix"] = fix
    context["message"] = message
    return PydanticCustomError(code, "{message}", context)


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
        raise _rule("unknown_time_zone", f"not a time zone name{hint}",
                    fix="use an IANA name such as 'Europe/Amsterdam' or 'UTC'") from None
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
            raise _rule("header_row_flag", "the header row is a row number, not true/false",
                        fix="write the row that holds the column names, e.g. `header_row: 3`")
        return value

    @field_validator("path")
    @classmethod
    def _usable_path(cls, value: str) -> str:
        if "\x00" in value:
            raise _rule("path_nul", "the path contains a NUL character", fix="check the path")
        if len(value) > 4096:
            raise _rule("path_too_long", f"the path is {len(value):,} characters long",
                        fix="check the path")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in "\r\n\"" or value.isalnum()):
            raise _rule("delimiter_not_one_character",
                        "a delimiter is one character that is not a letter, digit, quote or line "
                        "break", fix="use the file's separator, e.g. ';', ',', '|' or a tab "
                                     "('\\t'), or leave `delimiter:` out to detect it")
        return value

    @field_validator("date_format")
    @classmethod
    def _usable_format(cls, value: str | None) -> str | None:
        if value is None or value in ("dmy", "mdy", "ymd"):
            return value
        if "%" not in value:
            raise _rule("date_format_unknown", f"date_format {value!r} is neither a convention "
                                               f"nor a strftime format",
                        fix="use 'dmy' (31-12-2025), 'mdy' (12/31/25), 'ymd' (2025-12-31) or a "
                            "strftime format such as '%d-%m-%Y %H:%M'")
        import pandas as pd
        try:
            pd.to_datetime(pd.Series(["2025-01-03"]), format=value, errors="coerce")
        except ValueError as exc:
            raise _rule("date_format_invalid", f"not a valid strftime format ({exc})",
                        fix="use 'dmy', 'mdy', 'ymd' or a format such as '%d-%m-%Y %H:%M'"
                        ) from None
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_names_free(cls, value: dict[str, str]) -> dict[str, str]:
        # An attribute named like a column the toolkit itself writes (the record's `value`, a
        # result's `label` or `n`) would overwrite it or be overwritten: two columns, one name.
        for name in value:
            if name in RESERVED_ATTRIBUTE_NAMES:
                raise _rule(
                    "attribute_name_reserved",
                    f"attribute name {name!r} is also a column the toolkit writes (records: "
                    f"{list(_RECORD_COLUMNS)}; results: phase, period, n, label, ...)",
                    fix=f"rename the attribute, e.g. `{name}_attr: <header>` or a name that says "
                        f"what it holds (`deal_{name}`)")
        return value

    @model_validator(mode="after")
    def _roles(self) -> _Reading:
        for role in self.columns:
            if role not in COLUMN_ROLES:
                close = difflib.get_close_matches(role, COLUMN_ROLES, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise _rule(
                    "column_role_unknown",
                    f"{role!r} is not a column role; {hint}roles are {list(COLUMN_ROLES)}; put "
                    f"segment columns under `attributes` instead")
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
            raise _rule("pattern_invalid", f"not a valid regular expression ({exc})",
                        fix="write it as Python regex, e.g. 'Date entered (?P<stage>.+)'"
                        ) from None
        if "stage" not in compiled.groupindex:
            raise _rule("pattern_without_stage", "the pattern has no group named `stage`",
                        fix="name the part that is the stage: 'Date entered (?P<stage>.+)'")
        return value

    @model_validator(mode="after")
    def _dateless_is_a_snapshot(self) -> SourceConfig:
        if self.dated:
            return self
        if self.shape != "snapshot":
            raise _rule("dateless_not_snapshot",
                        f"`dated: false` is for a lead list (one row per record, no dates), "
                        f"which is `shape: snapshot`; a {self.shape} source is made of dates",
                        fix="set `shape: snapshot`, or remove `dated: false`")
        dates = [role for role in ("created_at", "closed_at", "changed_at") if role in self.columns]
        if dates:
            raise _rule("dateless_with_dates",
                        f"`dated: false` says the file has no dates, but `columns` names {dates}",
                        fix=f"remove `dated: false` to use the dates (better: cohorts, durations "
                            f"and trends need them), or remove {dates} from `columns`")
        return self

    @model_validator(mode="after")
    def _preset_has_shape(self) -> SourceConfig:
        if self.preset and (self.preset, self.shape) not in PRESET_DEFAULTS:
            shapes = sorted(shape for preset, shape in PRESET_DEFAULTS if preset == self.preset)
            raise _rule("preset_without_shape",
                        f"the preset {self.preset!r} has no {self.shape!r} shape; it has {shapes}",
                        fix="set `shape:` to one of those, or remove `preset:`")
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
            raise _rule("comparison_not_one_attribute",
                        f"the comparison group names one attribute and its untouched segments, "
                        f"but {value!r} was given", fix="write e.g. `comparison: {region: [Noord]}`")
        (name, segments), = value.items()
        segments = [segments] if isinstance(segments, str | int | float) else segments
        if not segments or not all(isinstance(v, str | int | float) for v in segments):
            raise _rule("comparison_without_segment",
                        f"the comparison group {name!r} names no segment",
                        fix=f"list the segments the change did not touch, e.g. `comparison: "
                            f"{{{name}: [Noord]}}`")
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
                raise _rule("attribute_label_empty", "the label is empty",
                            fix="write the word the client uses for this attribute, or leave it "
                                "out", key=f"report.attribute_labels.{name}")
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
            raise _rule("currency_unknown", f"the currency must be an ISO 4217 code such as EUR or "
                                            f"USD, but {value!r} is not one",
                        fix="write the three-letter code of the amounts' currency, e.g. "
                            "`currency: EUR`")
        return value

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise _rule("name_empty", "the engagement's name is empty",
                        fix="give it a name, e.g. `name: acme-2026` (the report and its workbook "
                            "are named after it)")
        return value

    @field_validator("cohort_window_days", mode="before")
    @classmethod
    def _whole_days(cls, value: Any) -> Any:
        # YAML reads `true` as a boolean, which pydantic would take as 1 day
        if isinstance(value, bool):
            raise _rule("window_flag", "the window is a number of days, not true/false",
                        fix="write a whole number of days, e.g. `cohort_window_days: 90`")
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
                raise _rule("as_of_not_a_date", f"{text!r} is not a date ({exc})",
                            fix="write the measurement date as YYYY-MM-DD, e.g. `as_of: "
                                "2025-06-30`") from None
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            raise _rule("as_of_with_time_zone",
                        f"{value!s} has a time zone ({parsed.tzinfo}), and the data's dates are "
                        f"in the engagement's `timezone`",
                        fix="write the date (or date and time) without a time zone, e.g. `as_of: "
                            "2025-06-30`")
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
                raise _rule("cost_incomplete", f"each cost needs an `action` and a `cost` between "
                                               f"0 and {MAX_AMOUNT:.0e}",
                            fix="write e.g. {action: event, cost: 12000, period: '2025'}",
                            key=f"costs[{i}]")
            if "period" in row:
                try:
                    pd.Period(str(row["period"]))
                except (ValueError, TypeError):
                    raise _rule("cost_period_invalid",
                                f"{str(row['period'])!r} is not a period label",
                                fix="write a year '2025', a quarter '2025Q1' or a month '2025-03'",
                                key=f"costs[{i}].period") from None
        return value

    @field_validator("as_of")
    @classmethod
    def _plausible_as_of(cls, value: date | datetime | None) -> date | datetime | None:
        # A timestamp holds the years 1678-2261, and no CRM export holds deals before 1990.
        if value is not None and not 1990 <= value.year <= _YEARS[1]:
            raise _rule("as_of_out_of_range",
                        f"the measurement date must lie between 1990 and {_YEARS[1]}",
                        fix="set the date the data was exported, e.g. `as_of: 2026-10-31`, or "
                            "leave `as_of` out to use the latest date in the data")
        return value

    @field_validator("targets")
    @classmethod
    def _finite_targets(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if not math.isfinite(v))
        if bad:
            raise _rule("target_not_finite", f"targets must be finite numbers, but {bad} are not",
                        fix="give each a number, e.g. `orders_per_month: 10`, or remove it")
        # What the steps refuse, refused here too: `validate` and `run` agree.
        rates = sorted(k for k, v in value.items() if k.startswith("conversion_")
                       and not 0 < v <= 1)
        if rates:
            raise _rule("target_rate_out_of_range",
                        f"conversion targets are rates between 0 and 1, but {rates} are not",
                        fix=f"write a share, e.g. `{rates[0]}: 0.35` for 35%")
        bad = sorted(k for k, v in value.items() if not 0 < v <= MAX_AMOUNT)
        if bad:
            raise _rule("target_out_of_range",
                        f"targets must be positive numbers up to {MAX_AMOUNT:.0e}, but {bad} are "
                        f"not", fix="give each a plausible number, e.g. `orders_per_month: 10`, or "
                                    "remove it")
        return value

    @field_validator("targets", mode="before")
    @classmethod
    def _no_flag_targets(cls, value: Any) -> Any:
        if isinstance(value, dict):
            flags = sorted(str(k) for k, v in value.items() if isinstance(v, bool))
            if flags:
                raise _rule("target_flag",
                            f"targets are numbers, not true/false, but {flags} are",
                            fix="give each a number, e.g. `orders_per_month: 10`")
        return value

    @model_validator(mode="before")
    @classmethod
    def _kpis_as_list(cls, data: Any) -> Any:
        # `kpis:` is a list that adds to the default KPIs, or {replace: true, list: [...]}: one
        # declared KPI must never silently drop the eighteen others.
        if not isinstance(data, dict):
            return data
        if "kpis_replace" in data:
            raise _rule("kpis_replace_key", "is not a key of the engagement",
                        fix="write `kpis: {replace: true, list: [...]}` to replace the default "
                            "KPIs", key="kpis_replace")
        spec = data.get("kpis")
        if not isinstance(spec, dict):
            return data
        unknown = sorted(set(spec) - {"replace", "list"})
        if unknown:
            raise _rule("kpis_unknown_keys", f"unknown key(s) {unknown}: `kpis` is a list of "
                                             f"KPIs, or `{{replace: true, list: [...]}}`",
                        fix="move the KPIs under `list`", key="kpis")
        replace = spec.get("replace", False)
        if not isinstance(replace, bool):
            raise _rule("kpis_replace_not_flag",
                        f"must be true or false, but {replace!r} was given",
                        fix="write `replace: true` to replace the default KPIs", key="kpis.replace")
        listed = spec.get("list") or []
        if replace and not listed:
            raise _rule("kpis_list_empty", "`replace: true` replaces the default KPIs with none",
                        fix="list the KPIs under `kpis.list`, or drop `replace`", key="kpis.list")
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
            raise _rule("sources_missing",
                        "an engagement needs at least one source under `sources`")
        names = []
        for s in self.sources:
            if s.name is None:
                s.name = Path(s.path).stem
            names.append(s.name)
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise _rule("source_names_repeat",
                        f"source names must be unique; give each a `name:` ({doubles} repeat)")
        return self

    @model_validator(mode="after")
    def _adds_to_names_a_source(self) -> EngagementConfig:
        names = [s.name for s in self.sources]
        for i, s in enumerate(self.sources):
            if s.adds_to is None:
                continue
            target = next((t for t in self.sources if t.name == s.adds_to), None)
            if target is None or target is s or target.adds_to is not None:
                raise _rule("adds_to_unknown", f"{s.adds_to!r} is not another source that holds "
                                               f"its own records; the sources are {names}",
                            fix="name the source whose records this file adds phases to (one "
                                "that has no `adds_to` itself)", key=f"sources[{i}].adds_to")
            if not target.dated:
                raise _rule("adds_to_dateless",
                            f"{s.adds_to!r} is a lead list without dates (`dated: false`); a file "
                            f"that dates later phases needs records with dates",
                            fix=f"load {s.adds_to!r} with its creation date "
                                f"(`columns.created_at`), or load this file on its own",
                            key=f"sources[{i}].adds_to")
            if s.shape != "history":
                raise _rule("adds_to_not_history",
                            f"only a history source can add phases to another source's records "
                            f"(this one is {s.shape!r})",
                            fix="use `shape: history` with `columns: {record_id, changed_at}` and "
                                "`stage:`", key=f"sources[{i}].adds_to")
        return self

    @model_validator(mode="after")
    def _dated_or_not(self) -> EngagementConfig:
        # One engagement is either dated or not: a dateless lead list beside dated sources would
        # make every monthly view silently leave its records out.
        dateless = [s.name for s in self.sources if not s.dated]
        if dateless and len(dateless) < len(self.sources):
            raise _rule("dated_and_dateless",
                        f"{dateless} have no dates (`dated: false`) but the other sources do; one "
                        f"engagement cannot mix them (its monthly views would leave the dateless "
                        f"records out)", fix="make a separate engagement for the lead list, or "
                                            "load it with its creation date", key="sources")
        return self

    @model_validator(mode="after")
    def _phase_model_valid(self) -> EngagementConfig:
        # The phase model's own rules (order, unique keys, mapping targets), reported as YAML keys.
        # The phases alone first: what fails with the mapping beside them is the mapping's.
        try:
            PhaseModel(phases=tuple(self.phases))
        except ValidationError as exc:
            raise _rule("phase_model_invalid", _said(exc.errors()[0]), key="phases") from None
        try:
            PhaseModel(phases=tuple(self.phases), stage_mapping=dict(self.stage_mapping))
        except ValidationError as exc:
            said = _said(exc.errors()[0])
            # (PhaseModel's rules are plain ValueErrors: its message tells which one failed)
            fix = ("keep one spelling of the stage under `stage_mapping`, mapped to the right "
                   "phase" if "differ only in case" in said else None)
            raise _rule("stage_mapping_invalid", said, fix=fix, key="stage_mapping") from None
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
                    raise _rule("kpi_phase_unknown",
                                f"{value!r} is not a phase; the phases are {keys}{hint}",
                                fix="use one of the phase keys, or add the phase under `phases`",
                                key=f"kpis[{i}].{field}")
            window = spec.get("window_days")
            if window is not None and (not isinstance(window, int)
                                       or not 0 < window <= MAX_WINDOW_DAYS):
                raise _rule("kpi_window_invalid",
                            f"the window must be a whole number of days greater than 0 (at most "
                            f"{MAX_WINDOW_DAYS}), but {window!r} was given",
                            fix="give the window in days, e.g. `window_days: 90`, or leave it out "
                                "to use `cohort_window_days`", key=f"kpis[{i}].window_days")
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
                raise _rule("attribute_label_unknown",
                            f"no source has an attribute {name!r}; the attributes are "
                            f"{known}{hint}", fix="use a name declared under a source's "
                                                  "`attributes:`",
                            key=f"report.attribute_labels.{name}")
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
            except PydanticCustomError as exc:
                raise _rule(exc.type, exc.message(), fix=(exc.context or {}).get("fix"),
                            key=f"changes[{i}].step") from None
            for name in change.comparison or {}:
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise _rule("comparison_attribute_unknown",
                                f"no source has an attribute {name!r}; the attributes are "
                                f"{known}{hint}",
                                fix="name an attribute declared under a source's `attributes:`",
                                key=f"changes[{i}].comparison.{name}")
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
            raise _rule("lead_phase_invalid", f"{self.lead_phase!r} {what}{hint}",
                        fix=f"name the phase whose entries are the qualified leads, one of "
                            f"{usable}", key="lead_phase")
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
    """The (from_phase, to_phase) of a declared change's `step`: 'lead -> opportunity' or 'lead'.

    Raises a ``PydanticCustomError`` (a ValueError) of type ``not_a_step`` for any other step, its
    context's ``fix`` naming the steps there are."""
    parts = [p.strip() for p in str(step).replace("→", "->").split("->")]
    if len(parts) == 1 and parts[0] in keys[:-1]:
        return parts[0], keys[keys.index(parts[0]) + 1]
    if len(parts) == 2 and parts[0] in keys and parts[1] in keys and (
            keys.index(parts[1]) > keys.index(parts[0])):
        return parts[0], parts[1]
    steps = [f"{a} -> {b}" for a, b in zip(keys[:-1], keys[1:], strict=True)]
    raise _rule("not_a_step", f"{step!r} is not a step of the phase model",
                fix=f"name the transition the change was made in, one of {steps}")


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _said(err: ErrorDetails) -> str:
    """What a validation error says: a validator's own ValueError as it was raised (pydantic's
    message puts "Value error, " before it), any other error as pydantic words it."""
    error = (err.get("ctx") or {}).get("error")
    return str(error) if err["type"] == "value_error" and error is not None else err["msg"]


def _fix_for(err: Mapping[str, Any], model_keys: list[str]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), model_keys, n=1)
        return (f"remove it or rename it to {close[0]!r}" if close
                else "remove it; see the YAML reference in docs/yaml.md")
    if kind == "missing":
        return "add this key; see the YAML reference in docs/yaml.md"
    if kind.startswith("literal"):
        return "use one of the allowed values"
    if kind in ("greater_than", "greater_than_equal"):
        return "use a positive whole number"
    return "correct the value; see the YAML reference in docs/yaml.md"


def _all_keys() -> list[str]:
    keys = set(EngagementConfig.model_fields) | set(SourceConfig.model_fields)
    keys |= set(Phase.model_fields) | set(RecordsConfig.model_fields) | set(PrivacyConfig.model_fields)
    keys |= set(LookupConfig.model_fields)
    return sorted(keys)


def load_config(path: str | os.PathLike) -> EngagementConfig:
    """Read and validate an engagement YAML; every problem raises ConfigError naming key and fix."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("the file must be a YAML mapping with keys like `name`, `phases`, `sources`",
                          file=str(path), value=type(raw).__name__,
                          fix="start from the template made by `funnel new NAME`")
    try:
        return EngagementConfig.model_validate(raw)
    except ValidationError as exc:
        lines, paths = [], []
        keys = _all_keys()
        for err in exc.errors():
            msg = _said(err)
            context = err.get("ctx") or {}
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][-1]), keys, n=1)
                msg += f" (did you mean {close[0]!r}?)" if close else ""
            # A rule of ours (see _rule) carries its fix, and the key it is about when that is
            # not where pydantic found it (a rule on the whole engagement).
            where = context["key"] if "key" in context else _key_path(err["loc"])
            fix = context.get("fix")
            value = err.get("input")
            shown = "" if err["type"] == "missing" or isinstance(value, dict | list) else (
                f" (got {value!r})")
            lines.append(f"key `{where or '<top>'}`: {msg}{shown}. "
                         f"Fix: {fix or _fix_for(err, keys)}")
            paths.append(where)
        error = ConfigError(
            "\n  ".join([f"{len(lines)} problem(s) in the engagement file:"] + lines),
            file=str(path))
        error.key = paths[0] or None  # for callers; the text names every key
        raise error from None
