"""Funnels of any length from two phases up, end to end: default KPIs, the KPI tree, the kpis
command. (`funnel run` on a two- and an eight-phase engagement is in test_cli_phase_counts.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from toolkit import Engagement
from toolkit.cli import main
from toolkit.measure.funnel import funnel
from toolkit.measure.kpis import compute_kpis, default_kpis, kpi_tree


def write_n_phase_engagement(folder: Path, n_phases: int, *, records: int = 400,
                             seed: int = 1) -> Path:
    """A history export of `records` deals through `n_phases` phases (stages S1..Sn, 'Lost'),
    created over 2024-01..2025-06; each step is taken with probability 0.6 after 3-40 days, a deal
    that stops is lost (70%) or stays open. Two channels for the segment views."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for i in range(records):
        at = start + pd.Timedelta(days=int(rng.integers(0, 540)))
        rid, channel = f"D{i:04d}", ("web", "event")[i % 2]
        rows.append((rid, "S1", at, channel))
        for k in range(2, n_phases + 1):
            at += pd.Timedelta(days=int(rng.integers(3, 40)))
            if rng.random() > 0.6:
                if rng.random() < 0.7:
                    rows.append((rid, "Lost", at, channel))
                break
            rows.append((rid, f"S{k}", at, channel))
    frame = pd.DataFrame(rows, columns=["Deal", "Stage", "Date", "Channel"])
    frame["Date"] = frame["Date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(folder / "history.csv", index=False)
    phases = [{"key": f"p{k}", "label": f"Phase {k}", "functions": [f"Role {k}"]}
              for k in range(1, n_phases + 1)]
    mapping = {f"S{k}": f"p{k}" for k in range(1, n_phases + 1)} | {"Lost": "lost"}
    doc = {"name": f"phases-{n_phases}", "as_of": "2025-12-31", "phases": phases,
           "stage_mapping": mapping, "targets": {"orders_per_month": 5},
           "sources": [{"name": "history", "path": "history.csv", "shape": "history",
                        "date_format": "ymd",
                        "columns": {"record_id": "Deal", "stage": "Stage", "changed_at": "Date"},
                        "attributes": {"channel": "Channel"}}]}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("n_phases", [2, 3, 5, 8])
def test_default_kpis_and_tree_for_any_number_of_phases(tmp_path, n_phases):
    e = Engagement.from_yaml(write_n_phase_engagement(tmp_path, n_phases), use_cache=False)
    kpis = default_kpis(e)
    won = e.phase_model.won_phase
    # no KPI counts from the won phase itself ("Win rate from Won")
    assert all(k.from_phase != won and k.phase != won for k in kpis
               if k.kind in ("win_rate", "sales_velocity"))
    frame = compute_kpis(e)
    assert set(frame["kpi"]) == {k.name for k in kpis}
    conversions = frame[frame["kind"] == "conversion"]
    assert len(conversions) == n_phases - 1 and conversions["value"].notna().all()
    tree = kpi_tree(e)
    assert tree.loc[tree["node"] == "orders", "value"].notna().all()
    assert (tree["parent"] == "orders").sum() == 1 + (n_phases - 1)  # volume + each step
    assert len(funnel(e)) == n_phases


def test_kpi_tree_uses_declared_kpis_not_the_defaults(tmp_path):
    path = write_n_phase_engagement(tmp_path, 2)
    doc = yaml.safe_load(path.read_text())
    doc["kpis"] = [{"name": "conversion_p1_p2", "kind": "conversion", "from_phase": "p1",
                    "to_phase": "p2", "window_days": 30}]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    e = Engagement.from_yaml(path, use_cache=False)
    tree = kpi_tree(e).set_index("node")
    declared = compute_kpis(e).set_index("kpi").loc["conversion_p1_p2", "value"]
    # the tree shows the rate management agreed on (30-day window), not the default 90 days
    assert tree.loc["conversion_p1_p2", "value"] == pytest.approx(declared)


@pytest.mark.parametrize("n_phases", [2, 8])
def test_kpis_command_for_two_and_eight_phases(tmp_path, n_phases, capsys):
    path = write_n_phase_engagement(tmp_path, n_phases)
    assert main(["kpis", str(path)]) == 0
    out = capsys.readouterr().out
    # the default win rate counts every closed record (issue 21, item 12), never from a phase
    assert "Win rate (won / closed)" in out and "Win rate from" not in out


def test_two_phase_verdict_says_it_has_no_split_and_counts_leads_at_the_first_phase(tmp_path):
    from toolkit.analysis.diagnosis import shortage_or_leak
    from toolkit.measure.funnel import cohort_conversion
    e = Engagement.from_yaml(write_n_phase_engagement(tmp_path, 2), use_cache=False)
    verdict = shortage_or_leak(e)  # targets: orders_per_month 5
    assert verdict.case != "insufficient data"
    assert "one transition has no shortage/leak split" in verdict.headline
    row = verdict.evidence.set_index("rule").loc["volume vs order target"]
    assert "(p1)" in row["quantity"]
    # 5 orders per month need 5 / (today's p1 -> p2 rate) leads, never 5 leads at 100%
    rate = cohort_conversion(e, period="all")["rate"].iloc[0]
    assert f"need {5 / rate:.1f} leads" in row["note"]
