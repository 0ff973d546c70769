"""The engagement YAML: its schema, and errors that name the file, the key path and the fix."""

from __future__ import annotations

import difflib
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .exceptions import ConfigError
from .phases import Phase, PhaseModel

__all__ = ["SourceConfig", "RecordsConfig", "EngagementConfig", "load_config", "SHAPES", "PRESETS"]

SHAPES = ("history", "wide", "snapshot")
PRESETS = ("salesforce", "hubspot", "pipedrive")

# The roles a source column can play. Everything else a source offers is an `attribute`.
COLUMN_ROLES = (
    "record_id", "stage", "changed_at", "created_at", "closed_at", "value", "lost_at_stage",
    "is_closed", "is_won", "is_deleted", "current_stage", "status",
)


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
    timezone: str | None = None
    true_values: list[str] = Field(default_factory=lambda: ["true", "1", "yes", "ja", "waar"])

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


class SourceConfig(_Reading):
    """One CRM export of the engagement."""

    name: str | None = None
    shape: Literal["history", "wide", "snapshot"]
    preset: Literal["salesforce", "hubspot", "pipedrive"] | None = None
    stage_columns: dict[str, str] = Field(
        default_factory=dict,
        description="wide shape: source column -> CRM stage name it dates (mapped like any stage)")
    stage_column_pattern: str | None = Field(
        default=None, description="wide shape: regex with a group `stage`, e.g. 'Date entered (?P<stage>.+)'")
    records: RecordsConfig | None = None
    personal: list[str] = Field(default_factory=list,
                                description="attributes holding personal data, pseudonymised on load")


class EngagementConfig(BaseModel):
    """Everything an analyst adapts per client, in one YAML file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    client: str = ""
    description: str = ""
    timezone: str = "Europe/Amsterdam"
    currency: str = "EUR"
    as_of: date | datetime | None = None
    phases: list[Phase]
    stage_mapping: dict[str, str]
    unknown_stages: Literal["error", "quarantine"] = "error"
    sources: list[SourceConfig]
    segments: list[str] | None = None
    value_bands: list[float] | None = None
    cohort_window_days: int = 90
    kpis: list[dict[str, Any]] | None = None
    targets: dict[str, float] = Field(default_factory=dict)
    costs: list[dict[str, Any]] | None = None
    duration_factors: dict[str, Any] | None = None
    benchmark_stages: dict[str, str] | None = None
    benchmarks_file: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)
    pseudonymisation_salt_env: str = "FUNNEL_SALT"

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
    def _phase_model_valid(self) -> EngagementConfig:
        # The phase model's own rules (order, unique keys, mapping targets), reported as YAML keys.
        try:
            PhaseModel(phases=tuple(self.phases), stage_mapping=dict(self.stage_mapping))
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            key = "stage_mapping" if msg.startswith("stage") else "phases"
            raise ValueError(f"[{key}] {msg}") from None
        return self

    def phase_model(self) -> PhaseModel:
        return PhaseModel(phases=tuple(self.phases), stage_mapping=dict(self.stage_mapping))

    def salt(self) -> str:
        """The pseudonymisation salt: from the environment when set, so it stays out of git."""
        return os.environ.get(self.pseudonymisation_salt_env, f"funnel-toolkit:{self.name}")


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fix_for(err: dict, model_keys: list[str]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), model_keys, n=1)
        return (f"remove it or rename it to {close[0]!r}" if close
                else "remove it; see the YAML reference in README.md")
    if kind == "missing":
        return "add this key; see the YAML reference in README.md"
    if kind.startswith("literal"):
        return "use one of the allowed values"
    return "correct the value; see the YAML reference in README.md"


def _all_keys() -> list[str]:
    keys = set(EngagementConfig.model_fields) | set(SourceConfig.model_fields)
    keys |= set(Phase.model_fields)
    return sorted(keys)


def load_config(path: str | os.PathLike) -> EngagementConfig:
    """Read and validate an engagement YAML; every problem raises ConfigError naming key and fix."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("engagement file not found", file=str(path),
                          fix="check the path, or create one with `funnel new NAME`")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
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
            if msg.startswith("[") and "] " in msg:  # a model-level rule that knows its key
                key, msg = msg[1:].split("] ", 1)
                loc = (key,)
                err = {**err, "loc": loc}
            value = err.get("input")
            shown = "" if err.get("type") == "missing" or isinstance(value, dict | list) else (
                f" (got {value!r})")
            lines.append(f"key `{_key_path(err['loc']) or '<top>'}`: {msg}{shown}. "
                         f"Fix: {_fix_for(err, keys)}")
        first = exc.errors()[0]
        error = ConfigError(
            "\n  ".join([f"{len(lines)} problem(s) in the engagement file:"] + lines),
            file=str(path))
        error.key = _key_path(first["loc"]) or None  # for callers; the text names every key
        raise error from None
