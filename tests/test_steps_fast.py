"""The steps' fast paths give what the plain pandas call they stand in for gives.

Record positions by Arrow runs, period codes per distinct day, the audit's sort, bulk-timestamp
count and phase lookup, `Cohorts.counts` by (code, state) pairs and the leak rule's won/lost
counts exist for speed only (benchmarks/bench_steps.py; benchmarks/step_results.py checks whole
step results). Each is checked here against the pandas call it replaced, on small random tables
holding the edges: missing values, ties, times before 1970 and on period bounds, rows out of order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.analysis.leakage import leaking_attributes
from toolkit.measure.audit import _as_phases, _in_order, _rows_per_second
from toolkit.measure.cohorts import NAT, period_codes_of, positions
from toolkit.measure.funnel import _period_codes


@pytest.mark.parametrize("seed", range(6))
def test_positions_are_get_indexer(seed):
    rng = np.random.default_rng(seed)
    ids = pd.Index(pd.array([f"D{i}" for i in rng.permutation(40)[:25]], dtype="string"))
    for n in (0, 1, 2, 7, 300):
        values = pd.Series(pd.array([None if rng.random() < 0.1 else f"D{rng.integers(0, 40)}"
                                     for _ in range(n)], dtype="string"))
        in_order = pd.Series(pd.array(np.repeat(ids.to_numpy(), 2), dtype="string"))  # no lookup
        for v in (values, values.sort_values().reset_index(drop=True), in_order):
            assert positions(ids, v).tolist() == ids.get_indexer(v).tolist()
    # ids that are not text, or repeat, go the pandas way (and raise as it does)
    assert positions(pd.Index([3, 1, 2]), pd.Series([1, 5])).tolist() == [1, -1]
    with pytest.raises(Exception, match="unique"):
        positions(pd.Index(pd.array(["a", "a"], dtype="string")),
                  pd.Series(pd.array(["a"], dtype="string")))


@pytest.mark.parametrize("freq", ["M", "Q", "Y", "W"])
def test_period_codes_per_day_are_to_period(freq):
    rng = np.random.default_rng(1)
    ns = rng.integers(-2 * 10**18 // 1000, 2 * 10**18, 2000)  # 1906-2033, any time of day
    ns[:4] = [pd.Timestamp(t).value for t in ("1969-12-31 23:59:59", "1970-01-01",
                                               "2024-03-31 23:59:59.999", "2024-04-01")]
    ns[rng.random(len(ns)) < 0.1] = NAT
    period = {"M": "month", "Q": "quarter", "Y": "year", "W": "week"}[freq]
    codes, uniques = period_codes_of(ns, period)
    want_codes, want = pd.factorize(pd.Series(ns.view("datetime64[ns]")).dt.to_period(freq),
                                    sort=True)
    assert codes.tolist() == want_codes.tolist()
    assert [str(u) for u in uniques] == [str(u) for u in want]
    assert _period_codes(pd.Series(ns.view("datetime64[ns]")), period)[1] == [str(u) for u in want]
    assert period_codes_of(np.array([NAT, NAT]), period)[0].tolist() == [-1, -1]


@pytest.mark.parametrize("seed", range(5))
def test_audit_order_is_a_stable_sort(seed):
    rng = np.random.default_rng(seed)
    for n in (0, 1, 2, 50, 2000):
        frame = pd.DataFrame({"at": rng.integers(-1, 6, n),
                              "time": pd.to_datetime(rng.integers(0, 5, n) * 10**9),
                              "row": rng.integers(0, 3, n)})
        frame.loc[rng.random(n) < 0.2, "time"] = pd.NaT
        for f in (frame, frame.sort_values(["at", "time", "row"], kind="stable")
                  .reset_index(drop=True)):
            want = f.sort_values(["at", "time", "row"], kind="stable").index.to_numpy()
            assert _in_order(f["at"], f["time"], f["row"]).tolist() == want.tolist()


def test_bulk_timestamps_and_phases_are_the_groupby_and_categorical():
    rng = np.random.default_rng(2)
    n = 3000
    log = pd.DataFrame({
        "source": pd.Series(rng.choice(["a", "b", None], n), dtype="string"),
        "record_id": pd.Series(rng.choice(["x", "y"], n), dtype="string"),
        "at": pd.to_datetime(rng.integers(0, 60, n) * 3 * 10**8)})  # 0.3 s apart: shared seconds
    log.loc[rng.random(n) < 0.1, "at"] = pd.NaT
    size = log.groupby(["source", log["at"].dt.floor("s")])["record_id"].transform("size")
    for threshold in (1, 20, 40):
        want = (size >= threshold).fillna(False).to_numpy(dtype=bool)
        assert ((_rows_per_second(log) >= threshold) == want).all()
    target = pd.Series(rng.choice(["lead", "offer", "order", None], n), dtype="string")
    dtype = pd.CategoricalDtype(["lead", "offer", "order"], ordered=True)
    got, want = _as_phases(target, dtype), pd.Categorical(target, dtype=dtype)
    assert got.dtype == want.dtype and got.codes.tolist() == want.codes.tolist()


def _derived_by_crosstab(records: pd.DataFrame, name: str) -> bool:
    """The 'derived from the outcome' rule as first written: a crosstab of the closed records."""
    outcome = records["outcome"].astype("string")
    closed = records[outcome.isin(["won", "lost"]) & records[name].notna()]
    if len(closed) < 20 or closed["outcome"].nunique() < 2:
        return False
    table = pd.crosstab(closed[name].astype("string"), closed["outcome"].astype("string"))
    table = table[table.sum(axis=1) >= 10]
    pure = table[(table.max(axis=1) / table.sum(axis=1)) >= 0.98]
    return bool(len(pure) and pure.to_numpy().sum() >= 0.8 * len(closed)
                and pure.idxmax(axis=1).nunique() > 1)


def test_leak_rule_counts_are_the_crosstab():
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(400):
        n = int(rng.integers(0, 300))
        outcome = rng.choice(["won", "lost", "open", None], n, p=[0.35, 0.45, 0.15, 0.05])
        k = int(rng.integers(1, 6))
        value = np.where(outcome == "won", rng.integers(0, k, n), rng.integers(k, 2 * k, n))
        noisy = rng.random(n) < rng.random() * 0.06  # near the 98% line
        value[noisy] = rng.integers(0, 2 * k, noisy.sum())
        text = np.array([f"v{v}" for v in value], dtype=object)
        text[rng.random(n) < 0.1] = None
        records = pd.DataFrame({"outcome": pd.array(outcome, dtype="string"),
                                "reason": pd.array(text, dtype="string")})
        found = leaking_attributes(records, ["reason"])
        derived = "reason" in found and found["reason"].code == "derived_from_outcome"
        filled = "reason" in found and not derived
        if not filled:
            assert derived == _derived_by_crosstab(records, "reason")
            seen.add(derived)
    assert seen == {True, False}  # both answers were reached


def test_cohort_counts_are_masked_bincounts():
    from test_diagnosis_null import null_company

    from toolkit.measure.cohorts import Cohorts
    fun = Cohorts(null_company(1, n=800), None)
    rng = np.random.default_rng(3)
    for i, j in fun.transitions:
        _, mature, converted = fun.cohort(i, j)
        region, labels = fun.attribute("region")
        months, month_labels = fun.period_codes(i, "month")  # -1: never reached i
        within = rng.random(len(mature)) < 0.3
        for codes, size in ((region, len(labels)), (months, len(month_labels)), (region, 2)):
            for inside in (None, within):
                m = mature if inside is None else mature & inside
                c = converted if inside is None else converted & inside
                ok = codes >= 0
                n, x = fun.counts(i, j, codes, size, within=inside)
                assert n.tolist() == np.bincount(codes[m & ok], minlength=size)[:size].tolist()
                assert x.tolist() == np.bincount(codes[c & ok], minlength=size)[:size].tolist()
        for inside in (None, within):
            m = mature if inside is None else mature & inside
            c = converted if inside is None else converted & inside
            n, x = fun.counts(i, j, within=inside)
            assert (n.tolist(), x.tolist()) == ([int(m.sum())], [int(c.sum())])
