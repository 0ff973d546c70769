"""Loading CRM exports (history, wide, snapshot) into the tidy events/records tables.

Every source row is either used or quarantined with a reason; `rows_in == rows_used +
rows_quarantined` holds per file. Row numbers are as a spreadsheet shows them: the header is row 1
(or the source's `header_row` when title rows sit above it), the first data row the one below it.
Blank rows are quarantined rather than skipped, so the numbers stay those of the file.

Dates are checked for plausibility: a stage or creation date after the engagement's `as_of` (or
today) or before 1990-01-01 is almost always a mistyped year; its row is quarantined with the value.
An unparseable or negative amount is left blank (the row's stage change is still real) and listed in
the notes.

One job per module: ``reading`` (the bytes read once, the file checks, CSV and Excel) on
``delimited`` (decoding, Arrow's CSV reader); ``settings`` (the typed, frozen settings a loader
is given); ``headers`` (the settings a source resolves to, the header checks); ``quarantine``;
one module per shape (``history``, ``wide``, ``snapshot``) on what they share (``rows``,
``records``, ``values``, ``outcomes``, ``records_file``); ``source`` (:func:`load_source`);
``order`` (:func:`check_phase_order`); ``frames`` (the tables returned).
Import the names from this package.
"""

from __future__ import annotations

from toolkit.io.loading.delimited import (
    release_arrow_memory,
)
from toolkit.io.loading.frames import (
    EVENT_COLUMNS,
    STAGE_LOG_COLUMNS,
    LoadedSource,
)
from toolkit.io.loading.headers import (
    find_column,
    header_in,
    resolve_source,
)
from toolkit.io.loading.order import (
    check_phase_order,
)
from toolkit.io.loading.quarantine import (
    QUARANTINE_COLUMNS,
    Quarantine,
    empty_quarantine,
    quarantine_summary,
    reconcile,
)
from toolkit.io.loading.reading import (
    check_source_file,
    read_inputs,
    read_table,
    source_path,
)
from toolkit.io.loading.records_file import (
    finish_records,
)
from toolkit.io.loading.rows import (
    as_text,
    personal_attributes,
)
from toolkit.io.loading.settings import (
    EngagementReading,
    ReadingSettings,
    SourceSettings,
)
from toolkit.io.loading.source import (
    load_source,
)
from toolkit.io.loading.values import (
    source_attributes,
)

__all__ = [
    "LoadedSource",
    "load_source",
    "read_table",
    "resolve_source",
    "SourceSettings",
    "ReadingSettings",
    "EngagementReading",
    "quarantine_summary",
    "check_phase_order",
    "QUARANTINE_COLUMNS",
    "EVENT_COLUMNS",
    "STAGE_LOG_COLUMNS",
]

# Also importable from here, as they were before the module became a package:
__all__ += [
    "read_inputs",
    "source_path",
    "check_source_file",
    "release_arrow_memory",
    "find_column",
    "header_in",
    "Quarantine",
    "empty_quarantine",
    "as_text",
    "source_attributes",
    "personal_attributes",
    "reconcile",
    "finish_records",
]
