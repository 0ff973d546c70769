"""The rows every shape starts from: cells as text, blank rows, the checks common to every
shape's rows, and the columns whose values a message may not quote (personal data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.base.exceptions import DataError
from toolkit.io.config import SourceConfig
from toolkit.io.loading.headers import check_header, find_column, header_in
from toolkit.io.loading.quarantine import Quarantine
from toolkit.io.loading.settings import ReadingSettings, SourceSettings
from toolkit.io.parsing import parse_flags
from toolkit.io.privacy import PrivacyConfig, check_personal, personal_columns


def as_text(series: pd.Series) -> pd.Series:
    """The values as trimmed text, blank as missing.

    Parameters
    ----------
    series : Series
        A column as read.

    Returns
    -------
    Series
        Pandas' string dtype, spaces trimmed, an empty value missing. (Arrow trims a million
        values in milliseconds: trimming only the distinct values and spreading them back took
        longer.)
    """
    out = series.astype("string").str.strip()
    return out.mask(out == "")


def quotable_headers(settings: ReadingSettings, personal: list[str]) -> set[str]:
    """The file's headers (case-folded) whose values a reason may quote: the mapped columns and
    the attributes that are not personal."""
    attributes = settings.attributes
    headers = [h for h in settings.columns.values() if isinstance(h, str)]
    headers += [h for name, h in attributes.items() if name not in personal and isinstance(h, str)]
    return {h.strip().casefold() for h in headers}


def personal_attributes(source: SourceConfig, settings: SourceSettings,
                        privacy: PrivacyConfig | None, engagement_file: str = "") -> list[str]:
    """The source's attributes that hold personal data, to be pseudonymised.

    Parameters
    ----------
    source : SourceConfig
        The source as the engagement YAML declares it (its ``personal:`` list).
    settings : SourceSettings
        The source's resolved settings (its ``attributes``, and its records file's).
    privacy : PrivacyConfig or None
        The engagement's privacy settings (None: the defaults).
    engagement_file : str
        The engagement YAML's path, named in an error.

    Returns
    -------
    list of str
        The attribute names to pseudonymise.

    Raises
    ------
    ConfigError
        ``personal:`` names an attribute the source does not have.
    """
    attributes = {**settings.attributes,
                  **(settings.records.attributes if settings.records is not None else {})}
    check_personal(list(source.personal), attributes, file=engagement_file,
                   key=f"sources[{source.name}].personal")
    names = list(attributes)
    return personal_columns(list(source.personal), names, privacy or PrivacyConfig())


def common_rows(frame: pd.DataFrame, settings: ReadingSettings, q: Quarantine, *, file: str, key: str,
                 carry: list[str] | None = None) -> pd.DataFrame:
    """Set aside blank rows, deleted rows and rows without a record id; attach `_record_id`.

    `carry`: the file's columns the rows kept need (besides `source_row` and the ones read here);
    None: all of them."""
    check_header(frame, settings, file=file, key=key)
    headers = frame.columns
    blank = blank_rows(frame.drop(columns="source_row"))
    cols = settings.columns
    if carry is not None:
        wanted = set(carry)
        kept = wanted | {cols.get("is_deleted"), header_in(headers, cols.get("record_id"))}
        frame = frame[[c for c in headers if c in kept or c == "source_row"]]
    frame = q.add(frame, blank, "blank row", code="blank_row")
    if "is_deleted" in cols and cols["is_deleted"] in headers:
        deleted = parse_flags(frame[cols["is_deleted"]], true_values=settings.true_values)
        frame = q.add(frame, deleted.fillna(False).astype(bool), "deleted in the CRM",
                      code="deleted", column=cols["is_deleted"])
    if "record_id" not in cols:
        raise DataError("no record id column configured", file=file,
                        fix=f"set `{key}.record_id` to the column that identifies a deal")
    rid_col = find_column(headers, cols["record_id"], role="record_id", file=file, key=key)
    rid = as_text(frame[rid_col])
    frame = frame.assign(_record_id=rid)
    if carry is not None:  # the caller needs neither the id column nor the deleted flags
        frame = frame[[c for c in frame.columns
                       if c in wanted or c in ("source_row", "_record_id")]]
    return q.add(frame, rid.isna(), f"missing record id in column {rid_col!r}",
                 code="missing_record_id", column=rid_col)


def blank_rows(cells: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is missing or only spaces. Column by column, each only on the rows
    still blank so far (after the first column hardly any are)."""
    blank = np.ones(len(cells), dtype=bool)
    for position in range(cells.shape[1]):  # by position: two headers may read the same
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        values = cells.iloc[rows, position]
        empty = values.isna() | (values.astype("string").str.strip() == "")
        blank[rows] = empty.fillna(True).to_numpy(dtype=bool)
    return pd.Series(blank, index=cells.index)
