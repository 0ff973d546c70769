"""Loading one configured source: the shape it names decides the loader."""

from __future__ import annotations

from pathlib import Path

from toolkit.base.phases import PhaseModel
from toolkit.io.config import SourceConfig
from toolkit.io.loading.frames import LoadedSource
from toolkit.io.loading.headers import resolve_source
from toolkit.io.loading.history import load_history
from toolkit.io.loading.rows import personal_attributes
from toolkit.io.loading.snapshot import load_snapshot
from toolkit.io.loading.wide import load_wide
from toolkit.io.privacy import PrivacyConfig, PseudonymKey

__all__ = [
    "load_source",
]


def load_source(source: SourceConfig, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                pseudonym_key: PseudonymKey | None, engagement_file: str = "",
                timezone: str = "Europe/Amsterdam", privacy: PrivacyConfig | None = None,
                as_of: object = None, missing_values: list[str] | None = None,
                fold_categories: bool = True, currency: str = "EUR") -> LoadedSource:
    """Load one source of the engagement into tidy tables (see module docstring).

    `as_of` (the engagement's measurement date; None: today) bounds the dates: a stage or creation
    date after it, or before 1990, is almost always a typo in the year, so its row is quarantined.
    """
    settings = resolve_source(source)
    settings["_engagement_tz"] = timezone
    settings["_as_of"] = as_of
    settings["_missing_values"] = list(missing_values or [])
    settings["_fold_categories"] = fold_categories
    settings["_currency"] = currency
    loader = {"history": load_history, "wide": load_wide, "snapshot": load_snapshot}
    return loader[source.shape](settings, model=model, base_dir=base_dir,
                                unknown_stages=unknown_stages, pseudonym_key=pseudonym_key,
                                engagement_file=engagement_file, name=source.name or "source",
                                personal=personal_attributes(source, settings, privacy, engagement_file))
