"""Loading one configured source: the shape it names decides the loader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from toolkit.base.docstrings import shared_docs
from toolkit.base.phases import PhaseModel
from toolkit.io.config import SourceConfig
from toolkit.io.loading.frames import LoadedSource
from toolkit.io.loading.headers import resolve_source
from toolkit.io.loading.history import load_history
from toolkit.io.loading.rows import personal_attributes
from toolkit.io.loading.settings import EngagementReading
from toolkit.io.loading.snapshot import load_snapshot
from toolkit.io.loading.wide import load_wide
from toolkit.io.privacy import PrivacyConfig, PseudonymKey

__all__ = [
    "load_source",
]


@shared_docs
def load_source(source: SourceConfig, *, model: PhaseModel, base_dir: Path, unknown_stages: str,
                pseudonym_key: PseudonymKey | None, engagement_file: str = "",
                timezone: str = "Europe/Amsterdam", privacy: PrivacyConfig | None = None,
                as_of: date | str | None = None, missing_values: list[str] | None = None,
                fold_categories: bool = True, currency: str = "EUR") -> LoadedSource:
    """Load one source of the engagement into tidy tables; the shape it names picks the loader.

    Parameters
    ----------
    source : SourceConfig
        The source as the engagement YAML declares it (``sources:``).
    {shared.model}
    base_dir : Path
        The folder of the engagement YAML: relative source paths start there.
    unknown_stages : ``"error"`` or ``"quarantine"``
        What a stage the ``stage_mapping`` does not name does: stop with an error naming it, or
        set its row aside.
    pseudonym_key : PseudonymKey or None
        The key personal columns are pseudonymised with (``engagement.pseudonym_key``).
    engagement_file : str
        The engagement YAML's path, named in configuration errors.
    timezone : str
        The engagement's time zone (IANA name), for dates without one.
    privacy : PrivacyConfig, optional
        Which attributes are personal beyond the source's own ``personal:`` list.
    as_of : date-like, optional
        The engagement's measurement date (None: today). A stage or creation date after it, or
        before 1990, is almost always a typo in the year: its row is quarantined.
    missing_values : list of str, optional
        Values that mean blank in this export (``"-"``, ``"n/a"``), read as missing.
    fold_categories : bool
        Fold attribute spellings that differ only in case, spaces, hyphens, invisible
        characters or look-alike letters into the most common one (said in the notes).
    currency : str
        The engagement's currency (ISO code); amounts in another are left blank.

    Returns
    -------
    LoadedSource
        The source's events, records, stage log, quarantined rows, reconciliation and notes.
        Every row read is used or quarantined with a reason: ``rows_in == rows_used +
        rows_quarantined`` per file.
    """
    settings = resolve_source(source, engagement=EngagementReading(
        timezone=timezone, as_of=as_of, missing_values=tuple(missing_values or ()),
        fold_categories=fold_categories, currency=currency))
    loader = {"history": load_history, "wide": load_wide, "snapshot": load_snapshot}
    return loader[source.shape](settings, model=model, base_dir=base_dir,
                                unknown_stages=unknown_stages, pseudonym_key=pseudonym_key,
                                engagement_file=engagement_file, name=source.name or "source",
                                personal=personal_attributes(source, settings, privacy, engagement_file))
