"""Result tables as a reader sees them: chosen columns under translated headers, every cell through
the one formatter, keys shown as labels, no index column.

::

    shown = display_table(fruit.table, ["rank", "area", "finding", "extra_orders_ci"],
                          fmt=formatter("nl"), phases=engagement.phase_model)
    shown.headers      # ['#', 'Gebied', 'Bevinding', 'Extra orders (bereik)']
    shown.rows[0]      # [Cell('1', 'num'), Cell('Knelpunt', 'text'), ...]

A column is named by the library's own column name (``n``, ``rate``, ``p_adjusted`` ...) or by a
derived column that joins several: ``step`` (``from_phase`` → ``to_phase`` as labels), ``rate_ci``
(the rate with its 95% interval), ``value_ci`` (a KPI value in its unit with its interval),
``extra_orders_ci`` and so on (:data:`COLUMNS` lists them all). A column the frame lacks is left
out, so one spec serves a table with or without, say, an ``owner`` column.

Modules: ``display`` (:data:`COLUMNS`, :func:`display_table`) on ``findings`` (the cells written in
words) on ``cells`` (the cell types and plain renderers) on ``words`` (codes, statuses and
attribute labels). Import the names from this package.
"""

from __future__ import annotations

from toolkit.present.tables.cells import (
    Cell,
    DisplayTable,
)
from toolkit.present.tables.display import (
    COLUMNS,
    MAX_COLUMNS,
    cell_text,
    display_table,
)
from toolkit.present.tables.findings import (
    REFERENCE_WORDS,
)
from toolkit.present.tables.words import (
    ATTRIBUTE_WORDS,
    AUDIT_MEANINGS,
    CODES,
    N_,
    NOT_MEASURED,
    DeclaredLabel,
    attribute_headers,
    attribute_label,
    attribute_name,
    code_text,
    in_sentence,
    not_measured,
    segment_value,
    status_tone,
)

__all__ = [
    "AUDIT_MEANINGS",
    "Cell",
    "DisplayTable",
    "COLUMNS",
    "CODES",
    "NOT_MEASURED",
    "not_measured",
    "display_table",
    "code_text",
    "status_tone",
    "attribute_name",
    "attribute_label",
    "attribute_headers",
    "DeclaredLabel",
    "ATTRIBUTE_WORDS",
    "segment_value",
    "in_sentence",
    "N_",
    "REFERENCE_WORDS",
]

# Also importable from here, as they were before the module became a package:
__all__ += [
    "MAX_COLUMNS",
    "cell_text",
]
