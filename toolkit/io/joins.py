"""Several files about one set of records: a source that dates later phases of another source's
records (`adds_to`), and attribute lookup tables joined by key (`lookups`).

An MQL file and a closed-deals file keyed by the same id are one funnel, not two sets of deals:
the second file's rows become events of the first file's records. A row naming a record the first
file does not hold is quarantined with that reason, so the reconciliation still holds. A lookup
(agent -> team, office, manager) adds attributes; records whose key has no row in it keep blank
attributes and are counted in the notes, never dropped.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from toolkit.base.exceptions import DataError
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import reason_codes
from toolkit.io.categories import fold_key
from toolkit.io.config import LookupConfig
from toolkit.io.loading import (
    EngagementReading,
    LoadedSource,
    Quarantine,
    ReadingSettings,
    as_text,
    empty_quarantine,
    find_column,
    finish_records,
    read_table,
    reconcile,
    source_attributes,
    source_path,
)
from toolkit.io.privacy import PseudonymKey, pseudonymise

__all__ = ["add_phases", "attach_lookups"]


def add_phases(base: LoadedSource, extra: LoadedSource, model: PhaseModel) -> LoadedSource:
    """`base` with the phases `extra` dates for the same records (joined on record_id).

    A won-phase or lost row in `extra` settles the record's outcome (a closed-deals file is later
    news than the lead file); the other rows add phase entries. `extra`'s amounts and attributes
    fill what `base` leaves blank. Rows of `extra` whose record is not in `base` are quarantined.
    """
    ids = pd.Index(base.records["record_id"].astype("string"))
    known = extra.stage_log["record_id"].isin(ids)
    orphan_rows = extra.stage_log.loc[~known]
    quarantine = extra.quarantine
    recon = extra.reconciliation.copy()
    notes = list(extra.notes)
    if len(orphan_rows):
        orphan_rows = orphan_rows.drop_duplicates("source_row")
        file = recon["file"].iloc[0]
        part = pd.DataFrame({
            "source": extra.name, "file": file,
            "source_row": orphan_rows["source_row"].astype("int64").to_numpy(),
            "record_id": orphan_rows["record_id"].astype("string").to_numpy(),
            "column": None, "value": pd.array([pd.NA] * len(orphan_rows), dtype="string"),
            "reason": f"record id not in source {base.name!r} (this source adds phases to its "
                      f"records)",
            "reason_code": reason_codes(["orphan_record"] * len(orphan_rows))})
        quarantine = pd.concat([quarantine, part], ignore_index=True)
        first = recon.index[0]
        recon.loc[first, "rows_used"] -= len(part)
        recon.loc[first, "rows_quarantined"] += len(part)
        notes.append(f"{Path(file).name}: {orphan_rows['record_id'].nunique()} record id(s) are "
                     f"not in source {base.name!r}; their {len(part)} row(s) are quarantined")
    log = pd.concat([base.stage_log, extra.stage_log.loc[known]], ignore_index=True)
    log = log.sort_values(["record_id", "at", "source_row"], kind="stable").reset_index(drop=True)
    events = pd.concat([base.events, extra.events[extra.events["record_id"].isin(ids)]],
                       ignore_index=True)
    events = events.sort_values(["record_id", "entered_at"], kind="stable")
    events = events[~events.duplicated(["record_id", "phase"], keep="first")].reset_index(drop=True)

    records = base.records.set_index("record_id")
    settled = extra.records.set_index("record_id")
    settled = settled[settled.index.isin(ids) & settled["outcome"].isin(["won", "lost"])]
    changed = int((records.loc[settled.index, "outcome"] != settled["outcome"]).sum())
    records.loc[settled.index, "outcome"] = settled["outcome"]
    records.loc[settled.index, "closed_at"] = settled["closed_at"]
    for col in extra.records.columns:
        if col in ("record_id", "created_at", "outcome", "closed_at", "lost_at_phase"):
            continue
        mine = extra.records.set_index("record_id")[col].reindex(records.index)
        records[col] = records[col].combine_first(mine) if col in records else mine
    if changed:
        notes.append(f"{Path(recon['file'].iloc[0]).name}: {changed} record(s) of "
                     f"{base.name!r} get their outcome (won/lost) from this source")
    records = finish_records(records.drop(columns="lost_at_phase"), events, model)
    return LoadedSource(
        name=base.name, shape=base.shape, events=events, records=records, stage_log=log,
        quarantine=pd.concat([base.quarantine, quarantine], ignore_index=True),
        reconciliation=pd.concat([base.reconciliation, recon], ignore_index=True),
        notes=base.notes + notes, outcome_mismatches=base.outcome_mismatches)


def attach_lookups(records: pd.DataFrame, lookups: list[LookupConfig], *, base_dir: Path,
                   pseudonym_key: PseudonymKey | None, personal: list[str],
                   missing_values: list[str], fold_categories: bool, notes: list[str]
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Join each lookup table's attributes onto the records by key.

    Returns the records, the quarantine of the lookup files (blank or repeated keys) and their
    reconciliation rows. A key is compared as the record holds it: when the record attribute is
    personal (pseudonymised on load), the lookup's key is pseudonymised with the same key first.
    """

    quarantines, recon = [empty_quarantine()], []
    records = records.copy()
    for i, lookup in enumerate(lookups):
        path = source_path(base_dir, lookup.path)
        file, yaml_key = str(path), f"lookups[{i}]"
        settings = ReadingSettings.from_keys(lookup.model_dump(), engagement=EngagementReading(
            missing_values=tuple(missing_values), fold_categories=fold_categories))
        raw = read_table(path, settings, notes=notes)
        q = Quarantine(Path(file).stem, file)
        if lookup.on not in records.columns:
            have = [c for c in records.columns if c not in (
                "record_id", "created_at", "outcome", "closed_at", "lost_at_phase", "value")]
            raise DataError(f"`on: {lookup.on}` is not an attribute of the records; they have "
                            f"{have}", file=file, value=lookup.on,
                            fix=f"set `{yaml_key}.on` to the attribute the key matches (declare "
                                f"it under a source's `attributes` first)")
        key_col = find_column(raw, lookup.key, role="key", file=file, key=yaml_key)
        keys = as_text(raw[key_col])
        raw = raw.assign(_key=keys)
        frame = q.add(raw, keys.isna(), f"missing key in column {key_col!r}",
                      code="missing_key", column=key_col)
        if lookup.on in personal:
            if pseudonym_key is None:
                raise TypeError(f"`pseudonym_key` is needed to pseudonymise the personal lookup key "
                                f"{lookup.on!r}")
            frame = frame.assign(_key=pseudonymise(frame["_key"], pseudonym_key))
        first = frame.groupby("_key")["source_row"].transform("first")
        frame = q.add(frame, frame.duplicated("_key", keep="first"),
                      "repeated key (first at row " + first.astype(str) + ")",
                      code="duplicate_key", column=key_col)
        clash = [n for n in lookup.attributes if n in records.columns]
        if clash:
            raise DataError(f"lookup attribute(s) {clash} are already attributes of the records",
                            file=file, value=clash[0],
                            fix=f"rename them under `{yaml_key}.attributes`")
        attrs = source_attributes(frame, lookup.attributes, file=file, key=yaml_key,
                            personal=list(lookup.personal), pseudonym_key=pseudonym_key,
                            settings=settings, notes=notes)
        table = attrs.set_axis(pd.Index(frame["_key"].astype("string"), name="_key"))
        wanted = records[lookup.on].astype("string")
        secret = lookup.on in personal or lookup.key in lookup.personal
        if fold_categories and not secret:
            wanted = _folded_to_the_lookup(wanted, table.index, file=path.name, on=lookup.on,
                                           notes=notes)
        for col in table.columns:
            records[col] = wanted.map(table[col]).to_numpy()
        unmatched = wanted.notna() & ~wanted.isin(table.index)
        if unmatched.any():
            named = "" if secret else "; " + _unmatched_values(wanted[unmatched], table.index)
            notes.append(f"{path.name}: {int(unmatched.sum())} record(s) have a `{lookup.on}` "
                         f"with no row in this lookup ({wanted[unmatched].nunique()} distinct "
                         f"value(s)){named}; their {sorted(table.columns)} stay blank and show "
                         f"as (missing) in the segment scan")
        quarantines.append(q.frame())
        recon.append(reconcile(q.source, file, raw, q))
    return records, pd.concat(quarantines, ignore_index=True), pd.DataFrame(
        recon, columns=["source", "file", "rows_in", "rows_used", "rows_quarantined"])




