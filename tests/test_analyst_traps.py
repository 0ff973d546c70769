"""The analyst's traps (issue 24): each one a hand-made case that failed before its fix.

The engagement YAML here is literal text, as an analyst types it (not `yaml.safe_dump`, which
quotes the words YAML 1.1 would read as booleans and so hides the trap)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolkit import Engagement
from toolkit.base.exceptions import ToolkitError
from toolkit.io.config import load_config
from toolkit.present.messages import translations

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- `on:` and the other YAML 1.1 booleans as keys ------------------------------------------------

YES_NO_KEYS = """\
name: keys
phases: [{key: lead, label: Lead}, {key: order, label: Order}]
stage_mapping:
  Lead: lead
  Won: won
  yes: lead          # a CRM stage called "yes" (YAML 1.1 would read the key as True)
  Off: ignore
sources:
  - {name: deals, shape: history, path: deals.csv, columns: {record_id: Id, stage: Stage, changed_at: At}}
lookups:
  - {path: agents.csv, key: Agent, on: agent, attributes: {team: Team}}
"""


def test_on_yes_and_off_as_keys_are_words_not_booleans(tmp_path):
    config = load_config(_write(tmp_path, "engagement.yaml", YES_NO_KEYS))
    assert config.lookups[0].on == "agent"
    assert {"yes", "Off"} <= set(config.stage_mapping)


def test_a_boolean_value_stays_a_boolean(tmp_path):
    # only keys are read as YAML 1.2 would: `fold_categories: no` still switches folding off
    config = load_config(_write(tmp_path, "engagement.yaml", YES_NO_KEYS + "fold_categories: no\n"))
    assert config.fold_categories is False


# --- docs/loading.md's two-file example (an MQL file and a closed-deals file) ---------------------

def _docs_block(title: str) -> str:
    """The first ```yaml block after the paragraph of docs/loading.md that starts with `title`."""
    text = (ROOT / "docs" / "loading.md").read_text(encoding="utf-8")
    start = text.index(title)
    match = re.search(r"```yaml\n(.*?)```", text[start:], flags=re.S)
    assert match, f"no yaml block after {title!r} in docs/loading.md"
    return match.group(1)


def test_the_docs_two_file_example_loads_on_a_hand_made_pair(tmp_path):
    # mql.csv: L1, L2, L3 became MQL in January; L2 is lost, L1 and L3 open. closed_deals.csv: L1
    # won on 10-03 for 1000, L3 on 20-02 for 500. agents.csv: ann -> North; bob has no row.
    # By hand: 3 records; L1 and L3 won, L2 lost; L3's amount 500; L1's team North, L2's blank.
    _write(tmp_path, "mql.csv", "Lead ID,MQL date,Status,Agent\nL1,2025-01-05,open,ann\n"
                                "L2,2025-01-06,lost,bob\nL3,2025-01-07,open,ann\n")
    _write(tmp_path, "closed_deals.csv", "Lead ID,Close date,Amount\nL1,2025-03-10,1000\n"
                                         "L3,2025-02-20,500\n")
    _write(tmp_path, "agents.csv", "Agent,Team,Office\nann,North,Utrecht\n")
    path = _write(tmp_path, "engagement.yaml", _docs_block("**Two files about the same deals**"))
    e = Engagement.from_yaml(path, use_cache=False)
    rec = e.records.set_index("record_id")
    assert rec["outcome"].to_dict() == {"L1": "won", "L2": "lost", "L3": "won"}
    assert rec.loc["L3", "value"] == 500
    assert rec.loc["L1", "team"] == "North" and rec.loc["L2", "team"] != rec.loc["L2", "team"]
    recon = e.reconciliation
    assert (recon["rows_in"] == recon["rows_used"] + recon["rows_quarantined"]).all()


# --- a copied notebook finds its engagement, or says how to pass it ------------------------------

@pytest.fixture(autouse=True)
def _notebook_settings_stay_here():
    """The notebooks' setup cells set pandas' display options and the plot theme; restored after
    each test, so a later test in this worker sees pandas' own formatting (a report check read
    3.986e-01 where pandas writes 3.986000e-01)."""
    import matplotlib
    import pandas as pd
    names = ("display.precision", "display.max_columns", "display.max_colwidth")
    saved = [value for name in names for value in (name, pd.get_option(name))]
    with pd.option_context(*saved), matplotlib.rc_context():
        yield


def _setup_cells(name: str) -> str:
    """A notebook's parameters cell and the cell that opens the engagement, as one script."""
    import json
    cells = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    opening = next(c for c in code if "open_engagement" in c)
    return code[0] + "\n" + opening.split("result = ")[0]


def test_a_copied_notebook_opens_the_demo_from_anywhere(tmp_path, monkeypatch):
    # the analyst copies 01_baseline into a client folder and runs it there: the default
    # "../data/demo/engagement.yaml" is not beside it, but it names the repository's demo
    monkeypatch.delenv("FUNNEL_ENGAGEMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(_setup_cells("01_baseline.ipynb"), namespace)  # noqa: S102
    assert namespace["e"].name == "demo-van-dijk"


def test_a_notebook_reads_the_engagement_from_the_environment(tmp_path, monkeypatch):
    # FUNNEL_ENGAGEMENT replaces the demo default; a wrong path names the ways to pass one
    (tmp_path / "client").mkdir()
    monkeypatch.chdir(tmp_path / "client")
    monkeypatch.setenv("FUNNEL_ENGAGEMENT", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ToolkitError) as caught:
        exec(_setup_cells("01_baseline.ipynb"), {})  # noqa: S102
    text = str(caught.value)
    assert "nowhere.yaml" in text and "papermill -p engagement" in text
    assert "FUNNEL_ENGAGEMENT" in text


def test_a_relative_engagement_path_that_is_nowhere_says_where_it_looked(tmp_path, monkeypatch):
    from toolkit.base.paths import notebook_engagement
    monkeypatch.delenv("FUNNEL_ENGAGEMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ToolkitError, match=r"acme/engagement.yaml.*papermill -p engagement"):
        notebook_engagement("acme/engagement.yaml")
    # found relative to the repository root when the notebook runs in notebooks/
    monkeypatch.chdir(ROOT / "notebooks")
    assert notebook_engagement("data/demo/engagement.yaml").resolve() == (
        ROOT / "data/demo/engagement.yaml").resolve()


# --- a lookup key without a row is named, with the near match -------------------------------------

def _product_lookup(tmp_path, *, personal: str = "", extra: str = "") -> Engagement:
    # deals: D1 "GTX Pro", D2, D4, D5 "GTXPro" (typed without the space), D3 "Zeta" (nothing near).
    # products.csv: "GTX Pro" -> Hardware, "Alpha" -> Software.
    _write(tmp_path, "deals.csv", "Deal;Fase;Datum;Product\nD1;Lead;01-01-2025;GTX Pro\n"
                                  "D2;Lead;02-01-2025;GTXPro\nD3;Lead;03-01-2025;Zeta\n"
                                  "D4;Lead;04-01-2025;GTXPro\nD5;Lead;05-01-2025;GTXPro\n")
    _write(tmp_path, "products.csv", "Product,Line\nGTX Pro,Hardware\nAlpha,Software\n")
    personal_line = f"    personal: [{personal}]\n" if personal else ""
    path = _write(tmp_path, "engagement.yaml", f"""\
name: lookup
as_of: 2025-12-31
privacy: {{key_env: TRAPS_KEY}}
phases: [{{key: lead, label: Lead}}, {{key: order, label: Order}}]
stage_mapping: {{Lead: lead, Gewonnen: won}}
{extra}sources:
  - name: deals
    shape: history
    path: deals.csv
    date_format: dmy
    columns: {{record_id: Deal, stage: Fase, changed_at: Datum}}
    attributes: {{product: Product}}
{personal_line}lookups:
  - {{path: products.csv, key: Product, on: product, attributes: {{line: Line}}}}
""")
    return Engagement.from_yaml(path, use_cache=False)


def test_an_unmatched_lookup_value_is_named_with_its_near_match(tmp_path, monkeypatch):
    # spellings kept apart: by hand 4 records have no row (3 "GTXPro", 1 "Zeta"), 2 values
    monkeypatch.setenv("TRAPS_KEY", "a-key-of-at-least-16-characters")
    e = _product_lookup(tmp_path, extra="fold_categories: false\n")
    note = next(n for n in e.notes if "no row in this lookup" in n)
    assert "4 record(s)" in note and "2 distinct value(s)" in note
    assert "'GTXPro' (3 records; did you mean 'GTX Pro'?)" in note
    assert "'Zeta' (1 record)" in note and "'Zeta' (1 record; did" not in note
    assert "(missing)" in note  # says what the blank attribute becomes in the scan
    assert e.records.set_index("record_id")["line"].isna().sum() == 4


def test_a_folded_spelling_finds_its_lookup_row(tmp_path, monkeypatch):
    # folding (the default) makes "GTX Pro" and "GTXPro" one category, spelled "GTXPro" (3 of 4):
    # it still finds the lookup's "GTX Pro" row; only D3 "Zeta" stays without one
    monkeypatch.setenv("TRAPS_KEY", "a-key-of-at-least-16-characters")
    e = _product_lookup(tmp_path)
    line = e.records.set_index("record_id")["line"]
    assert line.drop("D3").eq("Hardware").all() and line.isna().sum() == 1
    note = next(n for n in e.notes if "no row in this lookup" in n)
    assert "1 record(s)" in note and "'Zeta' (1 record)" in note
    assert any("spelled differently" in n and "4 record(s)" in n for n in e.notes)


def test_an_unmatched_personal_lookup_key_is_counted_not_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAPS_KEY", "a-key-of-at-least-16-characters")
    e = _product_lookup(tmp_path, personal="product")
    note = next(n for n in e.notes if "no row in this lookup" in n)
    assert "record(s)" in note
    assert "GTX" not in note and "Zeta" not in note and "P-" not in note


# --- funnel validate: a whole table whose counts reconcile with the quarantine --------------------

def _snapshot_with_blank_dates(tmp_path) -> Path:
    # 40 deals, every fourth (D0, D4, ... D36: 10 rows) without a creation date: quarantined, and
    # those records never load, so no loaded record carries the flag
    rows = ["Deal ID;Stage;Created;Closed"]
    for i in range(40):
        created = "" if i % 4 == 0 else f"{i % 27 + 1:02d}-03-2025"
        stage = ["Lead", "Offerte", "Gewonnen", "Verloren"][i % 4]
        closed = f"{i % 27 + 1:02d}-05-2025" if stage in ("Gewonnen", "Verloren") else ""
        rows.append(f"D{i};{stage};{created};{closed}")
    _write(tmp_path, "deals.csv", "\n".join(rows) + "\n")
    return _write(tmp_path, "engagement.yaml", """\
name: blanks
phases: [{key: lead, label: Lead}, {key: offerte, label: Offerte}, {key: order, label: Order}]
stage_mapping: {Lead: lead, Offerte: offerte, Gewonnen: won, Verloren: lost}
sources:
  - name: deals
    shape: snapshot
    path: deals.csv
    date_format: dmy
    columns: {record_id: Deal ID, current_stage: Stage, created_at: Created, closed_at: Closed}
""")


def test_validate_prints_the_whole_audit_and_its_missing_dates_match_the_quarantine(tmp_path,
                                                                                      capsys):
    from toolkit.cli import main
    path = _snapshot_with_blank_dates(tmp_path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and "..." not in out and "rows x" not in out
    assert "      10  missing date in column 'Created'" in out  # the quarantine
    line = next(line for line in out.splitlines() if line.lstrip().startswith("Missing dates"))
    # check, records (of the loaded ones), rows (quarantined), share, meaning
    assert line.split()[2:5] == ["0", "10", "0.0%"], line
    assert "stage rows without a usable date" in line
    for check in ("Skipped phases", "Outcome contradicts the stages"):  # all 11 checks shown
        assert check in out


def test_validate_json_gives_the_rows_of_each_check(tmp_path, capsys):
    import json

    from toolkit.cli import main
    path = _snapshot_with_blank_dates(tmp_path)
    assert main(["validate", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    missing = next(a for a in report["audit"] if a["check"] == "missing_dates")
    assert missing["rows"] == 10 == sum(n for reason, n in report["quarantine_reasons"].items()
                                        if "missing date" in reason)


# --- funnel kpis speaks the engagement's language -------------------------------------------------

DEMO_YAML = ROOT / "data" / "demo" / "engagement.yaml"


def test_kpis_prints_a_dutch_engagement_in_dutch_with_dutch_numbers(capsys):
    from toolkit.cli import main
    assert main(["kpis", str(DEMO_YAML)]) == 0
    out = capsys.readouterr().out
    # the demo's first conversion: 36.1% (35.3-37.1%) of 10,949 records, as the Dutch pages say it
    assert "Conversie Target (suspects) → Lead" in out and "36,1% (35,3–37,1%)" in out
    below = translations("nl").gettext("significantly off target")
    assert "10.949" in out and below in out and below != "significantly off target"
    assert "Conversion" not in out and "NaN" not in out and "nan" not in out


def test_kpis_by_a_segment_names_no_nan_and_says_why_a_value_is_missing(capsys):
    from toolkit.cli import main
    assert main(["kpis", str(DEMO_YAML), "--by", "action"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "nan" not in out
    header = out.splitlines()[0]
    assert "Actie" in header and "Waarde (95%-interval)" in header
    assert "koud bellen" in out or "cold calling" in out  # the client's own segment names


def test_kpi_values_without_a_number_say_why_in_the_language():
    import pandas as pd

    from toolkit.cli.kpis import _missing_kpi_reason
    from toolkit.present.format import formatter
    nl = formatter("nl")
    row = pd.Series({"kind": "conversion", "value": float("nan"), "n": 0, "immature_n": 12})
    assert _missing_kpi_reason(row, nl) == "n.v.t.: nog geen volgroeide records"
    row = pd.Series({"kind": "win_rate", "value": float("nan"), "n": 0, "open_n": 4})
    assert _missing_kpi_reason(row, formatter("en")) == "n/a: no closed deals yet"


def test_kpis_out_xlsx_is_written_in_the_engagement_language(tmp_path):
    from openpyxl import load_workbook

    from toolkit.cli import main
    assert main(["kpis", str(DEMO_YAML), "--out", str(tmp_path / "k.xlsx")]) == 0
    book = load_workbook(tmp_path / "k.xlsx")
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert "Naam" in headers and "Status" in headers and "label" not in headers
    texts = {c.value for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str)}
    assert translations("nl").gettext("significantly off target") in texts
    assert "Conversie Target (suspects) → Lead binnen 90 dagen" in texts


# --- funnel reveal: the consultant's private way back from pseudonyms to names --------------------

def _owners(tmp_path) -> Path:
    # three deals of two owners ("Ann de Vries" twice, once with stray spaces and another case)
    # and one of "Bob Jansen": the owner is pseudonymised (the default)
    client = tmp_path / "client"
    client.mkdir()
    _write(client, "deals.csv", "Deal;Fase;Datum;Eigenaar\nD1;Lead;01-01-2025;Ann de Vries\n"
                                "D2;Lead;02-01-2025;  ann de vries \nD3;Lead;03-01-2025;Bob Jansen\n")
    return _write(client, "engagement.yaml", """\
name: reveal
as_of: 2025-12-31
privacy: {key_env: TRAPS_KEY}
phases: [{key: lead, label: Lead}, {key: order, label: Order}]
stage_mapping: {Lead: lead, Gewonnen: won}
sources:
  - name: deals
    shape: history
    path: deals.csv
    date_format: dmy
    columns: {record_id: Deal, stage: Fase, changed_at: Datum}
    attributes: {owner: Eigenaar}
""")


def test_reveal_writes_the_key_map_beside_the_engagement(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from toolkit.cli import main
    monkeypatch.setenv("TRAPS_KEY", "a-key-of-at-least-16-characters")
    path = _owners(tmp_path)
    owners = set(Engagement.from_yaml(path, use_cache=False).records["owner"])
    assert len(owners) == 2 and all(o.startswith("P-") for o in owners)
    assert main(["reveal", str(path)]) == 0
    out = capsys.readouterr().out
    written = path.parent / "pseudonym-key-map.csv"
    assert str(written) in out and "Ann" not in out  # the names go to the file only
    table = pd.read_csv(written)
    assert list(table.columns) == ["attribute", "pseudonym", "name"]
    assert set(table["pseudonym"]) == owners and len(table) == 2
    assert set(table["name"]) == {"Ann de Vries", "Bob Jansen"}


def test_reveal_never_writes_into_a_report_folder(tmp_path, monkeypatch):
    from toolkit.cli import main
    monkeypatch.setenv("TRAPS_KEY", "a-key-of-at-least-16-characters")
    path = _owners(tmp_path)
    report = tmp_path / "report"
    report.mkdir()
    (report / "manifest.json").write_text("{}")
    assert main(["reveal", str(path), "--out", str(report / "names.csv")]) == 2
    assert not (report / "names.csv").exists()


# --- template text left in the phases is warned about ---------------------------------------------

def _engagement_with_phases(tmp_path, phases: str) -> Path:
    _write(tmp_path, "deals.csv", "Deal;Fase;Datum\nD1;Lead;01-01-2025\nD2;Order;02-02-2025\n")
    return _write(tmp_path, "engagement.yaml", f"""\
name: template
as_of: 2025-12-31
{phases}
stage_mapping: {{Lead: lead, Order: won}}
sources:
  - name: deals
    shape: history
    path: deals.csv
    date_format: dmy
    columns: {{record_id: Deal, stage: Fase, changed_at: Datum}}
""")


def _template_target_phase() -> str:
    """The `funnel new` template's first phase as the template writes it (Dutch)."""
    import yaml

    from toolkit.cli.new import _PHASES
    first = yaml.safe_load(_PHASES["nl"])["phases"][0]
    return f"  - key: lead\n    label: Lead\n    tasks: {first['tasks']}\n    actions: {first['actions']}\n"


def test_validate_warns_about_phase_text_left_from_the_template(tmp_path, capsys):
    from toolkit.cli import main
    phases = "phases:\n" + _template_target_phase() + "  - {key: order, label: Order}"
    path = _engagement_with_phases(tmp_path, phases)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    warning = next(line for line in out.splitlines() if line.startswith("Warning:"))
    assert "phase 'lead'" in warning and "tasks" in warning and "actions" in warning
    assert "funnel new" in warning and "Fix:" in warning


def test_own_phase_text_gets_no_template_warning(tmp_path, capsys):
    from toolkit.cli import main
    phases = ("phases:\n  - {key: lead, label: Lead, tasks: [Bel elke aanvraag binnen een dag],"
              " actions: [beurs]}\n  - {key: order, label: Order}")
    assert main(["validate", str(_engagement_with_phases(tmp_path, phases))]) == 0
    assert "Warning:" not in capsys.readouterr().out


def test_the_demo_itself_is_not_warned_about_its_own_text():
    from toolkit.cli.new import untouched_template_text
    assert untouched_template_text(Engagement.from_yaml(DEMO_YAML)) == []


def test_run_tells_the_consultant_not_the_report(tmp_path, monkeypatch, capsys):
    # the warning goes to the terminal (stderr) before the report is built; the report itself
    # (stubbed here: its pages are the client's) gets no part of it
    from toolkit import cli, report
    phases = "phases:\n" + _template_target_phase() + "  - {key: order, label: Order}"
    path = _engagement_with_phases(tmp_path, phases)
    built = {}

    def build_report(engagement, **options):
        built.update(options)
        return {"index": "i", "workbook": "w", "manifest": "m"}

    monkeypatch.setattr(report, "build_report", build_report)
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "Warning: phase 'lead'" in captured.err and "Warning" not in captured.out
    assert built and not any("template" in str(v) for v in built.values())
