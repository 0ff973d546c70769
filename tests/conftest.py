"""Shared fixtures: small hand-made engagements written to a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    """The team's shared folder (samples, reference): beside the clone in CI and in the work tree;
    FUNNEL_SHARED points elsewhere (e.g. for a clone in a temporary folder)."""
    candidates = [os.environ.get("FUNNEL_SHARED"), REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "samples").is_dir():
            return Path(candidate)
    return REPO.parent / "shared"  # tests that need it then fail naming this path


SHARED = _find_shared()
SALESFORCE = SHARED / "samples" / "salesforce_opportunity_history"
DEMO = REPO / "data" / "demo"

PHASES = [
    {"key": "target", "label": "Target"},
    {"key": "lead", "label": "Lead"},
    {"key": "opportunity", "label": "Potentieel"},
    {"key": "proposal", "label": "Offerte"},
    {"key": "order", "label": "Order"},
]
MAPPING = {"Suspect": "target", "Lead": "lead", "Potentieel": "opportunity",
           "Offerte": "proposal", "Gewonnen": "won", "Verloren": "lost", "Test": "ignore"}


def write_engagement(folder: Path, sources: list[dict], **extra) -> Path:
    """Write an engagement YAML with the five-phase model and the given sources."""
    doc = {"name": "test", "phases": PHASES, "stage_mapping": MAPPING, "sources": sources}
    doc.update(extra)
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


HISTORY_COLUMNS = {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum", "value": "Bedrag"}


@pytest.fixture
def history_engagement(tmp_path):
    """Write `rows` (list of 'Deal;Fase;Datum;Bedrag' lines) as a Dutch CSV + engagement."""
    def make(lines: list[str], *, encoding: str = "utf-8", **source_extra) -> Path:
        csv = tmp_path / "history.csv"
        csv.write_bytes(("Deal;Fase;Datum;Bedrag\n" + "\n".join(lines) + "\n").encode(encoding))
        source = {"name": "history", "path": "history.csv", "shape": "history",
                  "columns": HISTORY_COLUMNS, "date_format": "dmy", **source_extra}
        return write_engagement(tmp_path, [source])
    return make


SALESFORCE_PHASES = [{"key": "prospect", "label": "Prospecting"},
                     {"key": "qualified", "label": "Qualification"},
                     {"key": "proposal", "label": "Proposal/Price Quote"},
                     {"key": "negotiation", "label": "Negotiation/Review"},
                     {"key": "order", "label": "Closed Won"}]
SALESFORCE_MAPPING = {"Prospecting": "prospect", "Qualification": "qualified",
                      "Needs Analysis": "qualified", "Value Proposition": "qualified",
                      "Id. Decision Makers": "qualified", "Perception Analysis": "qualified",
                      "Proposal/Price Quote": "proposal", "Negotiation/Review": "negotiation",
                      "Closed Won": "won", "Closed Lost": "lost"}


def write_salesforce_engagement(folder: Path) -> Path:
    """The real Salesforce sample (read from ../shared) through the Salesforce preset."""
    return write_engagement(folder, [{
        "name": "opportunities", "shape": "history", "preset": "salesforce",
        "path": str(SALESFORCE / "OpportunityHistory.csv"),
        "records": {"path": str(SALESFORCE / "Opportunity.csv")}}],
        phases=SALESFORCE_PHASES, stage_mapping=SALESFORCE_MAPPING)


def reconciles(e) -> None:
    """rows_in == rows_used + rows_quarantined per file, and each quarantined row is listed once."""
    r = e.reconciliation
    assert (r["rows_in"] == r["rows_used"] + r["rows_quarantined"]).all()
    per_file = e.quarantine.groupby("file")["source_row"].nunique()
    for row in r.itertuples():
        assert per_file.get(row.file, 0) == row.rows_quarantined
    assert not e.quarantine.duplicated(["file", "source_row"]).any()


# `make test` spreads the suite over the machine's cores (pytest-xdist, `--dist loadgroup`). A
# notebook's cells share one kernel and must run in order on one worker, and a module's
# module-scoped fixtures (a demo run, a hostile run) should be computed once: so each file is one
# group, except the corpus files, whose hundreds of independent cases are spread over the workers.
SPREAD_OVER_WORKERS = {"test_cli_corpus.py", "test_bad_input.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name not in SPREAD_OVER_WORKERS:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
