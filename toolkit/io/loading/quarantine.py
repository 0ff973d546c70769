"""The quarantine: every source row a loader does not use, with its reason, and the summary
per reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from toolkit.base.vocabulary import reason_codes

__all__ = [
    "quarantine_summary",
    "QUARANTINE_COLUMNS",
]


QUARANTINE_COLUMNS = ["source", "file", "source_row", "record_id", "column", "value", "reason",
                      "reason_code"]


class Quarantine:
    """Collects set-aside rows; a row is quarantined once, with its first reason."""

    def __init__(self, source: str, file: str) -> None:
        self.source, self.file = source, file
        self.parts: list[pd.DataFrame] = []
        self.rows: set[int] = set()

    def add(self, frame: pd.DataFrame, mask: pd.Series,
            reason: pd.Series | str | Callable[[pd.DataFrame], pd.Series], *,
            code: pd.Series | str, column: str | None = None, values: pd.Series | None = None,
            record_ids: pd.Series | None = None) -> pd.DataFrame:
        """Quarantine `frame[mask]` and return the remaining rows.

        `reason` is one text, a text per row, or a function giving the texts of the rows set
        aside (so that a message is built only for a row that needs one); `code` is its reason
        code (``toolkit.base.vocabulary.REASONS``), one or one per row."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return frame  # nothing set aside: no copy of every column
        if mask.any():
            hit = frame[mask]
            if callable(reason):
                reasons = reason(hit)
            else:
                reasons = reason[mask] if isinstance(reason, pd.Series) else reason
            part = pd.DataFrame({
                "source": self.source, "file": self.file,
                "source_row": hit["source_row"].to_numpy(),
                "record_id": (record_ids[mask] if record_ids is not None
                              else hit.get("_record_id", pd.Series(pd.NA, index=hit.index))
                              ).astype("string").to_numpy(),
                "column": column,
                "value": (values[mask].astype("string").to_numpy() if values is not None
                          else pd.array([pd.NA] * len(hit), dtype="string")),
                "reason": reasons if isinstance(reasons, str) else reasons.to_numpy(),
                "reason_code": code if isinstance(code, str) else code[mask].to_numpy(),
            })
            self.parts.append(part)
            self.rows.update(hit["source_row"].tolist())
        return frame[~mask]

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_quarantine()
        out = pd.concat(self.parts, ignore_index=True)
        out = out.astype({"source_row": "int64", "record_id": "string", "value": "string"})
        out["reason_code"] = reason_codes(out["reason_code"], index=out.index)
        return out


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table without rows, with the columns and dtypes of every quarantine.

    Returns
    -------
    DataFrame
        Columns ``source, file, source_row, record_id, column, value, reason, reason_code``.
    """
    return pd.DataFrame({"source": pd.Series(dtype="object"), "file": pd.Series(dtype="object"),
                         "source_row": pd.Series(dtype="int64"),
                         "record_id": pd.Series(dtype="string"),
                         "column": pd.Series(dtype="object"), "value": pd.Series(dtype="string"),
                         "reason": pd.Series(dtype="object"),
                         "reason_code": reason_codes([])})


def reconcile(name: str, file: str, raw: pd.DataFrame | int, q: Quarantine) -> dict[str, Any]:
    """One file's reconciliation: the rows read, used and quarantined.

    Parameters
    ----------
    name : str
        The source's name.
    file : str
        The file's path.
    raw : DataFrame or int
        The rows read, or how many (once they are freed).
    q : Quarantine
        The file's quarantine.

    Returns
    -------
    dict
        ``source, file, rows_in, rows_used, rows_quarantined``, with ``rows_in == rows_used +
        rows_quarantined``.
    """
    rows_in = raw if isinstance(raw, int) else len(raw)
    rows_q = len(q.rows)
    return {"source": name, "file": file, "rows_in": rows_in, "rows_used": rows_in - rows_q,
            "rows_quarantined": rows_q}


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows counted per kind of reason.

    Parameters
    ----------
    quarantine : DataFrame
        Quarantined rows (``LoadedSource.quarantine``, or the engagement's).

    Returns
    -------
    DataFrame
        Columns ``source, reason_code, reason, rows``, most rows first; row numbers and quoted
        values are folded in the reason, so all "duplicate of row N" count together.
    """
    codes = quarantine["reason_code"]
    kind = quarantine["reason"].astype(str).str.replace(r"row \d+", "row N", regex=True)
    # the reasons that quote the value they could not read: one kind whatever the value
    quoted = codes.isin(_QUOTES_A_VALUE).to_numpy(dtype=bool)
    kind = kind.mask(quoted, kind.str.replace(r"'[^']*'", "'…'", n=1, regex=True))
    out = (quarantine.assign(reason=kind)
           .groupby(["source", "reason_code", "reason"], observed=True).size().rename("rows")
           .reset_index().sort_values("rows", ascending=False, kind="stable"))
    return out.reset_index(drop=True)


_QUOTES_A_VALUE = ("unparseable_date", "unparseable_number", "unknown_stage", "ignored_stage",
                   "unknown_lost_stage")
