"""The tables a loader returns: their columns, the loaded source (LoadedSource) and the
empty events table."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from toolkit.base.phases import PhaseModel

__all__ = [
    "LoadedSource",
    "EVENT_COLUMNS",
    "STAGE_LOG_COLUMNS",
]


EVENT_COLUMNS = ["record_id", "phase", "entered_at", "source_stage", "source_row", "source"]
STAGE_LOG_COLUMNS = ["record_id", "at", "target", "source_stage", "source_row", "source"]


@dataclass
class LoadedSource:
    """What one source contributes: tidy tables plus the rows set aside and the reconciliation."""

    name: str
    shape: str
    events: pd.DataFrame
    records: pd.DataFrame
    stage_log: pd.DataFrame  # every used stage row in time order, incl. lost exits (for the audit)
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame  # one row per file: rows_in, rows_used, rows_quarantined
    notes: list[str] = field(default_factory=list)
    outcome_mismatches: pd.DataFrame | None = None


def _empty_events(model: PhaseModel) -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": pd.Series(dtype="string"), "phase": pd.Series(dtype=model.dtype),
        "entered_at": pd.Series(dtype="datetime64[ns]"), "source_stage": pd.Series(dtype="string"),
        "source_row": pd.Series(dtype="int64"), "source": pd.Series(dtype="object")})
