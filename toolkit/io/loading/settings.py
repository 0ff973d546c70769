"""What a loader is told about one file: typed, frozen settings instead of a dict of YAML keys
with private ones beside them.

:class:`ReadingSettings` is how one file is read (a source's per-record file, a lookup table);
:class:`SourceSettings` adds what a source's shape needs. Both hold the YAML's values with the
preset's defaults under them (:func:`toolkit.io.loading.resolve_source` makes them), which columns
the preset named (so an export without an optional one still loads), and what the engagement
lends every file (:class:`EngagementReading`: its time zone, as-of date, blank markers, category
folding and currency). A loader that does without a column the export lacks makes a new object
(``dataclasses.replace``); nothing is changed in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeVar

__all__ = [
    "EngagementReading",
    "ReadingSettings",
    "SourceSettings",
]

#: The values of a flag column read as true (the YAML's `true_values` default).
TRUE_VALUES = ("true", "1", "1.0", "yes", "ja", "waar")

_S = TypeVar("_S", bound="ReadingSettings")


@dataclass(frozen=True, kw_only=True)
class EngagementReading:
    """What the engagement lends every file it reads.

    Attributes
    ----------
    timezone : str or None
        The engagement's time zone (IANA name): dates with a zone are converted to it, and
        "today" is taken in it. None: the dates' own clock.
    as_of : date, str or None
        The measurement date: a stage or creation date after it is quarantined. None: today.
    missing_values : tuple of str
        Values read as missing in every attribute column (``"-"``, ``"n/a"``).
    fold_categories : bool
        Fold attribute spellings that differ only in case, spaces or hyphens (said in the notes).
    currency : str
        The engagement's currency (ISO code); an amount in another one is left blank.
    """

    timezone: str | None = None
    as_of: date | str | None = None
    missing_values: tuple[str, ...] = ()
    fold_categories: bool = True
    currency: str = "EUR"


@dataclass(frozen=True, kw_only=True)
class ReadingSettings:
    """How one file is read: the YAML's reading keys (a preset's defaults under them), the
    columns the preset named, and what the engagement lends.

    Attributes
    ----------
    path : str
        The file, as the YAML names it (relative to the engagement YAML).
    columns : mapping of str to str
        Each column role (``record_id``, ``created_at``, ...) and the header it is read from.
    attributes : mapping of str to str
        Each segment attribute's name and the header it is read from.
    date_format, delimiter, decimal, thousands, encoding, sheet, header_row, timezone
        The file's locale, as the YAML's keys of these names say (None: detected or default).
    true_values : tuple of str
        The values of a flag column read as true.
    preset_columns : mapping of str to str
        The roles the preset named and the YAML did not, with their headers: an optional one the
        export lacks is done without, with a note.
    preset_attributes : mapping of str to str
        Likewise the attributes the preset named and the YAML did not.
    engagement : EngagementReading
        What the engagement lends every file.
    """

    path: str
    columns: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    date_format: str | None = None
    delimiter: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    timezone: str | None = None
    true_values: tuple[str, ...] = TRUE_VALUES
    preset_columns: Mapping[str, str] = field(default_factory=dict)
    preset_attributes: Mapping[str, str] = field(default_factory=dict)
    engagement: EngagementReading = field(default_factory=EngagementReading)

    @classmethod
    def from_keys(cls: type[_S], keys: Mapping[str, Any], **given: Any) -> _S:
        """The settings of the YAML keys in `keys` (a validated model's dump, a preset merged
        in); keys that are no field are left out, `given` sets fields beside them."""
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: v for k, v in keys.items() if k in names}
        values.update(given)
        for name in ("columns", "attributes", "stage_columns"):
            if name in values:
                values[name] = dict(values[name] or {})
        for name in ("true_values", "personal"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def without(self: _S, *, columns: tuple[str, ...] = (), attributes: tuple[str, ...] = ()
                ) -> _S:
        """These settings without the named column roles and attributes."""
        if not columns and not attributes:
            return self
        return dataclasses.replace(
            self, columns={k: v for k, v in self.columns.items() if k not in columns},
            attributes={k: v for k, v in self.attributes.items() if k not in attributes})


@dataclass(frozen=True, kw_only=True)
class SourceSettings(ReadingSettings):
    """One source of the engagement as its loader reads it: :class:`ReadingSettings` plus what its
    shape needs.

    Attributes
    ----------
    name : str or None
        The source's name.
    shape : ``"history"``, ``"wide"`` or ``"snapshot"``
        Its shape, which picks the loader.
    preset : str or None
        The CRM preset whose defaults fill in what the YAML leaves out.
    stage_columns : mapping of str to str
        Wide shape: each stage date column and the CRM stage it dates.
    stage_column_pattern : str or None
        Wide shape: a regex with a group ``stage`` matching the stage date columns.
    records : ReadingSettings or None
        History shape: the per-record file beside the stage history (its preset's defaults and
        the engagement's settings filled in too).
    stage : str or None
        History shape: the CRM stage of every row (a file that holds one stage).
    adds_to : str or None
        The source whose records this file dates later phases of.
    created_phase : str or None
        The phase the creation date dates (None: the first).
    personal : tuple of str
        The attributes holding personal data.
    dated : bool
        False for a lead list without any date.
    """

    name: str | None = None
    shape: Literal["history", "wide", "snapshot"]
    preset: str | None = None
    stage_columns: Mapping[str, str] = field(default_factory=dict)
    stage_column_pattern: str | None = None
    records: ReadingSettings | None = None
    stage: str | None = None
    adds_to: str | None = None
    created_phase: str | None = None
    personal: tuple[str, ...] = ()
    dated: bool = True
