"""An engagement: one client's phase model, CRM exports and KPIs, loaded into audited tables."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from toolkit.base.exceptions import ConfigError, DataError, NeedsDates
from toolkit.base.phases import Phase, PhaseModel
from toolkit.base.version import VERSION
from toolkit.base.vocabulary import reason_codes
from toolkit.io.config import ChangeConfig, EngagementConfig, load_config
from toolkit.io.joins import add_phases, attach_lookups
from toolkit.io.limits import MAX_SOURCE_BYTES, LimitError, read_limited
from toolkit.io.loading import (
    LoadedSource,
    check_phase_order,
    check_source_file,
    empty_quarantine,
    load_source,
    read_inputs,
    source_path,
)
from toolkit.io.privacy import PrivacyConfig, PseudonymKey, personal_columns, resolve_key

__all__ = ["Engagement"]

_LOADING_CODE = tuple(sorted(Path(__file__).parent.rglob("*.py"))) + (
    Path(__file__).parents[1] / "base" / "phases.py",)
#: Set by `funnel run` while its notebooks execute: {"engagement": YAML path, "key": cache key}.
_TABLES = ("events", "records", "stage_log", "quarantine", "reconciliation", "outcome_mismatches")


@dataclass
class _Loaded:
    events: pd.DataFrame
    records: pd.DataFrame
    stage_log: pd.DataFrame
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame
    outcome_mismatches: pd.DataFrame
    notes: list[str]
    shapes: list[str]


class Engagement:
    """A client engagement, built from its YAML file.

    Attributes follow DESIGN.md: `events` (one row per record and phase entry), `records` (one row
    per record, with outcome and segment attributes), `quarantine` (every unused source row with its
    reason) and `reconciliation` (rows in / used / quarantined per file). The loaded tables are cached
    as parquet beside the YAML, keyed by the YAML, the source files and the toolkit version, so a
    notebook reloads in well under a second.
    """

    def __init__(self, config: EngagementConfig, *, path: Path | None = None,
                 use_cache: bool = True, pinned: tuple[str, str] | None = None) -> None:
        self.config = config
        self.path = path
        self.base_dir = path.parent if path else Path.cwd()
        self.phase_model: PhaseModel = config.phase_model()
        self.use_cache = use_cache
        self.input_files: list[dict] = []  # path, sha256, size of each source as it was read
        self.cache_key: str | None = None  # the cached tables' key (None: not cached)
        self.yaml_sha256: str | None = None
        self._pin = pinned  # (cache key, YAML sha256) of the run this engagement belongs to
        # Tables derived from the loaded ones (e.g. when each record reached each phase), computed
        # once by the measure layer and kept here; reload() empties it with the tables.
        self.derived: dict[str, object] = {}

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, *, use_cache: bool = True,
                  pinned: tuple[str, str] | None = None) -> Engagement:
        """Read an engagement YAML (see the YAML reference, docs/yaml.md).

        `pinned` is the (cache key, YAML sha256) of a `funnel run` whose notebook opens the
        engagement: it reads the tables that run loaded, whatever the files hold now.
        """
        path = Path(path).resolve()
        engagement = cls(load_config(path), path=path, use_cache=use_cache, pinned=pinned)
        engagement._loaded  # load now, so a bad export fails here with its message  # noqa: B018
        return engagement

    @classmethod
    def from_tables(cls, events: pd.DataFrame, records: pd.DataFrame, *,
                    phases: list[dict] | list, name: str = "tables", as_of: Any = None,
                    cohort_window_days: int = 90, segments: list[str] | None = None,
                    targets: dict | None = None, kpis: list | None = None,
                    lead_phase: str | None = None, changes: list | None = None) -> Engagement:
        """An engagement from canonical tables already in the DESIGN.md data model (tests, the
        benchmark, tables produced elsewhere). `phases` are Phase objects or dicts."""
        phase_objs = [p if isinstance(p, Phase) else Phase(**p) for p in phases]
        config = EngagementConfig.model_construct(
            name=name, phases=phase_objs, stage_mapping={}, sources=[], as_of=as_of,
            cohort_window_days=cohort_window_days, segments=segments, targets=targets or {},
            kpis=kpis, timezone="Europe/Amsterdam", currency="EUR", unknown_stages="error",
            client="", description="", value_bands=None, costs=None, duration_factors=None,
            benchmark_stages=None, benchmarks_file=None, missing_values=[], lookups=[],
            fold_categories=True, lead_phase=lead_phase,
            changes=[c if isinstance(c, ChangeConfig) else ChangeConfig(**c)
                     for c in changes or []],
            report={}, privacy=PrivacyConfig())
        engagement = cls(config, path=None, use_cache=False)
        dtype = engagement.phase_model.dtype
        events = events.copy()
        events["phase"] = events["phase"].astype(str).astype(dtype)
        records = records.copy()
        if "lost_at_phase" in records:
            lost = records["lost_at_phase"].astype(object).where(records["lost_at_phase"].notna())
            records["lost_at_phase"] = pd.Categorical(lost, dtype=dtype)
        empty = pd.DataFrame(columns=["record_id", "at", "target", "source_stage", "source_row",
                                      "source"])
        engagement.__dict__["_loaded"] = _Loaded(
            events=events, records=records, stage_log=empty, quarantine=empty_quarantine(),
            reconciliation=pd.DataFrame(columns=["source", "file", "rows_in", "rows_used",
                                                 "rows_quarantined"]),
            outcome_mismatches=pd.DataFrame(columns=["record_id", "history_outcome",
                                                     "file_outcome", "source"]),
            notes=[], shapes=["tables"])
        return engagement

    def __repr__(self) -> str:
        return f"Engagement({self.config.name!r}, phases={self.phase_model.keys})"

    # --- loading -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def phases(self) -> list[str]:
        return self.phase_model.keys

    def source_files(self) -> list[Path]:
        files = []
        for source in self.config.sources:
            files.append(source_path(self.base_dir, source.path))
            if source.records is not None:
                files.append(source_path(self.base_dir, source.records.path))
        files += [source_path(self.base_dir, lookup.path) for lookup in self.config.lookups]
        return files

    @cached_property
    def pseudonym_key(self) -> PseudonymKey:
        """The secret key of the personal columns' pseudonyms (see `toolkit.io.privacy`)."""
        return resolve_key(self.config.privacy, base_dir=self.base_dir,
                           engagement_file=str(self.path or ""))

    def _read_inputs(self) -> dict[Path, bytes]:
        """Every source file's bytes, read once, with their sha256 and size kept in
        `input_files` (the run's manifest records those, not a second reading)."""
        inputs: dict[Path, bytes] = {}
        self.input_files = []
        for file in self.source_files():
            try:
                check_source_file(file)  # never read a pipe or a device (the loader says why)
            except DataError:
                continue
            try:  # never more than the size limit, whatever the file says its size is
                data = inputs[file] = read_limited(file, limit=MAX_SOURCE_BYTES, what="export")
            except (LimitError, OSError):
                continue  # the loader reads it again and says why
            self.input_files.append({"path": str(file), "sha256": hashlib.sha256(data).hexdigest(),
                                     "size": len(data)})
        return inputs

    def _cache_key(self, inputs: dict[Path, bytes] | None = None) -> str:
        digest = hashlib.sha256(VERSION.encode())
        # Another key gives other pseudonyms: the cache must not answer with the old ones.
        digest.update(self.pseudonym_key.fingerprint.encode())
        # The loading code itself: a fixed loader must never be answered from an old cache.
        for module in _LOADING_CODE:
            digest.update(module.read_bytes())
        # Nor one written by another pandas or pyarrow (CI's two jobs, the tested and the minimum
        # versions, share one checkout): they parse the exports and store the tables.
        digest.update(f"pandas {pd.__version__} pyarrow {pa.__version__}".encode())
        if self.path is not None:
            text = self.path.read_bytes()
            self.yaml_sha256 = hashlib.sha256(text).hexdigest()  # pinned for a run's steps
            digest.update(text)
        digest.update(self.config.model_dump_json().encode())
        for data in (self._read_inputs() if inputs is None else inputs).values():
            digest.update(data)
        return digest.hexdigest()[:20]

    def _pinned_key(self) -> str | None:
        """The cache key of the run this engagement was opened for (`pinned`: one snapshot of
        the inputs for every notebook of the run)."""
        if self._pin is None:
            return None
        key, yaml_sha256 = self._pin
        if self.use_cache and self.path is not None:
            if yaml_sha256 != hashlib.sha256(self.path.read_bytes()).hexdigest():
                raise ConfigError(
                    "the engagement file changed while `funnel run` was running; the run stops "
                    "rather than mix two versions of it", file=str(self.path),
                    fix="run `funnel run` again when the file is final")
            return str(key or "") or None
        return None

    def _cache_dir(self) -> Path:
        return self.base_dir / ".cache" / f"{(self.path.stem if self.path else 'engagement')}"

    @cached_property
    def _loaded(self) -> _Loaded:
        cache = self._cache_dir()
        pinned = self._pinned_key()
        if pinned and (cache / f"{pinned}.json").exists():
            try:  # a step of a run: the tables the run loaded, whatever the files hold now
                self.cache_key = pinned
                return self._read_cache(cache, pinned)
            except Exception:
                pass
        inputs = self._read_inputs()
        key = self.cache_key = self._cache_key(inputs) if self.use_cache else ""
        if self.use_cache and (cache / f"{key}.json").exists():
            try:
                return self._read_cache(cache, key)
            except Exception:  # a damaged cache is rebuilt, never trusted
                pass
        with read_inputs(inputs):
            del inputs  # each file's bytes are freed as soon as its reader has them
            loaded = self._load_sources()
        if self.use_cache:
            try:
                self._write_cache(loaded, cache, key)
            except OSError:
                self.cache_key = None  # read-only checkout: work without the cache
        return loaded

    def _load_sources(self) -> _Loaded:
        parts: list[LoadedSource] = []
        for source in self.config.sources:
            parts.append(load_source(
                source, model=self.phase_model, base_dir=self.base_dir,
                unknown_stages=self.config.unknown_stages, pseudonym_key=self.pseudonym_key,
                privacy=self.config.privacy,
                engagement_file=str(self.path or ""), timezone=self.config.timezone,
                as_of=self.config.as_of, missing_values=self.config.missing_values,
                fold_categories=self.config.fold_categories, currency=self.config.currency))
        parts = self._join_sources(parts)
        records = pd.concat([p.records for p in parts], ignore_index=True)
        doubles = records["record_id"][records["record_id"].duplicated()]
        if len(doubles):
            raise DataError(
                f"{len(doubles)} record ids appear in more than one source, e.g. "
                f"{doubles.iloc[0]!r}", file=str(self.path), column="record_id",
                fix="load each deal from one source only (remove a source, or give each source's "
                    "ids a distinct prefix)")
        events = pd.concat([p.events for p in parts], ignore_index=True)
        check_phase_order(events, self.phase_model, file=str(self.path))
        for p in parts:
            for row in p.reconciliation.itertuples():
                if row.rows_used == 0:
                    p.notes.append(f"{Path(row.file).name}: none of its {row.rows_in} rows was "
                                   f"used; the quarantine says why")
        quarantine = pd.concat([p.quarantine for p in parts], ignore_index=True)
        reconciliation = pd.concat([p.reconciliation for p in parts], ignore_index=True)
        notes = [n for p in parts for n in p.notes]
        if self.config.lookups:
            lookup_personal = personal_columns(
                [n for s in self.config.sources for n in s.personal], list(records.columns),
                self.config.privacy)
            records, lq, lr = attach_lookups(
                records, self.config.lookups, base_dir=self.base_dir,
                pseudonym_key=self.pseudonym_key, personal=lookup_personal,
                missing_values=self.config.missing_values,
                fold_categories=self.config.fold_categories, notes=notes)
            quarantine = pd.concat([quarantine, lq], ignore_index=True)
            reconciliation = pd.concat([reconciliation, lr], ignore_index=True)
        # (a concat of parts without rows can lose the categorical dtype of the codes)
        quarantine["reason_code"] = reason_codes(quarantine["reason_code"], index=quarantine.index)
        mism = [p.outcome_mismatches.assign(source=p.name) for p in parts
                if p.outcome_mismatches is not None]
        return _Loaded(
            events=events,
            records=records,
            stage_log=pd.concat([p.stage_log for p in parts], ignore_index=True),
            quarantine=quarantine,
            reconciliation=reconciliation,
            outcome_mismatches=(pd.concat(mism, ignore_index=True) if mism else pd.DataFrame(
                columns=["record_id", "history_outcome", "file_outcome", "source"])),
            notes=notes,
            shapes=[p.shape for p in parts] + [
                s.shape for s in self.config.sources if s.adds_to is not None],
        )

    def _join_sources(self, parts: list[LoadedSource]) -> list[LoadedSource]:
        """Fold each source that `adds_to` another into that source (see `toolkit.io.joins`)."""
        # every source has a name once the YAML is read (the file's stem when it gave none)
        adding = {str(s.name): s.adds_to for s in self.config.sources if s.adds_to is not None}
        if not adding:
            return parts
        by_name = {p.name: p for p in parts}
        for name, target in adding.items():
            by_name[target] = add_phases(by_name[target], by_name.pop(name), self.phase_model)
        return list(by_name.values())

    def _write_cache(self, loaded: _Loaded, cache: Path, key: str) -> None:
        # Two processes may load the same engagement at once (a notebook and `funnel validate`,
        # two test workers): each file is written under a private name and moved into place, the
        # `.json` marker last, and a file the other process removed first is no error.
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob("*"):
            if not old.name.startswith(key):
                old.unlink(missing_ok=True)
        private = f".{os.getpid()}.tmp"
        text: dict[str, list[str]] = {}
        for table in _TABLES:
            frame = getattr(loaded, table).copy()
            # parquet wants one type per column: text held as Python objects is written as
            # strings, and named in the marker so that reading gives the same dtype back (a
            # cached load must give the very tables a first load gave)
            text[table] = [col for col in frame.columns if frame[col].dtype == object]
            for col in text[table]:
                frame[col] = frame[col].astype("string")
            target = cache / f"{key}.{table}.parquet"
            frame.to_parquet(target.with_name(target.name + private), index=False)
            os.replace(target.with_name(target.name + private), target)
        marker = cache / f"{key}.json"
        marker.with_name(marker.name + private).write_text(
            json.dumps({"notes": loaded.notes, "shapes": loaded.shapes, "text": text}))
        os.replace(marker.with_name(marker.name + private), marker)

    def _read_cache(self, cache: Path, key: str) -> _Loaded:
        meta = json.loads((cache / f"{key}.json").read_text())
        tables = {t: pd.read_parquet(cache / f"{key}.{t}.parquet") for t in _TABLES}
        for table, columns in meta.get("text", {}).items():
            for col in columns:
                values = tables[table][col]
                tables[table][col] = values.astype(object).where(values.notna(), None)
        quarantine = tables["quarantine"]  # its codes with every category, as a first load has
        quarantine["reason_code"] = reason_codes(quarantine["reason_code"].astype(object),
                                                 index=quarantine.index)
        dtype = self.phase_model.dtype
        tables["events"]["phase"] = tables["events"]["phase"].astype(str).astype(dtype)
        lost_at = tables["records"]["lost_at_phase"].astype(object).where(
            tables["records"]["lost_at_phase"].notna())
        tables["records"]["lost_at_phase"] = pd.Categorical(lost_at, dtype=dtype)
        return _Loaded(**tables, notes=meta["notes"], shapes=meta["shapes"])

    def reload(self) -> Engagement:
        """Forget the loaded tables (e.g. after editing the YAML's stage mapping)."""
        for key in ("_loaded", "as_of"):
            self.__dict__.pop(key, None)
        self.derived.clear()
        return self

    # --- the contract tables -----------------------------------------------------------------
    @property
    def events(self) -> pd.DataFrame:
        """One row per (record, phase entered): record_id, phase, entered_at, source_stage,
        source_row (plus `source`, the source's name)."""
        return self._loaded.events

    @property
    def records(self) -> pd.DataFrame:
        """One row per record: record_id, created_at, outcome, closed_at, lost_at_phase, value and
        the segment attributes."""
        return self._loaded.records

    @property
    def quarantine(self) -> pd.DataFrame:
        """Every source row that was not used, with the reason."""
        return self._loaded.quarantine

    @property
    def reconciliation(self) -> pd.DataFrame:
        """Per file: rows_in == rows_used + rows_quarantined."""
        return self._loaded.reconciliation

    @property
    def stage_log(self) -> pd.DataFrame:
        """Every used stage row in time order, including lost exits (input of the audit)."""
        return self._loaded.stage_log

    @property
    def outcome_mismatches(self) -> pd.DataFrame:
        return self._loaded.outcome_mismatches

    @property
    def notes(self) -> list[str]:
        return list(self._loaded.notes)

    @property
    def timing_known(self) -> bool:
        """False when a source is a snapshot: phase entry dates are then not in the data."""
        return self.dated and "snapshot" not in self._loaded.shapes

    @property
    def dated(self) -> bool:
        """False for a lead list without dates (`dated: false`): its records have no creation,
        phase or close date, so only counts, conversions and segment comparisons can be made;
        every time-based view raises `NeedsDates` (see `require_dates`)."""
        return all(getattr(s, "dated", True) for s in self.config.sources)

    @property
    def dateless_sources(self) -> list[str]:
        return [s.name or "" for s in self.config.sources if not getattr(s, "dated", True)]

    def require_dates(self, what: str) -> None:
        """Raise `NeedsDates` naming `what` when this engagement's records have no dates."""
        if not self.dated:
            raise NeedsDates(what, sources=self.dateless_sources)

    @cached_property
    def as_of(self) -> pd.Timestamp:
        """The measurement date: from the YAML, or the latest timestamp in the data. A lead list
        without dates has none to measure from: `NeedsDates`, unless the YAML sets `as_of`."""
        if self.config.as_of is not None:
            return pd.Timestamp(self.config.as_of)
        self.require_dates("the measurement date (`as_of`)")
        stamps = [self.events["entered_at"].max(), self.records["closed_at"].max(),
                  self.records["created_at"].max()]
        stamps = [s for s in stamps if pd.notna(s)]
        if not stamps:
            raise DataError("no dated rows were loaded, so there is no as-of date",
                            file=str(self.path), fix="check the quarantine for why every row was "
                                                     "set aside, or set `as_of:` in the YAML")
        return max(stamps)

    @property
    def segments(self) -> list[str]:
        """Segment attributes: declared in `segments`, else every attribute the sources supply."""
        if self.config.segments is not None:
            missing = [s for s in self.config.segments if s not in self.records.columns]
            if missing:
                have = [c for c in self.records.columns if c not in BASE_RECORD_COLUMNS]
                raise ConfigError(f"segment(s) {missing} are not attributes of the records",
                                  file=str(self.path), key="segments",
                                  fix=f"use attributes the sources declare: {have}")
            return list(self.config.segments)
        return [c for c in self.records.columns if c not in BASE_RECORD_COLUMNS]


BASE_RECORD_COLUMNS = ("record_id", "created_at", "outcome", "closed_at", "lost_at_phase", "value")
