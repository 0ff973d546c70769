"""The demo's export layer: what the client's CRM would hand over, a Dutch-locale stage-history CSV
and an XLSX snapshot with realistic dirt, written byte-identically from a seed."""

from __future__ import annotations

import argparse
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.datasets.answer_key import answer_key, highest_phase
from toolkit.datasets.demo import (
    COMPANY_NAME,
    NAT,
    NS_DAY,
    NS_MINUTE,
    OWNERS,
    PHASES,
    STAGE_MAPPING,
    DemoCompany,
    generate_company,
)
from toolkit.datasets.readme import readme_text
from toolkit.present.format import formatter

_FIRST_NAMES = (
    "José", "Zoë", "Chloë", "Noël", "René", "Anaïs", "Inès", "André", "Joëlle", "Rémy", "Jan",
    "Pieter", "Annelies", "Femke", "Sven", "Mohammed", "Fatma", "Kees", "Willemijn", "Daan", "Eva",
    "Thijs", "Sophie", "Lucas", "Marloes", "Bart", "Yvonne", "Hélène", "Maarten", "Ilse",
)
_LAST_NAMES = (
    "Brouwer", "de Jong", "Jansen", "de Boer", "Mulder", "Smit", "Meijer", "van der Linden", "Kok",
    "Bos", "Öztürk", "Çelik", "Müller", "Verhoeven", "van Rijn", "Dekker", "Kuiper", "de Wit",
    "Hoekstra", "Postma", "Claessens", "Lefèvre", "Gómez", "van Dijk", "Peeters", "Schröder",
)
_SNAPSHOT_HEADER = ("Deal ID", "Huidige fase", "Fase bij verlies", "Aangemaakt op", "Sluitdatum",
                    "Bedrag", "Actie", "Eigenaar", "Regio", "Product", "Contactpersoon")
_BULK_ROWS = 300
_EXACT_DUPLICATES = 30
_BLANK_DATE_ROWS = 10
_IMPOSSIBLE_DATES = ("31-02-2025", "30-02-2026", "31-04-2025")
_TEST_DEALS = 4
_BLANK_ID_ROWS = 3
_SERIAL_DATE_CELLS = 20
_MESSY_STAGE_SHARE = 0.02
_REGRESSION_SHARE = 0.03
_REOPEN_SHARE = 0.01
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _phase_code_of_stage(stages: np.ndarray) -> np.ndarray:
    """Phase code of a clean CRM stage name: 0..4, -1 for Verloren."""
    table = {s: PHASES.index(t) for s, t in STAGE_MAPPING.items() if t in PHASES}
    table["Gewonnen"] = len(PHASES) - 1
    table["Verloren"] = -1
    return pd.Series(stages).map(table).to_numpy(np.int64)


def _inserted(a: np.ndarray, b: np.ndarray, low: float, high: float,
              rng: np.random.Generator) -> np.ndarray:
    """A whole-minute moment a fraction in [low, high) of the way from a to b."""
    frac = rng.uniform(low, high, size=len(a))
    return (a + ((b - a) * frac).astype(np.int64)) // NS_MINUTE * NS_MINUTE


