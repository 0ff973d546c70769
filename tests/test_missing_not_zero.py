"""Missing is not zero (issue 21, items 3, 10, 11, 12): a quantity the data cannot measure is n/a
with its reason, never 0, 100% or "0 days"; declared KPIs add to the defaults; windowed
conversions say their window.

The cases are small Dutch stage histories written here: 60 deals, deal i reaches the first
1 + (7i mod 5) phases, every third one of those that stop early is lost.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings

import openpyxl
import pytest
import yaml
from conftest import MAPPING, PHASES
from report_text import read_page

from toolkit import Engagement
from toolkit.measure.audit import audit
from toolkit.measure.kpis import compute_kpis, kpis_from_config
from toolkit.present import narrative
from toolkit.report import write_workbook
from toolkit.report.render import render_report
from toolkit.steps import run_all

STAGES = ["Suspect", "Lead", "Potentieel", "Offerte", "Gewonnen"]
START = dt.datetime(2024, 1, 8, 9, 0)


def _rows(n=60, *, lost=True, amount=True, instant=False, timed=False, start=START):
    out = []
    for i in range(n):
        depth = 1 + (i * 7) % 5
        stages = STAGES[:depth] + (["Verloren"] if depth < 5 and lost and i % 3 else [])
        for k, stage in enumerate(stages):
            at = (start + dt.timedelta(days=600) if instant else
                  start + dt.timedelta(days=(i * 3) % 300 + 5 * k + (i % 7) * k, hours=k))
            when = at.strftime("%d-%m-%Y %H:%M" if timed or instant else "%d-%m-%Y")
            out.append(";".join([f"D{i}", stage, when] + ([str(1000 + 10 * i)] if amount else [])))
    return out


def _write(folder, rows, *, amount=True, **extra):
    header = "Deal;Fase;Datum" + (";Bedrag" if amount else "")
    (folder / "history.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    columns = {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}
    if amount:
        columns["value"] = "Bedrag"
    doc = {"name": "case", "as_of": "2025-12-31", "language": "nl", "phases": PHASES,
           "stage_mapping": MAPPING,
           "sources": [{"name": "history", "path": "history.csv", "shape": "history",
                        "date_format": "dmy", "columns": columns}], **extra}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Engagement.from_yaml(path)


CASES = {"no_amount": dict(amount=False), "no_lost": dict(lost=False),
         "instant": dict(instant=True), "date_only": dict()}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = {}
    for name, options in CASES.items():
        folder = tmp_path_factory.mktemp(name)
        out[name] = _write(folder, _rows(**options), amount=options.get("amount", True))
    return out


def _kpis(engagement):
    return compute_kpis(engagement).drop_duplicates("kpi").set_index("kpi")


def test_no_amounts_values_are_na_with_their_reason(cases):
    k = _kpis(cases["no_amount"])
    for name in ("won_value", "pipeline_value", "average_deal_size", "sales_velocity"):
        assert k.loc[name, "value"] != k.loc[name, "value"], name  # NaN, not 0
        assert k.loc[name, "missing_reason"] == "no_amounts"
    # the conversions do not need amounts: measured as before
    assert k.loc["conversion_target_lead", "value"] > 0


def test_no_lost_records_win_rate_is_na_not_100(cases):
    k = _kpis(cases["no_lost"])
    assert k.loc["win_rate", "missing_reason"] == "no_lost_records"
    assert k.loc["win_rate", "value"] != k.loc["win_rate", "value"]
    # with lost records it is measured: 12 won of 12 + 32 closed (by the rule above: 48 stop early,
    # 32 of them lost; 12 reach the order)
    w = _kpis(cases["date_only"]).loc["win_rate"]
    assert (w["successes"], w["n"]) == (12, 44)


def test_one_instant_durations_are_na_not_zero_days(cases):
    k = _kpis(cases["instant"])
    durations = k[k["kind"] == "duration"]
    assert len(durations) == 4
    assert durations["value"].isna().all()
    assert (durations["missing_reason"] == "no_distinct_times").all()
    from toolkit.measure.kpis import time_to_convert
    ttc = time_to_convert(cases["instant"])
    assert ttc["median_days"].isna().all() and (ttc["missing_reason"] == "no_distinct_times").all()
    # distinct stamps: measured
    assert _kpis(cases["date_only"]).loc["duration_target_lead", "value"] > 0


def test_date_only_stamps_are_no_bulk_import(cases):
    found = audit(cases["date_only"]).findings.set_index("check")
    assert found.loc["bulk_timestamp", "missing_reason"] == "no_time_of_day"
    assert found.loc["bulk_timestamp", "records"] != found.loc["bulk_timestamp", "records"]
    # the one-instant history has times of day: every row on one stamp is a bulk import
    bulk = audit(cases["instant"]).findings.set_index("check").loc["bulk_timestamp"]
    assert bulk["records"] == 60


def test_records_inside_their_window_are_counted_once(tmp_path):
    # 31 records from June 2025, a 400-day window: each is inside its window at every step it
    # reached; the sentence names at most 31, not the sum over the four steps
    rows = _rows(31, start=dt.datetime(2025, 6, 2, 9, 0))
    assert len({r.split(";")[0] for r in rows}) == 31
    e = _write(tmp_path, rows, cohort_window_days=400)
    values = compute_kpis(e)
    conv = values[values["kind"] == "conversion"]
    assert conv["immature_n"].sum() > 31  # the sum over steps counts records several times
    sentence = narrative.measurement(values, None, None, "nl", e.phase_model)
    counts = [int(x) for x in re.findall(r"(\d+) records? (?:zit|zitten) nog binnen", sentence)]
    assert counts and max(counts) <= 31


def test_step3_names_the_missing_amounts(cases):
    results = run_all(cases["no_amount"], steps=[3])
    text = " ".join(results[3].conclusions_by_language["nl"])
    assert "geen bedragen" in text and "waardekolom" in text  # names the missing column
    assert "niemand bereikte de fase" not in text


def _rendered(engagement, folder):
    """The Dutch pages (visible text) and the workbook's KPI sheet (rows of cell values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_all(engagement, seed=0)
        render_report(engagement, results, out_dir=folder, language="nl", figures={})
        book = write_workbook(engagement, out_path=folder / "werkmap.xlsx", results=results,
                              language="nl")
    pages = {page.name: read_page(page.read_text(encoding="utf-8"))
             for page in folder.glob("*.html")}
    sheets = openpyxl.load_workbook(book, read_only=True)
    kpi_sheet = [s for s in sheets.sheetnames if s.startswith("KPI")][0]
    rows = [list(row) for row in sheets[kpi_sheet].iter_rows(values_only=True)]
    return pages, rows


