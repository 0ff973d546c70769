"""The phase model: the client's commercial process as ordered phases, and its CRM stage mapping."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Phase", "PhaseModel", "StageTarget", "normalise_stage", "IGNORE", "WON", "LOST"]

WON = "won"
LOST = "lost"
IGNORE = "ignore"
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def normalise_stage(name: object) -> str:
    """The comparison form of a CRM stage name: trimmed, inner whitespace collapsed, case-folded.

    CRM exports carry stray spaces and case changes (`" offerte  Uitgebracht"`); the mapping
    must not depend on them.

    Parameters
    ----------
    name : object
        The stage name as exported.

    Returns
    -------
    str
        Its comparison form.
    """
    return " ".join(str(name).split()).casefold()


class Phase(BaseModel):
    """One phase of the commercial process, described the way the method does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(description="identifier used in tables and YAML, e.g. `lead`")
    label: str = Field(description="free text shown to people, e.g. 'Kans (opportunity)'")
    description: str = ""
    functions: tuple[str, ...] = Field(default=(), description="roles working in this phase")
    tasks: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    output: str = ""
    entry_criteria: str = ""

    @field_validator("key")
    @classmethod
    def _key_is_identifier(cls, key: str) -> str:
        if not _KEY.match(key) or key in (WON, LOST, IGNORE):
            raise ValueError(
                f"phase key {key!r} must be lower-case letters, digits and underscores, start with a "
                f"letter and not be one of 'won', 'lost', 'ignore'; use e.g. 'lead' or 'proposal'"
            )
        return key


StageTarget = str  # a phase key, or one of WON / LOST / IGNORE


class PhaseModel(BaseModel):
    """Ordered phases plus the mapping from the client's CRM stages onto them.

    The last phase is the won outcome (an order): a record is won when it reaches it. Lost is an exit,
    not a phase. CRM stages map to a phase key, to `won` (= the last phase), to `lost`, or to `ignore`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    phases: tuple[Phase, ...]
    stage_mapping: dict[str, StageTarget] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> PhaseModel:
        if len(self.phases) < 2:
            raise ValueError("a phase model needs at least two phases (e.g. 'lead' and 'order')")
        keys = [p.key for p in self.phases]
        doubles = sorted({k for k in keys if keys.count(k) > 1})
        if doubles:
            raise ValueError(f"phase keys must be unique; {doubles} appear more than once")
        allowed = set(keys) | {WON, LOST, IGNORE}
        seen: dict[str, str] = {}
        for stage, target in self.stage_mapping.items():
            if target not in allowed:
                raise ValueError(
                    f"stage {stage!r} maps to {target!r}, which is not a phase key; allowed are "
                    f"{sorted(keys)} or 'won', 'lost', 'ignore'"
                )
            norm = normalise_stage(stage)
            if norm in seen and self.stage_mapping[seen[norm]] != target:
                raise ValueError(
                    f"stages {stage!r} (-> {target!r}) and {seen[norm]!r} (-> "
                    f"{self.stage_mapping[seen[norm]]!r}) differ only in case or spaces, so the "
                    f"loader reads them as one stage, but they map to different phases; keep one "
                    f"of them"
                )
            seen.setdefault(norm, stage)
        return self

    # --- the order of the process -------------------------------------------------------------
    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.phases]

    @property
    def won_phase(self) -> str:
        """The last phase: reaching it is winning."""
        return self.phases[-1].key

    @property
    def first_phase(self) -> str:
        return self.phases[0].key

    @property
    def dtype(self) -> pd.CategoricalDtype:
        """The ordered categorical dtype of `events.phase`."""
        return pd.CategoricalDtype(self.keys, ordered=True)

    def index(self, key: str) -> int:
        try:
            return self.keys.index(key)
        except ValueError:
            raise KeyError(
                f"The value for `phase` must be one of {self.keys}, but {key!r} was passed."
            ) from None

    def phase(self, key: str) -> Phase:
        return self.phases[self.index(key)]

    def label(self, key: str) -> str:
        return self.phase(key).label

    def transitions(self) -> list[tuple[str, str]]:
        """Consecutive (from_phase, to_phase) pairs, the steps of the funnel."""
        return list(zip(self.keys[:-1], self.keys[1:], strict=True))

    # --- the stage mapping ----------------------------------------------------------------------
    def normalised_mapping(self) -> dict[str, str]:
        """Normalised CRM stage name -> phase key / 'lost' / 'ignore'; 'won' resolved to the last phase."""
        out = {}
        for stage, target in self.stage_mapping.items():
            out[normalise_stage(stage)] = self.won_phase if target == WON else target
        return out

    def map_stages(self, stages: Iterable[object]) -> pd.Series:
        """Map raw CRM stage names; unknown stages come back as NA (the loader decides what to do)."""
        raw = pd.Series(list(stages), dtype="object")
        mapping = self.normalised_mapping()
        uniques = raw.dropna().unique()
        lookup = {u: mapping.get(normalise_stage(u)) for u in uniques}
        return raw.map(lookup).astype("object")

    def to_frame(self) -> pd.DataFrame:
        """One row per phase with its roles, tasks, actions, output and the CRM stages mapped to it."""
        stages: dict[str, list[str]] = {}
        for stage, target in self.stage_mapping.items():
            stages.setdefault(self.won_phase if target == WON else target, []).append(stage)
        rows = []
        for i, p in enumerate(self.phases, start=1):
            rows.append({
                "order": i, "phase": p.key, "label": p.label, "functions": ", ".join(p.functions),
                "tasks": "; ".join(p.tasks), "actions": ", ".join(p.actions), "output": p.output,
                "entry_criteria": p.entry_criteria, "crm_stages": ", ".join(stages.get(p.key, [])),
            })
        for exit_ in (LOST, IGNORE):
            if stages.get(exit_):
                rows.append({"order": None, "phase": exit_, "label": exit_,
                             "crm_stages": ", ".join(stages[exit_])})
        return pd.DataFrame(rows)

    @classmethod
    def from_mapping(cls, phases: Iterable[Mapping | Phase], stage_mapping: Mapping[str, str]
                     ) -> PhaseModel:
        return cls(phases=tuple(p if isinstance(p, Phase) else Phase(**p) for p in phases),
                   stage_mapping=dict(stage_mapping))
