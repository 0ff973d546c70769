"""Attributes that leak the outcome, so a segment scan must not rank them as fruit.

A field entered at closing (a won reason, a contract number) is filled only for won deals: its
segments "convert" perfectly, and a scan would rank it first. A close value that is 0 for lost
deals cuts into bands that are the outcome itself. Such attributes are never scanned; the report
says which and why (DESIGN.md, "Diagnosis semantics").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.base.vocabulary import Reason

__all__ = ["leaking_attributes", "value_leaks"]

OUTCOMES = ("won", "lost", "open")


def leaking_attributes(records: pd.DataFrame, attributes: list[str], *, min_records: int = 20
                       ) -> dict[str, str]:
    """The attributes among `attributes` that leak the outcome, each with its reason.

    Two rules, each needing at least `min_records` records per outcome compared:

    - filled for one outcome only: filled for >= 50% of the records of one outcome and for at
      most 5% of every other outcome (a field entered at closing);
    - derived from the outcome: among closed records, the values held by at least 10 records
      each belong (>= 98%) to one outcome, and those values cover >= 80% of the closed records
      (a close reason, the current stage).

    Parameters
    ----------
    records : DataFrame
        The engagement's records (with ``outcome``).
    attributes : list of str
        The attributes to check.
    min_records : int, default 20
        The fewest records per outcome compared for a rule to apply.

    Returns
    -------
    dict of str to str
        Attribute -> why it leaks; the others are left out.
    """
    out: dict[str, str] = {}
    outcome = records["outcome"].astype("string")
    sizes = outcome.value_counts()
    big = [o for o in OUTCOMES if sizes.get(o, 0) >= min_records]
    # masks once, as numpy (a mask over the whole records frame copies every column)
    of = {o: (outcome == o).fillna(False).to_numpy(dtype=bool) for o in big}
    is_closed = outcome.isin(["won", "lost"]).to_numpy(dtype=bool)
    for name in attributes:
        if name not in records.columns:
            continue
        filled = records[name].notna().to_numpy(dtype=bool)
        rate = {o: float(filled[of[o]].mean()) for o in big}
        for o in big:
            others = [rate[p] for p in big if p != o]
            if others and rate[o] >= 0.5 and max(others) <= 0.05:
                out[name] = Reason.of("filled_at_outcome", {"share": rate[o], "outcome": o,
                                                            "others": max(others)})
                break
        if name in out:
            continue
        keep = is_closed & filled
        closed = records[[name, "outcome"]][keep] if name != "outcome" else records[[name]][keep]
        if len(closed) < min_records or closed["outcome"].nunique() < 2:
            continue
        # won and lost records per value, by integer codes (what a crosstab of the two counts)
        codes, values = pd.factorize(closed[name].astype("string"))
        said = closed["outcome"].astype("string")
        is_won = (said == "won").fillna(False).to_numpy(dtype=bool) & (codes >= 0)
        is_lost = (said == "lost").fillna(False).to_numpy(dtype=bool) & (codes >= 0)
        won = np.bincount(codes[is_won], minlength=len(values))
        lost = np.bincount(codes[is_lost], minlength=len(values))
        held = (won + lost) >= 10
        won, lost = won[held], lost[held]
        pure = np.maximum(won, lost) / (won + lost) >= 0.98
        mostly_lost = (lost >= won)[pure]  # a tie would name "lost", the first column
        if pure.any() and (won + lost)[pure].sum() >= 0.8 * len(closed) and (
                mostly_lost.any() and not mostly_lost.all()):
            out[name] = Reason("its values decide won or lost (each value belongs to one "
                               "outcome): derived from the outcome, such as a close reason or the "
                               "current stage", "derived_from_outcome")
    return out


def value_leaks(records: pd.DataFrame, *, min_records: int = 20) -> str | None:
    """Why the deal value must not be cut into bands for a scan, or None.

    A close value that is 0 or blank for (nearly) every lost deal while won deals carry one is
    derived from the outcome: its lowest band is the lost deals.

    Parameters
    ----------
    records : DataFrame
        The engagement's records (with ``outcome`` and ``value``).
    min_records : int, default 20
        The fewest lost and won records for the rule to apply.

    Returns
    -------
    str or None
        The reason; None when the value does not leak.
    """
    outcome = records["outcome"].astype("string")
    value = pd.to_numeric(records["value"], errors="coerce")
    lost, won = value[outcome == "lost"], value[outcome == "won"]
    if len(lost) < min_records or len(won) < min_records:
        return None
    empty_lost = float(((lost <= 0) | lost.isna()).mean())
    empty_won = float(((won <= 0) | won.isna()).mean())
    if empty_lost >= 0.9 and empty_won <= 0.5:
        return Reason.of("close_value", {"lost_share": empty_lost, "won_share": empty_won})
    return None