#: Rows of a quantity that needs what each case lacks, by the start of their label.
_UNMEASURABLE = {"no_amount": ("Gewonnen waarde", "Waarde van de open pijplijn",
                               "Gemiddelde ordergrootte", "Verkoopsnelheid"),
                 "no_lost": ("Winratio",),
                 "instant": ("Mediaan dagen",)}
_ZERO = re.compile(r"(?<![\d,.])0(?:,0+)?(?:\s?%| dagen)?(?![\d,.])|100,0\s?%|\b0 dagen")


@pytest.mark.parametrize("case", sorted(_UNMEASURABLE))
def test_no_page_shows_zero_for_what_the_data_cannot_measure(cases, tmp_path, case):
    pages, sheet = _rendered(cases[case], tmp_path)
    header, body = sheet[0], sheet[1:]
    name, value, why = (header.index(h) for h in ("Naam", "Waarde", "Niet gemeten omdat"))
    hit = [row for row in body if str(row[name]).startswith(_UNMEASURABLE[case])]
    assert hit
    for row in hit:  # an empty cell with its reason, not a 0 or a 1 (100%)
        assert row[value] is None and str(row[why]).startswith("n.v.t."), row
    seen = 0
    for name, page in pages.items():
        for table in page.tables:
            for row in table:
                cells = [text for _, text in row]
                if cells and cells[0].startswith(_UNMEASURABLE[case]):
                    seen += 1
                    value = cells[2] if len(cells) > 2 else cells[1]
                    assert not _ZERO.fullmatch(value.split(" (")[0]), (name, cells)
                    assert value.startswith("n.v.t.") or value == "–", (name, cells)
        for piece in page.pieces:
            assert not re.search(r"Traagste overgang.*mediaan van 0 dagen", piece), piece
    assert seen  # the rows are there, n/a


