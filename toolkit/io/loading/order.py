"""The order of a record's phases: when it first entered each, and the check that the
phases were entered in the model's order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.base.phases import PhaseModel

__all__ = [
    "check_phase_order",
]


@shared_docs
def check_phase_order(events: pd.DataFrame, model: PhaseModel, *, file: str,
                      min_records: int = 3) -> None:
    """Refuse a phase model whose order the data contradicts.

    Parameters
    ----------
    events : DataFrame
        The events table (``record_id, phase, entered_at``).
    {shared.model}
    {shared.file}
    min_records : int
        How many records must have entered both phases of a pair before their order is judged.

    Raises
    ------
    DataError
        Most records entered a phase before the one declared above it.

    Notes
    -----
    For each pair of consecutive phases (a, b) it counts the records that entered both, and among
    them those that entered b strictly before a. When at least `min_records` records entered both
    and most of them entered b first, the declared order is almost surely swapped (or a stage is
    mapped to the wrong phase): every conversion between them would be wrong, so this raises a
    DataError naming the two phases, the counts and the fix. A few such records are regressions,
    which the audit counts instead.
    """
    first = _first_entries(events, model)
    for a, b in model.transitions():
        first_a, first_b = first[:, model.keys.index(a)], first[:, model.keys.index(b)]
        both = (first_a != NOT_ENTERED) & (first_b != NOT_ENTERED)
        backwards = int((first_b[both] < first_a[both]).sum())
        if both.sum() >= min_records and backwards > both.sum() / 2:
            raise DataError(
                f"{backwards} of {int(both.sum())} records that entered both {a!r} and {b!r} entered "
                f"{b!r} first, but `phases` puts {a!r} before {b!r}", file=file,
                fix=f"reorder `phases` so that {b!r} comes before {a!r}, or check which CRM stages "
                    f"`stage_mapping` sends to these two phases")


NOT_ENTERED = np.iinfo(np.int64).max


def _first_entries(events: pd.DataFrame, model: PhaseModel) -> np.ndarray:
    """When each record first entered each phase, as int64 nanoseconds in a (record, phase) grid
    (`NOT_ENTERED` where it did not, or only undated): the minimum of `entered_at` per record and
    phase, by integer codes (a groupby on the string ids cost a second on a million records)."""
    records, _ = pd.factorize(events["record_id"])
    phase = events["phase"]
    if isinstance(phase.dtype, pd.CategoricalDtype):
        where = np.array([model.keys.index(str(c)) if str(c) in model.keys else -1
                          for c in phase.cat.categories] + [-1], dtype=np.int64)
        phases = where[phase.cat.codes.to_numpy()]  # code -1 (missing) takes the last: -1
    else:
        phases = pd.Index(model.keys).get_indexer(phase.astype(str))
    at = events["entered_at"].to_numpy(dtype="datetime64[ns]")
    use = (records >= 0) & (phases >= 0) & ~np.isnat(at)
    grid = np.full(((records.max() + 1 if len(records) else 0), len(model.keys)), NOT_ENTERED,
                   dtype=np.int64)
    np.minimum.at(grid.reshape(-1), records[use] * len(model.keys) + phases[use],
                  at[use].view(np.int64))
    return grid
