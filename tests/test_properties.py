"""Property tests: the funnel rules hold for any event log, and the loader's reconciliation holds
for any mix of clean and dirty rows."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from conftest import write_engagement
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toolkit import Engagement
from toolkit.base.exceptions import ToolkitError
from toolkit.measure.funnel import cohort_conversion, funnel, reached_at
from toolkit.stats import rate_ci

PHASES = [{"key": k, "label": k} for k in ("a", "b", "c", "d")]
KEYS = [p["key"] for p in PHASES]
START = pd.Timestamp("2025-01-01")

event = st.tuples(st.integers(0, 7), st.sampled_from(KEYS), st.integers(0, 200))
logs = st.lists(event, min_size=1, max_size=40)


def engagement_from(log, as_of_day=150):
    ev = pd.DataFrame([(f"R{r}", p, START + pd.Timedelta(days=d)) for r, p, d in log],
                      columns=["record_id", "phase", "entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    ids = sorted(ev["record_id"].unique())
    won_at = ev[ev["phase"] == "d"].groupby("record_id")["entered_at"].min()
    closed = won_at.reindex(ids).astype("datetime64[ns]").reset_index(drop=True)
    rec = pd.DataFrame({"record_id": ids, "outcome": np.where(closed.notna(), "won", "open"),
                        "closed_at": closed,
                        "created_at": ev.groupby("record_id")["entered_at"].min().loc[ids].values,
                        "lost_at_phase": None, "value": 1.0})
    return Engagement.from_tables(ev, rec, phases=PHASES,
                                  as_of=START + pd.Timedelta(days=as_of_day))


@settings(max_examples=60, deadline=None)
@given(logs)
def test_reaching_a_phase_means_reaching_every_earlier_one_no_later(log):
    r = reached_at(engagement_from(log))
    for a, b in zip(KEYS[:-1], KEYS[1:], strict=True):
        both = r[b].notna()
        assert r.loc[both, a].notna().all()             # skip counts as passed
        assert (r.loc[both, a] <= r.loc[both, b]).all()  # reached earlier, never later
    counts = funnel(engagement_from(log))["reached"].tolist()
    assert counts == sorted(counts, reverse=True)


@settings(max_examples=60, deadline=None)
@given(logs, st.sampled_from(KEYS[:-1]), st.integers(0, 300))
def test_moving_back_never_unreaches_a_phase(log, back_to, day):
    before = reached_at(engagement_from(log)).notna()
    later = max(d for _, _, d in log) + 1 + day
    moved = reached_at(engagement_from(log + [(log[0][0], back_to, later)])).notna()
    rid = f"R{log[0][0]}"
    # the extra, later event at a lower phase only adds; it never removes a reached phase
    assert (moved.loc[rid] >= before.loc[rid]).all()
    assert moved.drop(index=rid).equals(before.drop(index=rid))


@settings(max_examples=40, deadline=None)
@given(logs, st.integers(0, 120), st.integers(1, 90))
def test_cohorts_count_every_record_once_as_mature_or_immature(log, as_of_day, window):
    e = engagement_from(log, as_of_day=as_of_day)
    c = cohort_conversion(e, from_phase="a", to_phase="b", window_days=window, period="month")
    reached = reached_at(e)["a"]
    assert c["n"].sum() + c["immature_n"].sum() == reached.notna().sum()
    assert (c["successes"] <= c["n"]).all()
    assert ((c["ci_low"] <= c["rate"]) | c["n"].eq(0)).all()


@given(st.integers(0, 500), st.integers(0, 500),
       st.sampled_from(["wilson", "jeffreys", "clopper-pearson", "agresti-coull", "wald"]))
def test_every_interval_contains_the_rate_within_zero_and_one(x, extra, method):
    n = x + extra
    low, high = rate_ci(x, n, method=method)
    if n == 0:
        assert np.isnan(low) and np.isnan(high)
    else:
        assert 0 <= low <= x / n + 1e-12 and x / n - 1e-12 <= high <= 1


STAGES = ["Suspect", "Lead", "Potentieel", "Offerte", "Gewonnen", "Verloren", "Test", " lead "]
row = st.tuples(st.sampled_from(["D1", "D2", "D3", ""]), st.sampled_from(STAGES),
                st.sampled_from(["03-01-2025 09:00", "15-02-2025 10:30", "", "31-02-2025 10:00",
                                 "20-03-2025 16:00"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(row, min_size=1, max_size=25))
def test_every_row_is_used_or_quarantined_with_a_reason(tmp_path, rows):
    lines = "\n".join(";".join(r) for r in rows)
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\n" + lines + "\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    e = Engagement.from_yaml(path, use_cache=False)
    r = e.reconciliation.iloc[0]
    assert r["rows_in"] == len(rows) == r["rows_used"] + r["rows_quarantined"]
    assert e.quarantine["reason"].str.len().gt(0).all()
    assert e.quarantine["source_row"].is_unique


# --- the loader's answer does not depend on how the export is ordered or split ---------------------

CLEAN_STAGES = ["Suspect", "Lead", "Potentieel", "Offerte", "Gewonnen", "Verloren"]
export_row = st.tuples(st.integers(0, 9), st.sampled_from(CLEAN_STAGES), st.integers(0, 150))
exports = st.lists(export_row, min_size=1, max_size=30)
SOURCE_COLUMNS = {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}


def _lines(rows):
    # Distinct timestamps (the row's index breaks ties by minutes): with equal timestamps the file
    # order is the tie-breaker by design, so only then could the order of the rows matter.
    return [f"D{r:02d};{s};{(START + pd.Timedelta(days=d, minutes=i)):%d-%m-%Y %H:%M}"
            for i, (r, s, d) in enumerate(rows)]


def _load_files(folder, files: dict[str, list[str]]):
    sources = []
    for name, lines in files.items():
        (folder / f"{name}.csv").write_text("Deal;Fase;Datum\n" + "\n".join(lines) + "\n")
        sources.append({"name": name, "path": f"{name}.csv", "shape": "history", "date_format": "dmy",
                        "columns": SOURCE_COLUMNS})
    path = write_engagement(folder, sources, as_of="2025-09-30")
    return Engagement.from_yaml(path, use_cache=False)


def _answer(folder, files):
    """Everything a consultant reads off the loaded export, independent of file positions; or the
    error it ends in (random logs may contradict the phase order, which the loader refuses)."""
    try:
        e = _load_files(folder, files)
    except ToolkitError as exc:
        return ("refused", str(exc).replace(str(folder), "<folder>"))
    records = e.records.drop(columns=["source"], errors="ignore").sort_values("record_id")
    events = (e.events.drop(columns=["source", "source_row"], errors="ignore")
              .sort_values(["record_id", "entered_at"]))
    reasons = sorted(e.quarantine["reason"].astype(str))
    return (funnel(e).drop(columns=["label"]), records.reset_index(drop=True),
            events.reset_index(drop=True), reasons)


def _same(a, b):
    if isinstance(a[0], str) or isinstance(b[0], str):  # ("refused", message)
        assert isinstance(a[0], str) and isinstance(b[0], str), "only one of the two was refused"
        assert a[1] == b[1]
        return
    for x, y in zip(a[:3], b[:3], strict=True):
        pd.testing.assert_frame_equal(x, y, check_dtype=False, check_categorical=False)
    assert a[3] == b[3]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports, st.randoms(use_true_random=False))
# Found by hypothesis in CI: most records enter Lead before Suspect, so both orders are refused alike.
@example([(0, "Suspect", 0), (0, "Lead", 0), (1, "Suspect", 1), (1, "Lead", 0), (2, "Suspect", 1),
          (2, "Lead", 0)], random.Random(0))
def test_the_order_of_the_rows_in_the_export_does_not_matter(tmp_path, rows, rnd):
    lines = _lines(rows)
    shuffled = lines.copy()
    rnd.shuffle(shuffled)
    _same(_answer(tmp_path, {"crm": lines}), _answer(tmp_path, {"crm": shuffled}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports, st.sets(st.integers(0, 9)))
def test_splitting_the_records_over_two_sources_gives_the_same_funnel(tmp_path, rows, second):
    lines = _lines(rows)
    part = {"one": [ln for (r, _, _), ln in zip(rows, lines, strict=True) if r not in second],
            "two": [ln for (r, _, _), ln in zip(rows, lines, strict=True) if r in second]}
    whole = _answer(tmp_path, {"crm": lines})
    for name in ("crm", "one", "two"):
        (tmp_path / f"{name}.csv").unlink(missing_ok=True)
    _same(whole, _answer(tmp_path, {k: v for k, v in part.items() if v}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports)
def test_every_rate_is_a_share_inside_its_interval(tmp_path, rows):
    from toolkit.measure.kpis import compute_kpis
    try:
        e = _load_files(tmp_path, {"crm": _lines(rows)})
    except ToolkitError as exc:
        assert "reorder `phases`" in str(exc)  # the only refusal clean rows can meet
        return
    tables = [funnel(e).rename(columns={"rate": "value"}),
              cohort_conversion(e, window_days=30, period="month").rename(columns={"rate": "value"})]
    kpis = compute_kpis(e, seed=1)
    tables.append(kpis[kpis["unit"] == "%"])
    for table in tables:
        has = table["value"].notna()
        assert table.loc[has, "value"].between(0, 1).all()
        bounded = has & table["ci_low"].notna()
        assert (table.loc[bounded, "ci_low"] <= table.loc[bounded, "value"] + 1e-12).all()
        assert (table.loc[bounded, "value"] <= table.loc[bounded, "ci_high"] + 1e-12).all()
        assert table.loc[bounded, "ci_low"].ge(0).all() and table.loc[bounded, "ci_high"].le(1).all()


@settings(max_examples=40, deadline=None)
@given(logs)
def test_a_cohort_window_longer_than_the_data_equals_ever_reached(log):
    # "Infinite" window: longer than any gap in the data, with as_of so late that every cohort is
    # mature. Then converted = reached both phases, and n = reached the first.
    window = 10_000
    e = engagement_from(log, as_of_day=window + 400)
    r = reached_at(e)
    for a, b in zip(KEYS[:-1], KEYS[1:], strict=True):
        c = cohort_conversion(e, from_phase=a, to_phase=b, window_days=window, period="all")
        assert c["immature_n"].sum() == 0
        assert c["n"].sum() == r[a].notna().sum()
        assert c["successes"].sum() == (r[a].notna() & r[b].notna()).sum()