def test_declared_kpis_add_to_the_defaults(tmp_path):
    own = [{"name": "my_win", "kind": "win_rate", "label": "Onze winratio"}]
    added = _write(tmp_path, _rows(), kpis=own)
    names = [k.name for k in kpis_from_config(added)]
    defaults = [k.name for k in kpis_from_config(_write(tmp_path, _rows()))]
    assert names[0] == "my_win" and set(defaults) <= set(names)
    replaced = _write(tmp_path, _rows(), kpis={"replace": True, "list": own})
    assert [k.name for k in kpis_from_config(replaced)] == ["my_win"]
    # step 4 still measures every step's cohort conversion
    results = run_all(replaced, steps=[3, 4])
    measured = results[4].tables["kpis"]
    assert set(measured.loc[measured["kind"] == "conversion", "kpi"]) == {
        f"conversion_{a}_{b}" for a, b in replaced.phase_model.transitions()}


@pytest.mark.parametrize("spec", [{"replace": "yes", "list": []}, {"replace": True},
                                  {"list": [], "extra": 1}])
def test_a_wrong_kpis_mapping_is_a_config_error(tmp_path, spec):
    from toolkit.base.exceptions import ConfigError
    with pytest.raises((ConfigError, ValueError), match="kpis"):
        _write(tmp_path, _rows(), kpis=spec)


def test_windowed_conversions_say_their_window(cases):
    labels = _kpis(cases["date_only"])["label"]
    assert labels["conversion_target_lead"].endswith("within 90 days")
    assert labels["cumulative_conversion"].endswith("within 365 days")
    # beside it, step 4 shows the plain share ever converted: depth 1 + (7i mod 5) gives 12 deals
    # of each depth 1..5, so 48 of the 60 reached Lead (80%) and 12 of 60 the order (20%)
    shown = run_all(cases["date_only"], steps=[3, 4])[4].tables["kpis"].set_index("kpi")
    assert shown.loc["conversion_target_lead", "ever_rate"] == pytest.approx(0.8)
    assert shown.loc["cumulative_conversion", "ever_rate"] == pytest.approx(0.2)


def test_snapshot_win_rate_counts_every_closed_record(tmp_path):
    # a snapshot with a stage and no lost_at_stage: the 3 lost deals sit at the entry phase.
    # Over all closed records the win rate is 2 / (2 + 3); from the third phase it would be
    # 2 / 2 = 100% by construction, so a declared KPI from there is n/a with the reason.
    lines = ["Deal;Fase;Aangemaakt;Gesloten", "A;Gewonnen;01-02-2025;01-03-2025",
             "B;Gewonnen;02-02-2025;05-03-2025", "C;Verloren;03-02-2025;06-03-2025",
             "D;Verloren;04-02-2025;07-03-2025", "E;Verloren;05-02-2025;08-03-2025",
             "F;Offerte;06-02-2025;"]
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = {"name": "snap", "as_of": "2025-12-31", "phases": PHASES, "stage_mapping": MAPPING,
           "kpis": [{"name": "win_from_opportunity", "kind": "win_rate",
                     "from_phase": "opportunity"}],
           "sources": [{"name": "deals", "path": "deals.csv", "shape": "snapshot",
                        "date_format": "dmy",
                        "columns": {"record_id": "Deal", "current_stage": "Fase",
                                    "created_at": "Aangemaakt", "closed_at": "Gesloten"}}]}
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    k = _kpis(Engagement.from_yaml(path))
    assert (k.loc["win_rate", "successes"], k.loc["win_rate", "n"]) == (2, 5)
    assert k.loc["win_from_opportunity", "missing_reason"] == "no_lost_records"
    assert k.loc["win_from_opportunity", "value"] != k.loc["win_from_opportunity", "value"]


def test_the_median_interval_does_not_collapse_to_the_first_loss():
    # 30 losses on days 0-2, then 20 conversions on days 10-29 (one a day) and 10 open at day
    # 40. The median among converters is day 19 (the 10th of 20 conversions, F reaches half its
    # plateau there); no conversion happened before day 10, so no interval may start below it
    # (it started at day 0, the first loss, when the undefined band before the first conversion
    # was read as 1).
    from toolkit.measure.survival import converter_quantile
    days = [0, 1, 2] * 10 + list(range(10, 30)) + [40] * 10
    event = ["lost"] * 30 + ["converted"] * 20 + ["censored"] * 10
    median, low, high = converter_quantile(days, event)
    assert median == 19
    assert 10 <= low <= median <= high


