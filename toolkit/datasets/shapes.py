"""A planted company written in the shapes real CRMs export (no amounts, no lost records, one
instant or date-only stamps, a snapshot), and the declared change under a mix shift."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import check_seed
from toolkit.datasets.planted import PlantedCompany

#: The export families :func:`write_planted_export` writes a planted company in: the tidy stage
#: history, and the shapes real CRM exports take where the generated company is tidy.
EXPORT_FAMILIES: tuple[str, ...] = (
    "history",          # a stage history with times of day and amounts
    "no amounts",       # no amount column at all
    "no lost records",  # the CRM never records a loss: lost deals stay open in their last stage
    "one instant",      # every history row of a record stamped at one instant (a migration)
    "date only",        # times truncated to the day
    "snapshot",         # one row per record: current stage, status, created and close date
)
_LOST_STAGE = "Lost"
_HISTORY_COLUMNS = {"record_id": "Deal", "stage": "Stage", "changed_at": "Changed"}


def _export_phase_names(company: PlantedCompany) -> dict[str, str]:
    """The CRM's stage name of each phase (the last one is the order: won)."""
    return {phase: phase.capitalize() for phase in company.phases}


def _attribute_columns(company: PlantedCompany) -> list[str]:
    fixed = {"record_id", "created_at", "outcome", "closed_at", "lost_at_phase", "value"}
    return [c for c in company.records.columns if c not in fixed]


