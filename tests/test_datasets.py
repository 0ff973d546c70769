"""The demo company: determinism, canonical invariants, the planted effects and the export formats."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from toolkit.base.exceptions import ToolkitError
from toolkit.datasets import (
    ACTIONS,
    COLD_CALLING,
    EVENT,
    LEAKY_OWNER,
    MAILING,
    NETWORK,
    OWNERS,
    PHASES,
    STAGE_MAPPING,
    answer_key,
    generate_company,
    main,
    write_demo_exports,
)
from toolkit.datasets.demo import _systematic_draw

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
FILES = ("crm_fasehistorie.csv", "crm_deals.xlsx", "README.md")
HEADER = ("Deal ID;Fase;Datum wijziging;Bedrag;Actie;Eigenaar;Regio;Product;Aangemaakt op;"
          "Contactpersoon")


@pytest.fixture(scope="module")
def company():
    return generate_company()


@pytest.fixture(scope="module")
def key(company):
    return answer_key(company)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_a")
    paths = write_demo_exports(out)
    return out, paths


@pytest.fixture(scope="module")
def history(exported):
    raw = exported[1]["history"].read_bytes()
    frame = pd.read_csv(io.BytesIO(raw), sep=";", encoding="cp1252", dtype=str,
                        keep_default_na=False)
    return raw, frame


@pytest.fixture(scope="module")
def manifest(exported):
    text = exported[1]["readme"].read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)\n```", text, flags=re.S)
    assert block is not None, "README.md must hold the planted counts as a ```json block"
    return json.loads(block.group(1))


def _highest(company) -> pd.Series:
    codes = company.events["phase"].cat.codes
    return codes.groupby(company.events["record_id"]).max().reindex(
        company.records["record_id"]).fillna(-1).astype(int)


# --- determinism -----------------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_matches_committed_files(exported, tmp_path):
    first, paths = exported
    assert set(paths) == {"history", "snapshot", "readme"}
    assert main([str(tmp_path)]) == 0  # the CLI regenerates the same files
    for name in FILES:
        again = (tmp_path / name).read_bytes()
        assert (first / name).read_bytes() == again, name
        assert (DEMO / name).read_bytes() == again, (
            f"data/demo/{name} is stale: run `python -m toolkit.datasets data/demo`")


def test_committed_files_are_small():
    total = sum((DEMO / name).stat().st_size for name in FILES)
    assert total < 5 * 1024 * 1024


def test_other_seed_gives_other_data():
    a = generate_company(n_records=500, seed=1)
    b = generate_company(n_records=500, seed=2)
    c = generate_company(n_records=500, seed=1)
    pd.testing.assert_frame_equal(a.events, c.events)
    assert not a.records["created_at"].equals(b.records["created_at"])


# --- canonical invariants --------------------------------------------------------------------------

def test_canonical_dtypes_and_vocabulary(company):
    ev, rec = company.events, company.records
    assert list(ev.columns) == ["record_id", "phase", "entered_at", "source_stage", "source_row"]
    assert list(rec.columns) == ["record_id", "created_at", "outcome", "closed_at",
                                 "lost_at_phase", "value", "action", "owner", "region", "product"]
    assert isinstance(ev["phase"].dtype, pd.CategoricalDtype) and ev["phase"].dtype.ordered
    assert list(ev["phase"].cat.categories) == list(PHASES) == list(company.phases)
    assert ev["phase"].notna().all()
    assert ev["entered_at"].dtype == "datetime64[ns]"
    assert rec["created_at"].dtype == "datetime64[ns]" and rec["closed_at"].dtype == "datetime64[ns]"
    assert str(ev["source_row"].dtype) == "Int64"
    assert ev["source_row"].tolist() == list(range(1, len(ev) + 1))
    assert rec["lost_at_phase"].dtype == ev["phase"].dtype
    assert rec["record_id"].is_unique and rec["record_id"].str.fullmatch(r"D\d{6}").all()
    assert set(rec["outcome"]) == {"won", "lost", "open"}
    assert set(rec["action"]) == set(ACTIONS)
    assert set(rec["owner"]) == set(OWNERS) and len(OWNERS) == 5
    assert set(rec["region"]) == {"Noord", "Midden", "Zuid"}
    assert set(rec["product"]) == {"Installatie", "Onderhoud", "Advies"}
    assert set(ev["record_id"]) == set(rec["record_id"])
    assert not ev.duplicated(["record_id", "phase"]).any()
    mapped = ev["source_stage"].map(STAGE_MAPPING).replace({"won": PHASES[-1]})
    assert (mapped == ev["phase"].astype(str)).all()


def test_outcomes_follow_the_events(company):
    ev, rec = company.events, company.records.set_index("record_id")
    highest = _highest(company).to_numpy()
    outcome = rec["outcome"].to_numpy(object)
    won = set(ev.loc[ev["phase"] == "order", "record_id"])
    assert won == set(rec.index[outcome == "won"])
    lost = outcome == "lost"
    assert (rec["lost_at_phase"].cat.codes.to_numpy()[lost] == highest[lost]).all()
    assert rec["lost_at_phase"][~lost].isna().all()
    assert rec["closed_at"][outcome == "open"].isna().all()
    assert rec["closed_at"][outcome != "open"].notna().all()
    last_event = ev.groupby("record_id")["entered_at"].max().reindex(rec.index)
    assert (last_event[lost] < rec["closed_at"][lost]).all()  # nothing happens after a loss
    order_at = ev[ev["phase"] == "order"].set_index("record_id")["entered_at"]
    assert (rec.loc[order_at.index, "closed_at"] == order_at).all()
    first_event = ev.groupby("record_id")["entered_at"].min().reindex(rec.index)
    assert (first_event == rec["created_at"]).all()


def test_events_move_forward_in_time(company):
    ev = company.events.sort_values(["record_id", "phase"])
    same = ev["record_id"].eq(ev["record_id"].shift())
    assert (ev["entered_at"].diff()[same] > pd.Timedelta(0)).all()


def test_nothing_happens_after_as_of(company):
    assert company.as_of == pd.Timestamp("2026-10-31")
    assert (company.events["entered_at"] < company.as_of).all()
    assert (company.records["closed_at"].dropna() < company.as_of).all()
    assert company.records["created_at"].min() >= pd.Timestamp("2024-01-01")


def test_open_deals_at_every_phase_and_mostly_recent(company, key):
    assert (key.funnel["open"].iloc[:-1] > 0).all()
    assert key.funnel["open"].iloc[-1] == 0
    rec = company.records
    is_open = rec["outcome"] == "open"
    recent = rec["created_at"] >= company.as_of - pd.Timedelta(days=120)
    assert is_open[recent].mean() > 10 * is_open[~recent].mean()


def test_entries_skips_and_missing_values(company):
    rec, ev = company.records, company.events
    first = ev.sort_values("entered_at").groupby("record_id")["phase"].first()
    mid = first[first != "target"]
    assert set(mid.astype(str)) == {"lead", "opportunity"}
    assert 0.06 < len(mid) / len(rec) < 0.10
    assert (rec.set_index("record_id").loc[mid.index, "action"] == NETWORK).all()
    codes = ev.sort_values(["record_id", "phase"])["phase"].cat.codes
    step = codes.diff()[ev.sort_values(["record_id", "phase"])["record_id"].duplicated()]
    assert set(step.unique()) == {1, 2}
    assert 0.02 < (step == 2).mean() < 0.08
    missing = rec["value"].isna()
    assert 0.02 < missing.mean() < 0.045
    early = rec["created_at"] < pd.Timestamp("2024-07-01")
    assert missing[early].mean() > 5 * missing[~early].mean()
    assert 10_000 < rec["value"].median() < 14_000


# --- the planted effects ---------------------------------------------------------------------------

def _z(x1: int, n1: int, x2: int, n2: int) -> float:
    """Pooled two-proportion z statistic."""
    p = (x1 + x2) / (n1 + n2)
    return (x1 / n1 - x2 / n2) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def test_bottleneck_is_opportunity_to_proposal(key):
    t = key.transitions.set_index("from_phase")
    assert t["rate"].idxmin() == "opportunity"
    assert t["rate"].drop("opportunity").min() - t.loc["opportunity", "rate"] > 0.06
    assert t.loc["opportunity", "rate"] == pytest.approx(0.25, abs=0.03)
    assert t.loc["target", "rate"] == pytest.approx(0.37, abs=0.04)
    assert t.loc["lead", "rate"] == pytest.approx(0.53, abs=0.04)
    assert t.loc["proposal", "rate"] == pytest.approx(0.44, abs=0.04)
    # leak, not shortage: plenty of opportunities reach the phase that leaks
    assert t.loc["opportunity", "n"] > 2_000
    assert key.facts["bottleneck"] == "opportunity -> proposal" and key.facts["verdict"] == "leak"


def test_events_convert_far_better_than_cold_calling(key):
    a = key.by_action.set_index("segment")
    assert a.loc[EVENT, "rate"] - a.loc[COLD_CALLING, "rate"] > 0.3
    assert a.loc[EVENT, "rate"] == pytest.approx(0.60, abs=0.03)
    assert a.loc[COLD_CALLING, "rate"] == pytest.approx(0.15, abs=0.03)
    assert a.loc[MAILING, "rate"] == pytest.approx(0.30, abs=0.03)
    assert 0.45 < a.loc[NETWORK, "rate"] < 0.62
    assert a.loc[NETWORK, "rate_started_at_target"] < a.loc[NETWORK, "rate"]


def test_action_rates_by_hand(company, key):
    # Independent route: a suspect converted if its record has any event past target.
    ev, rec = company.events, company.records
    past = set(ev.loc[ev["phase"] > "target", "record_id"])
    lost_at_target = set(rec.loc[rec["lost_at_phase"] == "target", "record_id"])
    event = rec[rec["action"] == EVENT]["record_id"]
    successes = event.isin(past).sum()
    decided = successes + event.isin(lost_at_target).sum()
    row = key.by_action.set_index("segment").loc[EVENT]
    assert (row["successes"], row["n"]) == (successes, decided)


def test_one_owner_leaks_late(key):
    o = key.by_owner.set_index("segment")
    assert o["rate"].idxmin() == LEAKY_OWNER
    others = o.drop(index=LEAKY_OWNER)
    assert o.loc[LEAKY_OWNER, "rate"] == pytest.approx(0.20, abs=0.05)
    assert (others["rate"] > 0.42).all()
    z = _z(int(others["successes"].sum()), int(others["n"].sum()),
           int(o.loc[LEAKY_OWNER, "successes"]), int(o.loc[LEAKY_OWNER, "n"]))
    assert z > 4  # significant even after a Bonferroni correction over five owners
    assert o.loc[LEAKY_OWNER, "n"] >= 80


def test_seasonal_volume_dip_without_rate_dip(key):
    s = key.seasons.set_index("segment")
    assert s.loc["Jul-Aug", "volume_index"] == pytest.approx(0.60, abs=0.07)
    assert s.loc["Jul-Aug", "volume_index"] < s.loc["late December", "volume_index"] < 0.95
    assert abs(s.loc["Jul-Aug", "rate"] - s.loc["rest", "rate"]) < 0.04
    month = key.seasonality.set_index("period")
    summer = month.loc[month.index.str[-2:].isin(["07", "08"]), "per_working_day"]
    spring = month.loc[month.index.str[-2:].isin(["03", "04", "05"]), "per_working_day"]
    assert summer.max() < spring.min()


def test_simpsons_paradox_from_2024_to_2025(key):
    s = key.simpson.set_index(["period", "segment"])
    for action in ACTIONS:
        rise = s.loc[(2025, action), "rate"] - s.loc[(2024, action), "rate"]
        assert 0.015 < rise < 0.035, action
    assert s.loc[(2025, "all"), "rate"] < s.loc[(2024, "all"), "rate"] - 0.05
    assert s.loc[(2025, EVENT), "share"] < s.loc[(2024, EVENT), "share"] - 0.15
    assert s.loc[(2025, COLD_CALLING), "share"] > s.loc[(2024, COLD_CALLING), "share"] + 0.15
    d = key.decomposition.set_index("component")["value"]
    assert d["mix"] < -0.05 and 0.015 < d["rate"] < 0.035
    assert d["mix"] + d["rate"] == pytest.approx(d["total"])
    assert d["total"] == pytest.approx(s.loc[(2025, "all"), "rate"] - s.loc[(2024, "all"), "rate"])


@pytest.mark.parametrize("seed", [1, 7, 31337])
def test_effects_hold_for_other_seeds(seed):
    k = answer_key(generate_company(seed=seed))
    t = k.transitions.set_index("from_phase")["rate"]
    assert t.idxmin() == "opportunity"
    a = k.by_action.set_index("segment")["rate"]
    assert a[EVENT] - a[COLD_CALLING] > 0.3
    assert k.by_owner.set_index("segment")["rate"].idxmin() == LEAKY_OWNER
    assert k.facts["simpson_min_action_rise"] > 0.015
    assert k.facts["simpson_overall_after"] < k.facts["simpson_overall_before"] - 0.05
    assert k.facts["summer_volume_index"] < 0.7


def test_systematic_draw_fixes_group_totals():
    rng = np.random.default_rng(5)
    p = np.r_[np.full(10, 0.3), np.full(10, 0.25)]
    groups = np.r_[np.zeros(10, int), np.ones(10, int)]
    hits = _systematic_draw(p, groups, rng)
    assert hits[:10].sum() == 3  # expected 3.0 exactly: no rounding left
    assert hits[10:].sum() in (2, 3)  # expected 2.5
    # every record keeps its own probability: record 0 hit in about 30% of repetitions
    freq = np.mean([_systematic_draw(p, groups, rng)[0] for _ in range(4000)])
    assert freq == pytest.approx(0.3, abs=0.03)


def test_hundred_thousand_records_generate(tmp_path):
    big = generate_company(n_records=100_000, seed=3)
    assert len(big.records) == 100_000
    assert big.records["record_id"].iloc[-1] == "D100000"
    assert (big.events["entered_at"] < big.as_of).all()
    assert answer_key(big).facts["bottleneck"] == "opportunity -> proposal"


def test_bad_arguments_name_the_argument():
    with pytest.raises(ToolkitError, match="`n_records` must be a positive integer.*0 was passed"):
        generate_company(n_records=0)
    with pytest.raises(ToolkitError, match="`as_of`"):
        generate_company(start="2024-01-01", as_of="2024-02-01")
    with pytest.raises(ToolkitError, match="time-zone naive"):
        generate_company(start=pd.Timestamp("2024-01-01", tz="UTC"))


# --- the history CSV -------------------------------------------------------------------------------

def test_history_is_dutch_cp1252(history):
    raw, frame = history
    text = raw.decode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert text.split("\r\n", 1)[0] == HEADER
    assert "\n" not in text.replace("\r\n", "")
    assert "José" in text or "é" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert {len(r) for r in rows} == {10}
    amounts = frame["Bedrag"]
    assert amounts.str.fullmatch(r"(\d+,\d{2})?").all()
    assert (amounts != "").mean() > 0.95 and not amounts.str.contains(r"\.").any()
    assert frame["Datum wijziging"].str.fullmatch(r"(\d{2}-\d{2}-\d{4} \d{2}:\d{2})?").all()
    assert frame["Aangemaakt op"].str.fullmatch(r"\d{2}-\d{2}-\d{4}").all()


def _clean_history(frame: pd.DataFrame) -> pd.DataFrame:
    """A minimal loader: drop the planted dirt, map the stages (test-only reimplementation)."""
    norm = {" ".join(k.split()).casefold(): v for k, v in STAGE_MAPPING.items()}
    out = frame.assign(target=frame["Fase"].map(lambda s: norm[" ".join(s.split()).casefold()]),
                       row=np.arange(len(frame)))
    out["when"] = pd.to_datetime(out["Datum wijziging"], format="%d-%m-%Y %H:%M", errors="coerce")
    out = out[(out["Deal ID"] != "") & out["when"].notna() & (out["target"] != "ignore")]
    return out.drop_duplicates(subset=list(frame.columns))


def test_history_planted_dirt_counts(history, manifest, company):
    _, frame = history
    assert len(frame) == manifest["rows_total"]
    assert frame.duplicated().sum() == manifest["exact_duplicate_rows"] == 30
    assert (frame["Datum wijziging"] == "").sum() == manifest["blank_date_rows"] == 10
    parsed = pd.to_datetime(frame["Datum wijziging"], format="%d-%m-%Y %H:%M", errors="coerce")
    bad = frame[(frame["Datum wijziging"] != "") & parsed.isna()]
    assert len(bad) == manifest["impossible_date_rows"] == 3
    assert (frame["Deal ID"] == "").sum() == manifest["blank_deal_id_rows"] == 3
    tests = frame[frame["Fase"] == "Test"]
    assert len(tests) == manifest["test_deals"] == 4
    assert not frame["Deal ID"].isin(tests["Deal ID"]).sum() > 4
    assert (frame["Datum wijziging"] == manifest["bulk_timestamp"]).sum() == manifest[
        "bulk_timestamp_rows"]
    assert manifest["bulk_timestamp"] == "01-03-2024 09:00"
    assert 250 <= manifest["bulk_timestamp_rows"] <= 300
    genuine = frame[~frame.duplicated() & parsed.notna() & (frame["Deal ID"] != "")]
    messy = ~genuine["Fase"].isin(set(STAGE_MAPPING))
    assert messy.sum() == manifest["messy_stage_rows"]
    assert {" offerte uitgebracht", "Potentieel "} & set(genuine.loc[messy, "Fase"])
    assert 0.015 < manifest["messy_stage_rows"] / len(frame) < 0.025
    # blank and impossible dates repeat a stage the record already has
    norm = frame.assign(stage=frame["Fase"].str.split().str.join(" ").str.casefold())
    good = norm[parsed.notna()]
    seen = set(zip(good["Deal ID"], good["stage"], strict=True))
    for _, row in norm[parsed.isna()].iterrows():
        assert (row["Deal ID"], row["stage"]) in seen
    assert manifest["regression_records"] == round(0.03 * int((_highest(company) >= 3).sum()))
    assert manifest["reopened_records"] == 120


def test_history_gives_the_canonical_funnel(history, company, key):
    _, frame = history
    clean = _clean_history(frame)
    code = {p: i for i, p in enumerate(PHASES)} | {"won": len(PHASES) - 1, "lost": -1}
    clean = clean.assign(code=clean["target"].map(code))
    highest = clean.groupby("Deal ID")["code"].max().reindex(company.records["record_id"])
    reached = [(highest >= k).sum() for k in range(len(PHASES))]
    assert reached == key.funnel["n"].tolist()
    assert (highest.to_numpy() == _highest(company).to_numpy()).all()

    final = clean.sort_values(["when", "row"], kind="stable").groupby("Deal ID").tail(1)
    final = final.set_index("Deal ID").reindex(company.records["record_id"])
    state = final["target"].map({"won": "won", "lost": "lost"}).fillna("open")
    assert (state.to_numpy() == company.records["outcome"].to_numpy(object)).all()
    is_open = (state == "open").to_numpy()
    assert (final["code"].to_numpy()[is_open] == highest.to_numpy()[is_open]).all()

    # regressions and re-openings are there, and they never un-reach a phase
    ordered = clean.sort_values(["Deal ID", "when", "row"], kind="stable")
    back = ordered.groupby("Deal ID")["code"].diff() < 0
    assert back.sum() > 100


# --- the snapshot XLSX -----------------------------------------------------------------------------

def test_snapshot_matches_history_and_canonical(exported, company, key, manifest):
    wb = openpyxl.load_workbook(exported[1]["snapshot"], read_only=True)
    assert wb.sheetnames == ["Deals"]
    rows = list(wb["Deals"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header == ("Deal ID", "Huidige fase", "Fase bij verlies", "Aangemaakt op", "Sluitdatum",
                      "Bedrag", "Actie", "Eigenaar", "Regio", "Product", "Contactpersoon")
    snap = pd.DataFrame(body, columns=header)
    assert len(snap) == manifest["snapshot_rows"] == len(company.records) + 4
    assert (snap["Huidige fase"] == "Test").sum() == 4
    created = snap["Aangemaakt op"]
    serial = created.map(lambda v: isinstance(v, int))
    assert serial.sum() == manifest["snapshot_serial_date_cells"] == 20
    assert created[~serial].map(lambda v: hasattr(v, "year")).all()
    real = snap[snap["Huidige fase"] != "Test"].set_index("Deal ID").reindex(
        company.records["record_id"])
    recs = company.records.set_index("record_id")
    as_date = real["Aangemaakt op"].map(
        lambda v: pd.Timestamp("1899-12-30") + pd.Timedelta(days=v) if isinstance(v, int)
        else pd.Timestamp(v))
    assert (as_date == recs["created_at"].dt.normalize()).all()
    assert (real["Sluitdatum"].isna() == (recs["outcome"] == "open")).all()

    stage = real["Huidige fase"].map(STAGE_MAPPING)
    assert ((stage == "won") == (recs["outcome"] == "won")).all()
    assert ((stage == "lost") == (recs["outcome"] == "lost")).all()
    lost = recs["outcome"] == "lost"
    at_loss = real.loc[lost, "Fase bij verlies"].map(STAGE_MAPPING)
    assert (at_loss == recs.loc[lost, "lost_at_phase"].astype(str)).all()
    assert real.loc[~lost, "Fase bij verlies"].isna().all()
    highest = np.where(stage == "won", PHASES[-1], np.where(stage == "lost",
                       real["Fase bij verlies"].map(STAGE_MAPPING), stage))
    code = pd.Series(highest).map({p: i for i, p in enumerate(PHASES)})
    reached = [int((code >= k).sum()) for k in range(len(PHASES))]
    assert reached == key.funnel["n"].tolist()