def test_the_median_interval_is_the_brookmeyer_crowley_inversion_by_hand():
    # 100 records converting on days 1..100, none lost or open: G(t) = F(t) / F(100) = t / 100
    # and the Aalen-Johansen variance is the binomial G(1 - G) / 100 (the plateau 1 has none).
    # Lower end: first t with t/100 + 1.96 sqrt(t/100 (1 - t/100) / 100) >= 0.5:
    #   t = 40: 0.40 + 1.96 * 0.04899 = 0.4960 < 0.5; t = 41: 0.41 + 1.96 * 0.04918 = 0.5064.
    # Upper end: first t with t/100 - 1.96 sqrt(...) >= 0.5:
    #   t = 59: 0.59 - 0.0964 = 0.4936 < 0.5; t = 60: 0.60 - 0.0960 = 0.5040.
    from toolkit.measure.survival import converter_quantile
    assert converter_quantile(list(range(1, 101)), ["converted"] * 100) == (50.0, 41.0, 60.0)


def test_the_median_interval_covers_at_the_stated_level():
    # 300 simulated funnels of 150 records: 30% convert after Exp(mean 20) days, the rest are
    # lost after Exp(mean 10) days, uniform censoring over 300 days, whole days. The converters'
    # median in whole days is 14 (the first day with P(T <= day) >= 0.5: 20 ln 2 = 13.9).
    import numpy as np

    from toolkit.measure.survival import converter_quantile
    rng = np.random.default_rng(7)
    covered, low_below_a_day = 0, 0
    for _ in range(300):
        convert = rng.random(150) < 0.3
        t = np.where(convert, rng.exponential(20, 150), rng.exponential(10, 150))
        censor = rng.uniform(0, 300, 150)
        event = np.where(t <= censor, np.where(convert, "converted", "lost"), "censored")
        _, low, high = converter_quantile(np.ceil(np.minimum(t, censor)), event)
        covered += low <= 14 <= high
        low_below_a_day += low < 1
    assert 0.92 <= covered / 300 <= 0.99  # measured 0.955 with 150 records (0.945 with 60)
    assert low_below_a_day == 0