#: How many unmatched lookup values a note names (the most frequent first); the rest are counted.
_NAMED_VALUES = 10


def _folded_to_the_lookup(wanted: pd.Series, keys: pd.Index, *, file: str, on: str,
                          notes: list[str]) -> pd.Series:
    """`wanted` with each value that has no lookup row, but one spelled alike (case, spaces,
    hyphens: the folding of the records' categories), replaced by that row's key. The records'
    folding keeps the most common spelling, which need not be the lookup's ("GTXPro" against
    "GTX Pro"). A folded form that two lookup keys share is left alone (no guessing)."""
    by_fold: dict[str, str | None] = {}
    for key in keys:
        folded = fold_key(key)
        by_fold[folded] = None if folded in by_fold else str(key)
    missing = wanted.notna() & ~wanted.isin(keys)
    spelled = {value: by_fold.get(fold_key(value)) for value in pd.unique(wanted[missing])}
    spelled = {value: key for value, key in spelled.items() if key is not None}
    if not spelled:
        return wanted
    moved = wanted.isin(list(spelled))
    notes.append(f"{file}: {int(moved.sum())} record(s) have a `{on}` spelled differently from "
                 f"its lookup key (case, spaces or hyphens) and take that key's row")
    return wanted.where(~moved, wanted.map(spelled))


def _unmatched_values(values: pd.Series, keys: pd.Index) -> str:
    """The unmatched values, the most frequent first, each with its count and the nearest lookup
    key when one is close (difflib's ratio of at least 0.6): "'GTXPro' (3 records; did you mean
    'GTX Pro'?)"."""
    counts = values.value_counts(sort=False)
    counts = counts.iloc[sorted(range(len(counts)),
                                key=lambda i: (-counts.iloc[i], str(counts.index[i])))]
    known = [str(k) for k in keys]
    parts = []
    for value, n in counts.head(_NAMED_VALUES).items():
        close = difflib.get_close_matches(str(value), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        parts.append(f"{str(value)!r} ({n} record{'s' if n != 1 else ''}{hint})")
    more = len(counts) - _NAMED_VALUES
    return "values " + ", ".join(parts) + (f" and {more} more" if more > 0 else "")