def _history_rows(company: DemoCompany, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Every genuine stage change of the CRM, in true time order; plus counts of what was planted.

    Returns rows with `rec` (record position), `stage`, `t` (ns) and `seq` (order within record).
    """
    rec = company.records
    n, k_last = len(rec), len(PHASES) - 1
    ev = company.events
    ev_rec = pd.Index(rec["record_id"]).get_indexer(ev["record_id"])
    ev_ph = ev["phase"].cat.codes.to_numpy()
    ev_t = ev["entered_at"].to_numpy("datetime64[ns]").view(np.int64)
    entered = np.full((n, len(PHASES)), NAT, dtype=np.int64)
    entered[ev_rec, ev_ph] = ev_t
    first_stage = np.full((n, len(PHASES)), "", dtype=object)
    first_stage[ev_rec, ev_ph] = ev["source_stage"].to_numpy(str)
    outcome = rec["outcome"].to_numpy(str)
    closed = rec["closed_at"].to_numpy("datetime64[ns]").view(np.int64)
    as_of_ns = company.as_of.value

    # End of the stay in each phase: the next phase's entry, else the loss, else the as-of date.
    end = np.full((n, len(PHASES)), NAT, dtype=np.int64)
    following = np.where(outcome == "lost", closed, np.where(outcome == "open", as_of_ns, NAT))
    for k in range(k_last, -1, -1):
        end[:, k] = following
        following = np.where(entered[:, k] != NAT, entered[:, k], following)
    has = entered != NAT
    gap = np.where(has, end - entered, 0)

    parts = [pd.DataFrame({"rec": ev_rec, "stage": ev["source_stage"].to_numpy(str), "t": ev_t})]
    lost = np.flatnonzero(outcome == "lost")
    parts.append(pd.DataFrame({"rec": lost, "stage": "Verloren", "t": closed[lost]}))

    # A second CRM stage within lead and proposal ("Lead gekwalificeerd", "Onderhandeling").
    counts: dict[str, int] = {}
    negotiated = np.zeros(n, dtype=bool)
    for k, first, second, share in ((1, "Lead", "Lead gekwalificeerd", 0.6),
                                    (3, "Offerte uitgebracht", "Onderhandeling", 0.5)):
        ok = has[:, k] & (gap[:, k] >= NS_DAY) & (first_stage[:, k] == first)
        pick = np.flatnonzero(ok & (rng.random(n) < share))
        parts.append(pd.DataFrame({"rec": pick, "stage": second,
                                   "t": _inserted(entered[pick, k], end[pick, k], 0.2, 0.4, rng)}))
        counts[f"substage_{second}"] = len(pick)
        if k == 3:
            negotiated[pick] = True

    # Regressions: back from proposal to Potentieel, then forward to proposal again.
    ok = np.flatnonzero(has[:, 3] & (gap[:, 3] >= 3 * NS_DAY))
    size = min(len(ok), int(round(_REGRESSION_SHARE * has[:, 3].sum())))
    pick = np.sort(rng.choice(ok, size=size, replace=False))
    back = _inserted(entered[pick, 3], end[pick, 3], 0.5, 0.6, rng)
    again = _inserted(entered[pick, 3], end[pick, 3], 0.7, 0.8, rng)
    parts.append(pd.DataFrame({"rec": pick, "stage": "Potentieel", "t": back}))
    parts.append(pd.DataFrame({"rec": pick, "stage": np.where(
        negotiated[pick], "Onderhandeling", "Offerte uitgebracht"), "t": again}))
    counts["regression_records"] = len(pick)

    # Re-opened after lost: Verloren while at opportunity, then Potentieel again and on as before.
    ok = np.flatnonzero(has[:, 2] & (gap[:, 2] >= 4 * NS_DAY))
    size = min(len(ok), int(round(_REOPEN_SHARE * n)))
    pick = np.sort(rng.choice(ok, size=size, replace=False))
    parts.append(pd.DataFrame({"rec": pick, "stage": "Verloren",
                               "t": _inserted(entered[pick, 2], end[pick, 2], 0.4, 0.5, rng)}))
    parts.append(pd.DataFrame({"rec": pick, "stage": "Potentieel",
                               "t": _inserted(entered[pick, 2], end[pick, 2], 0.55, 0.65, rng)}))
    counts["reopened_records"] = len(pick)
    final = outcome[pick]
    for state in ("won", "lost", "open"):
        counts[f"reopened_then_{state}"] = int((final == state).sum())

    rows = pd.concat(parts, ignore_index=True)
    rows = rows.sort_values(["rec", "t"], kind="stable", ignore_index=True)
    rows["seq"] = rows.groupby("rec").cumcount()
    return rows, counts


def _format_amount(value: pd.Series) -> pd.Series:
    """Dutch decimal comma, two decimals, no thousands separator; blank when missing."""
    cents = (value * 100).round()
    text = (cents // 100).astype("Int64").astype(str) + "," + (cents % 100).astype(
        "Int64").astype(str).str.zfill(2)
    return text.where(value.notna(), "")


def _messy(stage: pd.Series, rng: np.random.Generator) -> pd.Series:
    variants = (lambda s: " " + s.lower(), lambda s: s + " ", lambda s: s.upper(),
                lambda s: "  " + s, lambda s: s.lower())
    choice = rng.integers(0, len(variants), size=len(stage))
    return pd.Series([variants[c](s) for c, s in zip(choice, stage, strict=True)],
                     index=stage.index, dtype=object)


def _build_exports(company: DemoCompany, seed: int) -> tuple[bytes, pd.DataFrame, dict]:
    """The history CSV bytes, the snapshot table and the planted-dirt manifest."""
    rng = np.random.default_rng([seed, 1])
    rec = company.records
    n = len(rec)
    rows, counts = _history_rows(company, rng)
    first = rng.integers(0, len(_FIRST_NAMES), size=n)
    last = rng.integers(0, len(_LAST_NAMES), size=n)
    contact = np.char.add(np.char.add(np.asarray(_FIRST_NAMES)[first], " "),
                          np.asarray(_LAST_NAMES)[last])

    # Bulk timestamp: deals carried over from the old Excel tracker got the migration moment as the
    # date of every stage change before it.
    first_month = rec["created_at"].min().to_period("M").start_time
    migration = first_month + pd.DateOffset(months=2) + pd.Timedelta(hours=9)
    shown_t = rows["t"].to_numpy().copy()
    before = rows["t"].to_numpy() < migration.value
    per_record = pd.Series(before).groupby(rows["rec"]).sum()
    # A stage entered twice before the migration would become an exact duplicate row once
    # stamped; only the planted duplicates may be exact duplicates.
    repeated = rows[before & rows.duplicated(["rec", "stage"])]["rec"].unique()
    candidates = per_record[(per_record > 0) & ~per_record.index.isin(repeated)]
    order = rng.permutation(len(candidates))
    cum = candidates.to_numpy()[order].cumsum()
    chosen = candidates.index.to_numpy()[order][cum <= _BULK_ROWS]
    bulk = before & np.isin(rows["rec"].to_numpy(), chosen)
    if migration >= company.as_of:
        bulk[:] = False
    shown_t[bulk] = migration.value
    counts["bulk_timestamp"] = migration.strftime("%d-%m-%Y %H:%M")
    counts["bulk_timestamp_rows"] = int(bulk.sum())
    counts["bulk_timestamp_records"] = int(len(np.unique(rows["rec"].to_numpy()[bulk])))

    r = rows["rec"].to_numpy()
    table = pd.DataFrame({
        "Deal ID": rec["record_id"].to_numpy(str)[r],
        "Fase": rows["stage"].astype(object),
        "Datum wijziging": pd.Series(shown_t.view("datetime64[ns]")).dt.strftime("%d-%m-%Y %H:%M"),
        "Bedrag": _format_amount(rec["value"]).to_numpy()[r],
        "Actie": rec["action"].to_numpy(str)[r],
        "Eigenaar": rec["owner"].to_numpy(str)[r],
        "Regio": rec["region"].to_numpy(str)[r],
        "Product": rec["product"].to_numpy(str)[r],
        "Aangemaakt op": rec["created_at"].dt.strftime("%d-%m-%Y").to_numpy()[r],
        "Contactpersoon": contact[r],
    })
    table["_key"] = np.lexsort((rows["seq"].to_numpy(), r, shown_t)).argsort().astype(float)
    counts["genuine_rows"] = len(table)

    messy = np.sort(rng.choice(len(table), size=round(_MESSY_STAGE_SHARE * len(table)),
                               replace=False))
    table.loc[messy, "Fase"] = _messy(table.loc[messy, "Fase"], rng).to_numpy()
    counts["messy_stage_rows"] = len(messy)

    extra = []
    dup = table.iloc[np.sort(rng.choice(len(table), size=_EXACT_DUPLICATES, replace=False))].copy()
    dup["_key"] += 0.5  # right after the original, as a join in the export would put it
    extra.append(dup)
    blank = table.iloc[rng.choice(len(table), size=_BLANK_DATE_ROWS, replace=False)].copy()
    blank["Datum wijziging"] = ""
    blank["_key"] = rng.uniform(0, len(table), size=len(blank))
    extra.append(blank)
    bad = table.iloc[rng.choice(len(table), size=len(_IMPOSSIBLE_DATES), replace=False)].copy()
    bad["Datum wijziging"] = [f"{d} {t[-5:]}" for d, t in
                              zip(_IMPOSSIBLE_DATES, bad["Datum wijziging"], strict=True)]
    bad["_key"] = rng.uniform(0, len(table), size=len(bad))
    extra.append(bad)
    noid = table.iloc[rng.choice(len(table), size=_BLANK_ID_ROWS, replace=False)].copy()
    noid["Deal ID"] = ""
    noid["_key"] = rng.uniform(0, len(table), size=len(noid))
    extra.append(noid)

    width = len(rec["record_id"].iloc[0]) - 1
    test_ids = [f"D{n + i:0{width}d}" for i in range(1, _TEST_DEALS + 1)]
    test_created = np.sort(company.as_of.value - rng.integers(5, 60, size=_TEST_DEALS) * NS_DAY
                           + rng.integers(8 * 60, 18 * 60, size=_TEST_DEALS) * NS_MINUTE)
    test_created_ts = pd.Series(test_created.view("datetime64[ns]"))
    tests = pd.DataFrame({
        "Deal ID": test_ids, "Fase": "Test",
        "Datum wijziging": test_created_ts.dt.strftime("%d-%m-%Y %H:%M"),
        "Bedrag": "1,00", "Actie": "", "Eigenaar": np.asarray(OWNERS)[[0, 2, 0, 4]],
        "Regio": "", "Product": "", "Aangemaakt op": test_created_ts.dt.strftime("%d-%m-%Y"),
        "Contactpersoon": "Test Gebruiker",
        "_key": np.searchsorted(np.sort(shown_t), test_created) - 0.25,
    })
    extra.append(tests)
    history = pd.concat([table, *extra], ignore_index=True)
    history = history.sort_values("_key", kind="stable").drop(columns="_key")
    counts.update({
        "exact_duplicate_rows": _EXACT_DUPLICATES, "blank_date_rows": _BLANK_DATE_ROWS,
        "impossible_date_rows": len(_IMPOSSIBLE_DATES), "blank_deal_id_rows": _BLANK_ID_ROWS,
        "test_deals": _TEST_DEALS, "test_rows": _TEST_DEALS, "rows_total": len(history),
        "records_without_bedrag": int(rec["value"].isna().sum()),
    })
    buffer = io.StringIO()
    history.to_csv(buffer, sep=";", index=False, lineterminator="\r\n")
    csv_bytes = buffer.getvalue().encode("cp1252")

    # Snapshot: the deal table as the CRM shows it today.
    genuine = rows.assign(code=_phase_code_of_stage(rows["stage"].to_numpy()))
    last_row = genuine.groupby("rec").tail(1).set_index("rec")
    current = last_row["stage"].reindex(range(n)).to_numpy(object)
    highest = highest_phase(company)
    in_highest = genuine[genuine["code"].to_numpy() == highest[genuine["rec"].to_numpy()]]
    highest_stage = in_highest.groupby("rec").tail(1).set_index("rec")["stage"].reindex(range(n))
    outcome = rec["outcome"].to_numpy(str)
    created_day = rec["created_at"].dt.normalize()
    created_cells = np.array(created_day.dt.date, dtype=object)
    serial = rng.choice(n, size=min(_SERIAL_DATE_CELLS, n), replace=False)
    created_cells[serial] = [int((created_day.iloc[i] - _EXCEL_EPOCH).days) for i in serial]
    closed_day = rec["closed_at"].dt.normalize()
    snapshot = pd.DataFrame({
        "Deal ID": rec["record_id"].to_numpy(str),
        "Huidige fase": current,
        "Fase bij verlies": np.where(outcome == "lost", highest_stage.to_numpy(object),
                                     np.array(None, dtype=object)),
        "Aangemaakt op": created_cells,
        "Sluitdatum": np.asarray([None if pd.isna(d) else d.date() for d in closed_day],
                                 dtype=object),
        "Bedrag": rec["value"].astype(object).where(rec["value"].notna(), None).to_numpy(),
        "Actie": rec["action"].to_numpy(str),
        "Eigenaar": rec["owner"].to_numpy(str),
        "Regio": rec["region"].to_numpy(str),
        "Product": rec["product"].to_numpy(str),
        "Contactpersoon": contact,
    })
    snapshot_tests = pd.DataFrame({
        "Deal ID": test_ids, "Huidige fase": "Test", "Fase bij verlies": None,
        "Aangemaakt op": list(test_created_ts.dt.date), "Sluitdatum": None, "Bedrag": 1.0,
        "Actie": None, "Eigenaar": np.asarray(OWNERS)[[0, 2, 0, 4]], "Regio": None,
        "Product": None, "Contactpersoon": "Test Gebruiker",
    })
    snapshot = pd.concat([snapshot, snapshot_tests], ignore_index=True)
    counts["snapshot_rows"] = len(snapshot)
    counts["snapshot_serial_date_cells"] = len(serial)
    counts["snapshot_test_deals"] = _TEST_DEALS
    return csv_bytes, snapshot, counts


def _fixed_zip(data: bytes, moment: pd.Timestamp) -> bytes:
    """Rewrite an XLSX zip with fixed entry times and fixed document timestamps."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<3>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            zout.writestr(fixed, content)
    return out.getvalue()


def _xlsx_bytes(snapshot: pd.DataFrame, moment: pd.Timestamp) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    wb.properties.creator = f"CRM export {COMPANY_NAME}"
    wb.properties.created = wb.properties.modified = moment.to_pydatetime()
    ws = wb.create_sheet("Deals")
    ws.append(list(_SNAPSHOT_HEADER))
    date_cols = {_SNAPSHOT_HEADER.index("Aangemaakt op"), _SNAPSHOT_HEADER.index("Sluitdatum")}
    amount_col = _SNAPSHOT_HEADER.index("Bedrag")
    for values in snapshot.itertuples(index=False, name=None):
        row: list[object] = []
        for j, v in enumerate(values):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                row.append(None)
            elif j in date_cols and not isinstance(v, int):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = "dd-mm-yyyy"
                row.append(cell)
            elif j == amount_col:
                cell = WriteOnlyCell(ws, value=float(v))
                cell.number_format = "#,##0.00"
                row.append(cell)
            else:
                row.append(v)
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_zip(buffer.getvalue(), moment)


def write_demo_exports(out_dir: str | Path, *, seed: int = 2024,
                       n_records: int = 12_000) -> dict[str, Path]:
    """Write the demo company's CRM exports and its answer-key README.

    Parameters
    ----------
    out_dir : directory to write into (created if missing).
    seed : seed of the canonical layer and of the export dirt; same seed gives identical bytes.
    n_records : number of records.

    Returns
    -------
    dict[str, Path]
        `history` (crm_fasehistorie.csv), `snapshot` (crm_deals.xlsx), `readme` (README.md).

    Notes
    -----
    The dirt counts are absolute (30 duplicates, 10 blank dates, ...) so they stay recognisable at
    any size; the README lists the counts actually planted. XLSX bytes are made reproducible by
    fixing the document timestamps and the zip entry times.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    company = generate_company(n_records=n_records, seed=seed)
    csv_bytes, snapshot, manifest = _build_exports(company, seed)
    paths = {"history": out / "crm_fasehistorie.csv", "snapshot": out / "crm_deals.xlsx",
             "readme": out / "README.md"}
    paths["history"].write_bytes(csv_bytes)
    paths["snapshot"].write_bytes(_xlsx_bytes(snapshot, company.as_of))
    text = readme_text(company, answer_key(company), manifest, seed)
    paths["readme"].write_bytes(text.encode("utf-8"))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m toolkit.datasets OUT_DIR [--seed S] [--records N]`.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments; default the process's.

    Returns
    -------
    int
        The exit code, 0.
    """
    parser = argparse.ArgumentParser(prog="python -m toolkit.datasets",
                                     description=f"Generate the demo company ({COMPANY_NAME}).")
    parser.add_argument("out_dir", help="directory to write the exports into, e.g. data/demo")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--records", type=int, default=12_000)
    args = parser.parse_args(argv)
    paths = write_demo_exports(args.out_dir, seed=args.seed, n_records=args.records)
    for name, path in paths.items():
        print(f"{name:9s} {path}  ({formatter('en').number(path.stat().st_size / 1024, 0)} KiB)")
    return 0