# ------------------------------------------------------------------------------ the samples
SAMPLE_NAMES = ["salesforce", "salesforce_winkel", "hubspot_accredible", "hubspot_questnut",
                "pipedrive_bec"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_the_samples_show_no_zero_for_what_their_data_cannot_measure(tmp_path, name):
    # salesforce: the won deals' history rows share one bulk stamp (median days 0 at the same
    # instant); salesforce_winkel: weekly snapshots with several currencies (no amount in the
    # engagement's currency, phases skipped between two snapshots at one stamp).
    from conftest import write_salesforce_engagement
    from samples import write_sample_engagement
    path = (write_salesforce_engagement(tmp_path) if name == "salesforce"
            else write_sample_engagement(tmp_path, name))
    engagement = Engagement.from_yaml(path)
    pages, sheet = _rendered(engagement, tmp_path / "out")
    values = compute_kpis(engagement)
    lacking = values[values["missing_reason"].notna()]
    expected = {"salesforce": {"no_distinct_times"},
                "salesforce_winkel": {"no_amounts", "no_distinct_times"}}.get(name, set())
    assert expected <= set(lacking["missing_reason"])
    header, body = sheet[0], sheet[1:]
    key, value, why = (header.index(h) for h in ("KPI-sleutel", "Waarde", "Niet gemeten omdat"))
    for row in body:
        if row[key] in set(lacking["kpi"]):
            assert row[value] is None and str(row[why]).startswith("n.v.t."), row
    step3 = pages["03_kpis.html"]
    shown = {cells[0]: cells[2] for table in step3.tables
             for cells in ([text for _, text in row] for row in table) if len(cells) > 2}
    labels = set(lacking["label"])
    na = [text for label, text in shown.items() if text.startswith("n.v.t.")]
    assert len(na) >= len(labels)
    for page in pages.values():
        for piece in page.pieces:
            assert "0 dagen (0–0 dagen)" not in piece, piece


def test_a_replaced_kpi_set_keeps_the_chart_the_cohort_table_and_a_true_caption(tmp_path):
    # the demo with one declared KPI replacing the defaults: step 7 still charts its steering
    # conversion (it said "Geen regelkaart" with a reason about the data), step 4 still measures
    # every step, and the index's schema caption says cohorts because step 4 has them
    from conftest import DEMO

    from toolkit.report import render
    doc = yaml.safe_load((DEMO / "engagement.yaml").read_text(encoding="utf-8"))
    doc["kpis"] = {"replace": True, "list": [{"name": "our_win_rate", "kind": "win_rate",
                                              "label": "Onze winratio"}]}
    for source in doc["sources"]:
        source["path"] = str(DEMO / source["path"])
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    results = run_all(Engagement.from_yaml(path), seed=0)
    assert [k.name for k in results[3].results["kpi_set"]] == ["our_win_rate"]
    assert "control chart" in results[7].tables and "chart" not in results[7].problems
    assert (results[4].tables["kpis"]["kind"] == "conversion").sum() == 4
    assert render._schema_from_cohorts(results)
    # without step 4's cohort conversions the schema shows step 1's raw rates, and says so
    assert not render._schema_from_cohorts({1: results[1]})


# ------------------------------------------------------------ generated companies (issue 21)
# A small generated company (toolkit.datasets.generate_planted_company, 800 records, four phases)
# written in each shape of real exports (toolkit.datasets.write_planted_export) and loaded from its
# YAML as a client's export would be; rendered once per family in Dutch.
_GENERATED_FAMILIES = ("no amounts", "no lost records", "one instant", "date only", "snapshot")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from toolkit.datasets import generate_planted_company, write_planted_export

    company = generate_planted_company(n_records=800, n_phases=4, seed=11)
    out = {}
    for family in _GENERATED_FAMILIES:
        folder = tmp_path_factory.mktemp(family.replace(" ", "_"))
        engagement = Engagement.from_yaml(write_planted_export(company, folder / "export",
                                                               family=family))
        out[family] = (engagement, *_rendered(engagement, folder / "out"))
    return out


#: Per family: the KPI rows (by the start of their Dutch label) its data cannot measure, and the
#: reason each gives.
_GENERATED_UNMEASURABLE = {
    "no amounts": (("Gewonnen waarde", "Waarde van de open pijplijn", "Gemiddelde ordergrootte",
                    "Verkoopsnelheid"), "n.v.t.: geen bedragen"),
    "no lost records": (("Winratio",), "n.v.t.: geen verloren records"),
    "one instant": (("Mediaan dagen",), "n.v.t.: geen onderscheiden tijdstempels"),
    "snapshot": (("Mediaan dagen",), "n.v.t.: een momentopname heeft geen fasedatums"),
}


def _kpi_cells(pages):
    """Every table row on every page whose first cell names a KPI: (page, cells)."""
    for name, page in pages.items():
        for table in page.tables:
            for row in table:
                cells = [text for _, text in row]
                if cells:
                    yield name, cells


@pytest.mark.parametrize("family", sorted(_GENERATED_UNMEASURABLE))
def test_generated_families_show_no_zero_for_what_they_cannot_measure(generated, family):
    engagement, pages, sheet = generated[family]
    labels, reason = _GENERATED_UNMEASURABLE[family]
    header, body = sheet[0], sheet[1:]
    name, value, why = (header.index(h) for h in ("Naam", "Waarde", "Niet gemeten omdat"))
    hit = [row for row in body if str(row[name]).startswith(labels)]
    assert hit
    for row in hit:  # an empty cell with its reason, not a 0 or a 1 (100%)
        assert row[value] is None and str(row[why]).startswith(reason), row
    seen = 0
    for page, cells in _kpi_cells(pages):
        if cells[0].startswith(labels):
            seen += 1
            shown = [c for c in cells[1:] if c != "–"]
            assert shown and shown[0].startswith("n.v.t."), (page, cells)
            assert not any(_ZERO.fullmatch(c.split(" (")[0]) for c in cells[1:]), (page, cells)
    assert seen
    for page in pages.values():
        for piece in page.pieces:
            assert not re.search(r"\b0 dagen|Traagste overgang.*mediaan van 0", piece), piece
            if family == "no lost records":
                assert not re.search(r"Winratio.*100,0\s?%", piece), piece


def test_generated_date_only_and_snapshot_have_no_bulk_import_count(generated):
    # date-only stamps cannot show a bulk import (a day's moves share the date), and a snapshot
    # has no history rows at all: n/a with the reason, not "0 (0,0%)"
    for family, reason in (("date only", "n.v.t.: datums zonder tijdstip"),
                           ("snapshot", "n.v.t.: een momentopname heeft geen fasedatums")):
        engagement, pages, _ = generated[family]
        rows = [cells for page, cells in _kpi_cells(pages)
                if cells[0].startswith("Massale tijdstempels")]
        assert rows, family
        for cells in rows:
            assert all(c.startswith(reason) for c in cells[1:]), (family, cells)


def test_a_snapshot_has_no_history_to_audit(generated):
    # skipped phases, regressions, a late first phase and bulk stamps are read from a stage
    # history; a snapshot has none, so each is n/a (reason snapshot_timing), not 0 records
    findings = audit(generated["snapshot"][0]).findings.set_index("check")
    for check in ("skipped_phases", "regressions", "created_in_late_phase", "bulk_timestamp"):
        assert findings.loc[check, "records"] != findings.loc[check, "records"], check
        assert findings.loc[check, "missing_reason"] == "snapshot_timing", check
    # the checks a snapshot can answer are still counted
    assert findings.loc["missing_dates", "records"] == 0


def test_generated_families_measure_what_they_can(generated):
    # the families lack one thing each: the rest is measured as on the tidy history
    k = {family: _kpis(engagement) for family, (engagement, _, _) in generated.items()}
    assert k["no amounts"].loc["win_rate", "value"] > 0
    assert k["no lost records"].loc["won_value", "value"] > 0
    assert k["one instant"].loc["win_rate", "value"] == pytest.approx(
        k["no amounts"].loc["win_rate", "value"])
    assert k["date only"].loc["duration_target_lead", "value"] > 0


def _late_won_snapshot(tmp_path):
    # Four deals won 240 days after creation (stage Gewonnen, status won), four lost at the
    # proposal (stage Offerte, status lost) 60 days after creation; a window of 90 days.
    lines = ["Deal;Fase;Status;Aangemaakt;Gesloten"]
    lines += [f"W{k};Gewonnen;won;0{k + 1}-01-2024;0{k + 1}-09-2024" for k in range(4)]
    lines += [f"L{k};Offerte;lost;0{k + 1}-01-2024;0{k + 1}-03-2024" for k in range(4)]
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = {"name": "snap", "as_of": "2025-12-31", "phases": PHASES, "stage_mapping": MAPPING,
           "sources": [{"name": "deals", "path": "deals.csv", "shape": "snapshot",
                        "date_format": "dmy",
                        "columns": {"record_id": "Deal", "current_stage": "Fase",
                                    "status": "Status", "created_at": "Aangemaakt",
                                    "closed_at": "Gesloten"}}]}
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Engagement.from_yaml(path)


def test_a_snapshot_step_is_not_windowed_from_a_date_it_does_not_have(tmp_path):
    # What the calibration harness saw: generated snapshots of 4-5 phases read a "leak" (the step
    # into the order far below the market) with nothing planted. A snapshot dates the proposal at
    # creation, so "won within 90 days of reaching the proposal" was measured from creation: 0 of
    # 8 here, where 4 of the 8 that reached the proposal were won. The step counts who reached
    # the order (its window cannot be measured), among the proposals matured by creation date.
    from toolkit.analysis.diagnosis import low_hanging_fruit  # noqa: F401  (same rule, below)
    from toolkit.measure.cohorts import Cohorts
    from toolkit.measure.funnel import cohort_conversion
    e = _late_won_snapshot(tmp_path)
    rate = cohort_conversion(e, from_phase="proposal", to_phase="order", period=None)
    assert (rate["successes"].sum(), rate["n"].sum()) == (4, 8)
    assert rate["window_days"].isna().all()  # no window: figures say none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohorts = Cohorts(e, None)
    n, x = cohorts.counts(3, 4)
    assert (int(n[0]), int(x[0])) == (8, 4)
    k = _kpis(e)
    assert k.loc["conversion_proposal_order", "value"] == pytest.approx(0.5)
    assert "within" not in k.loc["conversion_proposal_order", "label"]
    # the entry step keeps its window: its start is the creation date the snapshot has
    assert "within 90 days" in k.loc["conversion_target_lead", "label"]