def write_planted_export(company: PlantedCompany, folder: str | Path, *,
                         family: str = "history", settings: dict | None = None) -> Path:
    """Write `company` as a CRM export of one of :data:`EXPORT_FAMILIES` with its
    ``engagement.yaml`` in `folder`.

    The families carry no planted effect of their own: what the company holds is what the
    export can still show. ``no amounts`` drops the amount column; ``no lost records`` leaves
    every lost deal open in the last stage it reached (no loss row); ``one instant`` stamps
    every history row of a record at its creation instant (a migration that rewrote the
    history); ``date only`` writes dates without a time of day; ``snapshot`` writes one row per
    record with the stage it reached last, its status (won, lost, open), its creation date and
    its close date. The declared changes and the segments go into the YAML.

    Parameters
    ----------
    company : PlantedCompany
        The company.
    folder : str or Path
        Where the export and its YAML go.
    family : str, default "history"
        One of :data:`EXPORT_FAMILIES`.
    settings : dict, optional
        More top-level keys of the YAML, e.g. ``{"targets": ...}``.

    Returns
    -------
    Path
        The engagement YAML.
    """
    if family not in EXPORT_FAMILIES:
        raise OptionError(f"The value for `family` must be one of {list(EXPORT_FAMILIES)}, but "
                          f"{family!r} was passed.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = _export_phase_names(company)
    attributes = _attribute_columns(company)
    records = company.records.set_index("record_id")
    timed = "%Y-%m-%d" if family == "date only" else "%Y-%m-%d %H:%M:%S"
    mapping = {name: phase for phase, name in names.items()}
    mapping[names[company.phases[-1]]] = "won"
    source: dict = {"name": "crm", "path": "export.csv", "date_format": "ymd"}
    if family == "snapshot":
        frame = _snapshot_rows(company, names, records)
        source.update(shape="snapshot", columns={
            "record_id": "Deal", "current_stage": "Stage", "status": "Status",
            "created_at": "Created", "closed_at": "Closed"})
        for column in ("Created", "Closed"):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    else:
        frame = _history_rows_of(company, names, records, family)
        frame["Changed"] = frame["Changed"].dt.strftime(timed)
        source.update(shape="history", columns=dict(_HISTORY_COLUMNS))
        if family != "no lost records":
            mapping[_LOST_STAGE] = "lost"
    if family != "no amounts":
        frame["Amount"] = records.loc[frame["Deal"], "value"].to_numpy()
        source["columns"]["value"] = "Amount"
    for attribute in attributes:
        frame[attribute] = records.loc[frame["Deal"], attribute].to_numpy()
    source["attributes"] = {a: a for a in attributes}
    frame.to_csv(folder / "export.csv", index=False)
    doc = {"name": f"planted company ({family})", "language": "en",
           "as_of": str(company.as_of.date()),
           "phases": [{"key": p, "label": p} for p in company.phases],
           "stage_mapping": mapping, "sources": [source], "segments": attributes,
           "changes": [{**c, "date": str(c["date"])} for c in company.changes],
           **(settings or {})}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _history_rows_of(company: PlantedCompany, names: dict, records: pd.DataFrame,
                     family: str) -> pd.DataFrame:
    """One row per stage a record entered (and one `Lost` row per loss, unless the CRM never
    records one), in the order the CRM logged them."""
    events = company.events
    rows = pd.DataFrame({"Deal": events["record_id"].astype(str).to_numpy(),
                         "Stage": events["phase"].astype(str).map(names).to_numpy(),
                         "Changed": pd.to_datetime(events["entered_at"]).to_numpy()})
    if family != "no lost records":
        lost = records[records["outcome"].astype(str) == "lost"]
        rows = pd.concat([rows, pd.DataFrame({"Deal": lost.index.astype(str).to_numpy(),
                                              "Stage": _LOST_STAGE,
                                              "Changed": lost["closed_at"].to_numpy()})],
                         ignore_index=True)
    if family == "one instant":
        rows["Changed"] = records.loc[rows["Deal"], "created_at"].to_numpy()
    return rows.sort_values(["Changed", "Deal"], kind="stable", ignore_index=True)


def _snapshot_rows(company: PlantedCompany, names: dict, records: pd.DataFrame) -> pd.DataFrame:
    last = (company.events.assign(rank=company.events["phase"].cat.codes)
            .sort_values("rank").groupby("record_id", observed=True)["phase"].last())
    outcome = records["outcome"].astype(str)
    return pd.DataFrame({"Deal": records.index.astype(str),
                         "Stage": last.reindex(records.index).astype(str).map(names).to_numpy(),
                         "Status": outcome.to_numpy(),
                         "Created": pd.to_datetime(records["created_at"]).to_numpy(),
                         "Closed": pd.to_datetime(records["closed_at"]).to_numpy()})


#: The declared change under a mix shift (issue 21, item 6): regions' rates at the first step
#: before the change, and their mix before and after it (towards the weakest region).
MIX_CHANGE_REGIONS: tuple[str, ...] = ("Noord", "Midden", "Zuid")
_MIX_CHANGE_RATE = (0.60, 0.45, 0.20)
_MIX_CHANGE_BEFORE = (0.5, 0.3, 0.2)
_MIX_CHANGE_AFTER = (0.2, 0.3, 0.5)
MIX_CHANGE_DATE = pd.Timestamp("2025-07-01")


@shared_docs
def generate_mix_shift_change(seed: int, *, n_records: int = 6000, uplift: float = 0.08,
                              untouched: Sequence[str] = (),
                              mix_after: Sequence[float] = _MIX_CHANGE_AFTER) -> PlantedCompany:
    """A declared change that raised the step a -> b by `uplift` in every region but
    `untouched` while the mix moved to the weakest region (phases a, b, c; the attribute
    ``region``).

    Records are created on days from 2024-01-01 to 2026-06-30 at 10:00; at the change date
    (2025-07-01) the mix moves to Zuid. Pooled, the step falls from .5 x .60 + .3 x .45 + .2 x
    .20 = 0.475 to .2 x .68 + .3 x .53 + .5 x .28 = 0.435 with the planted +8 points: a
    before/after that ignores the mix reads "lowered". Half of those reaching b win (c), 12 days
    after creation; the others are lost 20 days after creation.

    Parameters
    ----------
    {shared.seed}
    n_records : int, default 6000
        The number of records.
    uplift : float, default 0.08
        The change's effect in every touched region, in points (0.08 = 8 points).
    untouched : sequence of str
        Regions the change did not touch (a comparison group).
    mix_after : sequence of float
        The regions' shares after the change date (Noord, Midden, Zuid).

    Returns
    -------
    PlantedCompany
        The company; ``effects['mix_change']`` holds the truth.
    """
    rng = np.random.default_rng(check_seed(seed))
    n = n_records
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2026-06-30")
    days = rng.integers(0, (end - start).days, size=n)
    created = start + pd.to_timedelta(np.sort(days), unit="D") + pd.Timedelta(hours=10)
    after = np.asarray(created >= MIX_CHANGE_DATE)
    region = np.where(after, rng.choice(3, size=n, p=mix_after),
                      rng.choice(3, size=n, p=_MIX_CHANGE_BEFORE))
    lift = np.array([0.0 if r in untouched else uplift for r in MIX_CHANGE_REGIONS])
    to_b = rng.random(n) < np.asarray(_MIX_CHANGE_RATE)[region] + after * lift[region]
    to_c = to_b & (rng.random(n) < 0.5)
    ids = np.asarray([f"R{k:05d}" for k in range(n)])
    created = created.to_numpy()
    # the events in the order the old per-record loop wrote them: a, b, c of each record in turn
    reached = np.column_stack([np.ones(n, dtype=bool), to_b, to_c])
    rec, phase = np.nonzero(reached)
    offset = np.asarray([0, 5, 12], dtype="timedelta64[D]")
    events = pd.DataFrame({"record_id": ids[rec], "phase": np.asarray(["a", "b", "c"])[phase],
                           "entered_at": created[rec] + offset[phase]})
    events["source_stage"] = events["phase"]
    events["source_row"] = range(2, len(events) + 2)
    top = np.where(to_c, "c", np.where(to_b, "b", "a"))
    records = pd.DataFrame({
        "record_id": ids, "created_at": created,
        "outcome": np.where(to_c, "won", "lost"),
        "closed_at": created + np.where(to_c, 12, 20).astype("timedelta64[D]"),
        "lost_at_phase": pd.Series(top, dtype=object).where(~to_c, None).to_numpy(),
        "value": 1000.0, "region": np.asarray(MIX_CHANGE_REGIONS)[region]})
    changes = [{"date": MIX_CHANGE_DATE.date(), "description": "new script", "step": "a -> b"}]
    truth = {"mix_change": {"transition": ("a", "b"), "date": MIX_CHANGE_DATE,
                            "uplift": uplift, "attribute": "region",
                            "untouched": tuple(untouched)}} if uplift else {}
    pooled = float(np.dot(_MIX_CHANGE_RATE, _MIX_CHANGE_BEFORE))
    benchmarks = pd.DataFrame({"from_phase": ["a", "b"], "to_phase": ["b", "c"],
                               "low": [pooled * 0.8, 0.4], "typical": [pooled, 0.5],
                               "high": [pooled * 1.2, 0.6], "source": "calibration market"})
    return PlantedCompany(events=events, records=records, as_of=pd.Timestamp("2026-10-31"),
                          phases=("a", "b", "c"), effects=truth, changes=changes,
                          benchmarks=benchmarks, converter_median_days={})
