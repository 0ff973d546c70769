"""The loader's fast paths read every value as the plain pandas path reads it.

The columnar CSV reader, the RE2/NumPy date reader and the per-distinct amount reader exist for
speed only (see benchmarks/bench_load.py); each is checked here against the pandas call it stands
in for, on values chosen to sit on the edges of the rules (one-digit fields, several spaces, 31-02,
two-digit years, non-ASCII digits, quoted line breaks, rows of the wrong width).
"""

from __future__ import annotations

import io
import random

import numpy as np
import pandas as pd
import pytest

from toolkit.io.loading import read_table
from toolkit.io.loading.delimited import _read_delimited_arrow, decoded_body, read_delimited
from toolkit.io.parsing import DATE_CONVENTIONS, _to_datetime, parse_dates, parse_numbers


def _tricky_dates(n: int, seed: int, fmt: str) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        # the format itself, then a one-digit field, a doubled space or an impossible day
        stamp = pd.Timestamp(rng.choice([1970, 1999, 2024, 2068, 2069, 2261]), rng.randint(1, 12),
                             rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))
        written = stamp.strftime(fmt)
        out.append(rng.choice([written, written.replace("0", "", 1), written.replace(" ", "  "),
                               written.replace(f"{stamp.day:02d}", "31", 1), written.lower()]))
        d, m = rng.randint(0, 32), rng.randint(0, 13)
        y = rng.choice([1677, 1678, 1990, 2024, 2261, 2262, 24, 68, 69, 99, 0])
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 62)
        sep = rng.choice("-/.")
        day = rng.choice([f"{d:02d}", f"{d}", f" {d}"])
        month = rng.choice([f"{m:02d}", f"{m}"])
        time = rng.choice(["", f" {h:02d}:{mi:02d}", f" {h}:{mi}:{s}", f"  {h:02d}:{mi:02d}:{s:02d}",
                           f"\t{h:02d}:{mi:02d}", f" {h:02d}:{mi:02d} PM", "T08:01"])
        out.append(f"{day}{sep}{month}{sep}{y}{time}")
        noise = "".join(rng.choice("0123456789-/.: tx") for _ in range(rng.randint(1, 18)))
        out.append(noise)
    return out + ["٠٢-٠١-٢٠٢٤", "02-01-2024\u00a008:01", "29-02-2024", "29-02-2023", "31-04-2025",
                  "02-01-2024 08:01\n", "02-01-2024 08:01 ", "2-1-2024 8:1"]


@pytest.mark.parametrize("fmt", sorted({f for c in ("dmy", "mdy") for f in DATE_CONVENTIONS[c]}))
def test_dates_read_as_pandas_reads_them(fmt):
    text = pd.Series(_tricky_dates(4000, seed=len(fmt), fmt=fmt), dtype="str")
    ours = _to_datetime(text, fmt)
    theirs = pd.to_datetime(text, errors="coerce", format=fmt).astype("datetime64[us]")
    same = (ours == theirs) | (ours.isna() & theirs.isna())
    assert same.all(), text[~same].head().tolist()
    assert theirs.notna().sum() > 1000  # the sample really holds dates of this format


def test_amounts_follow_the_majority_of_rows_not_of_distinct_values():
    # Rows with both separators: one reads 1.000,5 (comma decimal), three read 2,000.5 (point
    # decimal), so the column's decimal is the point (1 of 4 rows, not 1 of 2 distinct values) and
    # "7,5" -- a comma, not before three digits -- is no number with a decimal point.
    raw = pd.Series(["1.000,5", "2,000.5", "2,000.5", "2,000.5", "7,5"], dtype="str")
    parsed = parse_numbers(raw, decimal=None, thousands=None, file="f.csv", column="Bedrag")
    assert parsed.values.iloc[:4].tolist() == [1000.5, 2000.5, 2000.5, 2000.5]
    assert np.isnan(parsed.values.iloc[4])
    assert parsed.problems.iloc[4] == ("unparseable number '7,5' in column 'Bedrag' "
                                       "(decimal 'per value')")


REGULAR = [
    b"Deal;Fase;Datum\r\nD1;Lead;02-01-2024\r\nD2;\"Offerte; met puntkomma\";03-01-2024\r\n",
    b"Deal;Fase;Datum\nD1;\"Lead\nmet regel\";02-01-2024\n\nD2; ;\n;;\n\"\";\"\";\"\"\n",
    b"Deal;Fase;Datum\rD1;ab\"c;1\rD2;\"ab\"c;2",
    "Deal;Fase;Contactpersoon\nD1;Lead;Chloë Çelik €\nD2;Lead;José\n".encode("cp1252"),
]
IRREGULAR = [
    b"Deal;Fase;Datum\nD1;Lead\nD2;Lead;02-01-2024\n",        # a short row: pandas fills it
    b"Deal;Fase;Datum\nD1;Lead;1;extra\n",                   # a long row: pandas' own error
    b"Deal;Fase;Deal\nD1;Lead;D1\n",                         # a repeated header: 'Deal.1'
    b"Deal;;Datum\nD1;Lead;1\n",                             # a blank header: 'Unnamed: 1'
    b"Deal;Fase;Datum\nD1;\"Lead;1\n",                       # a quote never closed
]


@pytest.mark.parametrize("data", REGULAR)
def test_regular_csv_is_read_by_arrow_as_pandas_reads_it(data):
    body, kind = decoded_body(data, "cp1252")
    ours = _read_delimited_arrow(body, kind, ";", 1)
    assert ours is not None
    theirs = pd.read_csv(io.StringIO(data.decode("cp1252")), sep=";", dtype=str,
                         keep_default_na=False, na_values=[""], engine="c", header=0,
                         skip_blank_lines=False)
    pd.testing.assert_frame_equal(ours, theirs)


@pytest.mark.parametrize("data", IRREGULAR)
def test_irregular_csv_is_left_to_pandas(data):
    body, kind = decoded_body(data, "utf-8")
    assert _read_delimited_arrow(body, kind, ";", 1) is None
    try:
        theirs = pd.read_csv(io.StringIO(data.decode()), sep=";", dtype=str, keep_default_na=False,
                             na_values=[""], engine="c", header=0, skip_blank_lines=False)
    except pd.errors.ParserError:
        with pytest.raises(Exception, match="fields|valid delimited"):
            read_delimited(body, kind, ";", 1, file="f.csv")
    else:
        if not isinstance(theirs.index, pd.RangeIndex):
            # pandas takes a first data row with an extra field as "the first column is the
            # index" and shifts every column (issue 25): refused, as the same row further down
            with pytest.raises(Exception, match="row 2: the row has 4 fields"):
                read_delimited(body, kind, ";", 1, file="f.csv")
            return
        pd.testing.assert_frame_equal(read_delimited(body, kind, ";", 1, file="f.csv"), theirs)


def test_encodings_and_byte_order_marks_read_as_before(tmp_path):
    rows = "Deal;Naam\nD1;Chloë\nD2;Zoë €\n"
    for name, data in {"bom.csv": b"\xef\xbb\xbf" + rows.encode(),
                       "two_boms.csv": b"\xef\xbb\xbf\xef\xbb\xbf" + rows.encode(),
                       "cp1252.csv": rows.encode("cp1252"),
                       "utf16.csv": rows.encode("utf-16")}.items():
        (tmp_path / name).write_bytes(data)
        notes: list[str] = []
        frame = read_table(tmp_path / name, notes=notes)
        assert list(frame.columns) == ["Deal", "Naam", "source_row"], name
        assert frame["Naam"].tolist() == ["Chloë", "Zoë €"], name
        assert bool(notes) == (name in ("cp1252.csv", "utf16.csv")), (name, notes)


def test_repeated_dates_read_once_each_as_row_by_row():
    # A creation date repeated on every stage row is read once per distinct value; each row must
    # still get what reading it alone gives: its date, or its own problem.
    one = ["02-01-2024", None, "", "  ", "31-02-2024", "x", "2024-01-05", "45000", "03-01-2024 10:00"]
    raw = pd.Series([one[i % len(one)] for i in range(7 * len(one))], dtype="str")
    parsed = parse_dates(raw, date_format="dmy", file="f.csv", column="Aangemaakt op")
    for i, value in enumerate(raw):
        alone = parse_dates(pd.Series([value], dtype="str"), date_format="dmy", file="f.csv",
                            column="Aangemaakt op")
        for mine, theirs in ((parsed.values.iloc[i], alone.values.iloc[0]),
                             (parsed.problems.iloc[i], alone.problems.iloc[0])):
            assert (pd.isna(mine) and pd.isna(theirs)) or mine == theirs, (value, mine, theirs)
    assert parsed.values.iloc[0] == pd.Timestamp("2024-01-02")
    assert parsed.problems.iloc[1] == "missing date in column 'Aangemaakt op'"


def test_a_column_without_any_date_is_all_missing():
    parsed = parse_dates(pd.Series([None, None, None], dtype="str"), date_format="dmy",
                         file="f.csv", column="Datum")
    assert parsed.values.isna().all()
    assert parsed.problems.tolist() == ["missing date in column 'Datum'"] * 3


def test_text_is_trimmed_and_blanks_become_missing_in_every_repeat():
    # each distinct value is trimmed once and mapped back: every repeat gets the same answer
    from toolkit.io.loading import as_text
    one = [" Lead", "Lead ", None, "  ", "Offerte  uitgebracht", "", "LEAD"]
    raw = pd.Series([one[i % len(one)] for i in range(5 * len(one))], dtype="str", name="Fase")
    got = as_text(raw)
    assert got.dtype == "string" and got.name == "Fase"
    expected = ["Lead", "Lead", pd.NA, pd.NA, "Offerte  uitgebracht", pd.NA, "LEAD"] * 5
    assert [None if pd.isna(v) else v for v in got] == [
        None if v is pd.NA else v for v in expected]


def test_a_file_without_quotes_is_read_as_pandas_reads_it():
    # No double quote anywhere: pyarrow may cut the file at any line end (no value can hold one).
    data = b"Deal;Fase;Datum\r\nD1;Lead;02-01-2024\r\n\r\nD2; ;\r\n;;\r\nD3;Offerte;03-01-2024"
    body, kind = decoded_body(data, "utf-8")
    theirs = pd.read_csv(io.StringIO(data.decode()), sep=";", dtype=str, keep_default_na=False,
                         na_values=[""], engine="c", header=0, skip_blank_lines=False)
    pd.testing.assert_frame_equal(_read_delimited_arrow(body, kind, ";", 1), theirs)


def _stage_rows(seed: int) -> pd.DataFrame:
    """Stage rows as the history loader holds them before ordering: ids whose text order is not
    their number's order ('D10' < 'D9'), times shared by several rows, repeated stage changes,
    attribute values that change, blanks."""
    rng = np.random.default_rng(seed)
    n = 400
    ids = pd.array([f"D{i}" for i in rng.integers(1, 60, n)], dtype="string")
    at = (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D")).to_numpy(copy=True)
    at[rng.random(n) < 0.05] = np.datetime64("NaT")
    owner = pd.array(rng.choice(["Ann", "Bob", None], n, p=[0.6, 0.3, 0.1]), dtype="string")
    return pd.DataFrame({
        "source_row": np.arange(2, n + 2), "_record_id": ids,
        "_record_code": pd.factorize(ids, sort=True)[0], "_at": at,
        "_stage_norm": rng.choice(["lead", "offerte"], n), "owner": owner,
        "_value": np.where(rng.random(n) < 0.3, np.nan, rng.integers(1, 5, n).astype(float))},
        index=rng.permutation(n) * 3)  # labels are not positions


@pytest.mark.parametrize("seed", range(5))
def test_history_rows_ordered_and_deduplicated_as_pandas_does_it(seed):
    from toolkit.io.loading.records import first_row_of, record_order, repeats
    frame = _stage_rows(seed)
    order = record_order(frame)
    expected = frame.sort_values(["_record_id", "_at", "source_row"], kind="stable")
    pd.testing.assert_frame_equal(frame.iloc[order], expected)
    same = ["_record_id", "_stage_norm", "_at"]
    dup, first = repeats(frame, same, order)
    pd.testing.assert_series_equal(dup, frame.duplicated(same, keep="first"),
                                   check_names=False)
    assert dup.sum() > 5  # the sample really has repeats
    pd.testing.assert_series_equal(first, first_row_of(frame, same, frame.index[dup]))


@pytest.mark.parametrize("seed", range(5))
def test_per_record_values_by_position_are_those_of_groupby(seed):
    from toolkit.io.loading.records import Runs, last_value_per_record
    frame = _stage_rows(seed).sort_values(["_record_id", "_at", "source_row"], kind="stable")
    runs = Runs.of(frame["_record_code"].to_numpy())
    by = frame.groupby("_record_id", sort=False)
    last = last_value_per_record(frame, ["owner", "_value"], runs)
    expected = by[["owner", "_value"]].last()
    for col in ("owner", "_value"):
        pd.testing.assert_series_equal(pd.Series(last[col], index=expected.index, name=col),
                                       expected[col])
    least = pd.Series(runs.least(frame["_at"]), index=expected.index, name="_at")
    pd.testing.assert_series_equal(least, by["_at"].min())
    assert frame["_record_id"].iloc[runs.starts].tolist() == expected.index.tolist()


# Ids whose text order is neither the file's nor the number's, in several scripts and cases.
_IDS = ["D10", "D9", "d9", "D2", "10", "9", " D1", "Ä1", "Z1", "é", "e", "Ω", "D100", "D1"]


@pytest.mark.parametrize("storage", ["pyarrow", "python"])
def test_record_ids_ranked_as_sort_values_orders_them(storage):
    # both ways sort_key ranks text: Arrow's ranking, and pandas' factorize for Python strings
    from toolkit.io.loading.records import order_by, sort_key
    rng = np.random.default_rng(3)
    ids = pd.Series(rng.choice(_IDS, 300), dtype=pd.StringDtype(storage))
    assert ids.dtype.storage == storage
    rank = sort_key(ids)
    np.testing.assert_array_equal(rank, pd.factorize(ids, sort=True)[0])
    at = pd.Series((pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 4, 300), "D")
                    ).to_numpy(copy=True))
    at[rng.random(300) < 0.1] = pd.NaT  # missing times sort last, as pandas puts them
    row = rng.permutation(300)
    frame = pd.DataFrame({"id": ids, "at": at, "row": row})
    order = order_by(rank, sort_key(at), row)
    pd.testing.assert_frame_equal(frame.iloc[order],
                                  frame.sort_values(["id", "at", "row"], kind="stable"))


def test_repeated_records_found_by_codes_as_duplicated_finds_them():
    from toolkit.io.loading import Quarantine, ReadingSettings
    from toolkit.io.loading.records import dedupe_records
    rng = np.random.default_rng(4)
    n = 200
    frame = pd.DataFrame({"source_row": np.arange(2, n + 2),
                          "Deal": pd.array(rng.choice(_IDS, n), dtype="string"),
                          "Regio": pd.array(rng.choice(["Noord", "Zuid"], n), dtype="string")},
                         index=rng.permutation(n) * 2)
    frame["_record_id"] = frame["Deal"]
    q = Quarantine("s", "f.csv")
    settings = ReadingSettings(path="f.csv", columns={"record_id": "Deal"},
                               attributes={"region": "Regio"})
    kept = dedupe_records(frame, q, settings, personal=[])
    pd.testing.assert_frame_equal(kept, frame[~frame.duplicated("_record_id", keep="first")])
    out = q.frame().set_index("source_row")
    first = frame.groupby("_record_id")["source_row"].transform("first")
    for label in frame.index[frame.duplicated("_record_id", keep="first")]:
        row = frame.at[label, "source_row"]
        assert out.at[row, "reason"].startswith(
            f"duplicate record id (first at row {first[label]})")
    assert len(out) == n - frame["_record_id"].nunique()


def test_stage_names_with_blanks_mapped_once_each_as_row_by_row():
    from toolkit.base.phases import PhaseModel
    from toolkit.io.loading.outcomes import per_distinct
    model = PhaseModel.from_mapping([{"key": "lead", "label": "Lead"},
                                     {"key": "order", "label": "Order"}],
                                    {"Lead": "lead", "Gewonnen": "won", "Verloren": "lost"})
    stages = pd.Series(["Lead", None, " lead", "Gewonnen", "Raar", None, "Verloren"] * 3,
                       dtype="string", index=np.arange(21) * 5)
    mapped = per_distinct(stages, model.map_stages)
    # (the same values; held as text, as the mapping of a column without blanks always was)
    pd.testing.assert_series_equal(mapped, model.map_stages(stages).set_axis(stages.index),
                                   check_dtype=False)
    unmapped = (stages.isna() | stages.eq("Raar")).fillna(True)  # blank, or not in the mapping
    assert mapped.isna().tolist() == unmapped.tolist() and unmapped.sum() == 9


def test_wide_stage_log_by_positions_is_the_sorted_melt():
    from toolkit.base.phases import PhaseModel
    from toolkit.io.loading import STAGE_LOG_COLUMNS
    from toolkit.io.loading.wide import _wide_log, _wide_states
    model = PhaseModel.from_mapping([{"key": "lead", "label": "Lead"},
                                     {"key": "offer", "label": "Offer"},
                                     {"key": "order", "label": "Order"}],
                                    {"Lead": "lead", "Offerte": "offer", "Gewonnen": "won",
                                     "Verloren": "lost"})
    rng = np.random.default_rng(5)
    n = 120
    ids = pd.array(rng.permutation([f"D{i}" for i in range(n)]), dtype="string")  # D10 < D9
    frame = pd.DataFrame({"source_row": np.arange(2, n + 2), "_record_id": ids},
                         index=rng.permutation(n) * 3)
    targets = {"Won on": "order", "Lead on": "lead", "Lost on": "lost", "Offer on": "offer"}
    stages = {"Lead on": "Lead", "Offer on": "Offerte", "Won on": "Gewonnen",
              "Lost on": "Verloren"}
    day = pd.Timestamp("2024-01-01")
    parsed = {}
    for col in targets:  # few distinct days: ties between columns, ordered by phase
        at = (day + pd.to_timedelta(rng.integers(0, 5, n), "D")).to_numpy(copy=True)
        at[rng.random(n) < 0.4] = np.datetime64("NaT")
        parsed[col] = pd.Series(at, index=frame.index)
    kept = frame.iloc[::2]  # rows set aside after the dates were parsed
    log, rows = _wide_log(kept, parsed, targets, stages, model, "w")
    # what the loader did before: melt, drop the undated cells, sort by record, time, phase
    long = pd.DataFrame({c: parsed[c].loc[kept.index] for c in targets}).assign(
        record_id=kept["_record_id"].astype("string"), source_row=kept["source_row"]).melt(
        id_vars=["record_id", "source_row"], var_name="column", value_name="at").dropna(
        subset=["at"])
    long["target"] = long["column"].map(targets)
    long["source_stage"] = long["column"].map(stages).astype("string")
    long["source"] = "w"
    rank = {k: i for i, k in enumerate(model.keys + ["lost"])}
    long = long.assign(_o=long["target"].map(rank)).sort_values(
        ["record_id", "at", "_o"], kind="stable")
    pd.testing.assert_frame_equal(log, long[STAGE_LOG_COLUMNS].reset_index(drop=True))
    assert (kept["_record_id"].to_numpy()[rows] == log["record_id"].to_numpy()).all()
    # each record's outcome: its last won or lost row (groupby on the ids before)
    state = _wide_states(log, rows, kept, model)
    terminal = log[log["target"].isin(["order", "lost"])]
    last = terminal.groupby("record_id", sort=False).tail(1).set_index("record_id")
    expected = pd.Series(np.where(last["target"] == "order", "won", "lost"), index=last.index
                         ).reindex(state.index).fillna("open")
    assert state["outcome"].tolist() == expected.tolist()
    assert set(expected) == {"won", "lost", "open"}
    pd.testing.assert_series_equal(state["closed_at"], last["at"].reindex(state.index),
                                   check_names=False)


def test_conflicting_attributes_are_counted_as_groupby_counts_them(tmp_path):
    from toolkit.io.loading.records import Runs, note_conflicts
    frame = pd.DataFrame({"_record_id": pd.Series(["A", "A", "A", "B", "B", "C", "C"],
                                                  dtype="string"),
                          "owner": pd.Series(["Ann", None, "Ann", "Bob", "Ann", None, "Cy"],
                                             dtype="string")})
    notes: list[str] = []
    note_conflicts(frame, ["owner"], Runs.of(pd.factorize(frame["_record_id"])[0]),
                    file="h.csv", notes=notes)
    # A: Ann, Ann (one value); B: Bob, Ann (two); C: Cy (one)
    assert notes == ["h.csv: 1 record(s) have more than one value of `owner` (e.g. 'B': 'Bob', "
                     "'Ann'); the latest is used"]


def test_phase_order_grid_holds_each_records_first_entry():
    from toolkit.base.phases import Phase, PhaseModel
    from toolkit.io.loading.order import NOT_ENTERED, _first_entries
    model = PhaseModel(phases=(Phase(key="lead", label="Lead"), Phase(key="offer", label="Offer"),
                               Phase(key="order", label="Order")))
    events = pd.DataFrame({
        "record_id": pd.Series(["B", "A", "B", "A", "B"], dtype="string"),
        "phase": pd.Categorical(["offer", "lead", "offer", "order", "lead"], dtype=model.dtype),
        "entered_at": pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01", None,
                                      "2024-04-01"])})
    grid = _first_entries(events, model)
    day = pd.Timestamp("2024-01-01").value
    assert grid.tolist() == [  # B first (its first row), then A; A's order only undated
        [pd.Timestamp("2024-04-01").value, pd.Timestamp("2024-02-01").value, NOT_ENTERED],
        [day, NOT_ENTERED, NOT_ENTERED]]


def test_lost_at_phase_is_the_highest_phase_entered_before_the_loss():
    from toolkit.base.phases import Phase, PhaseModel
    from toolkit.io.loading import finish_records
    model = PhaseModel(phases=(Phase(key="lead", label="Lead"), Phase(key="offer", label="Offer"),
                               Phase(key="order", label="Order")))
    records = pd.DataFrame({
        "outcome": ["lost", "lost", "won", "lost"],
        "closed_at": pd.to_datetime(["2024-03-01", None, "2024-05-01", "2024-03-01"]),
        "created_at": pd.to_datetime(["2024-01-01"] * 4)},
        index=pd.Index(["A", "B", "C", "D"], dtype="string", name="record_id"))
    events = pd.DataFrame({
        "record_id": pd.Series(["C", "A", "A", "B", "A", "B", "C"], dtype="string"),
        "phase": pd.Categorical(["order", "lead", "offer", "lead", "order", "offer", "lead"],
                                dtype=model.dtype),
        "entered_at": pd.to_datetime(["2024-05-01", "2024-01-05", "2024-02-01", "2024-01-05",
                                      "2024-04-01", "2024-02-01", "2024-01-05"])})
    out = finish_records(records, events, model)
    # A: order was entered after its loss, so offer; B: no close date, so every phase (offer);
    # C is won; D lost without any phase entered
    lost_at = out["lost_at_phase"]
    assert [None if pd.isna(v) else v for v in lost_at] == ["offer", "offer", None, None]
    assert out["lost_at_phase"].dtype == model.dtype


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_dates_read_whatever_string_storage_pandas_is_set_to(storage):
    # Arrow's plain `string` has int32 offsets; the date reader once read them as int64 and raised
    # "cannot reshape array" when pandas stored its strings in Python objects.
    values = pd.Series(["03-01-2025 09:15", "28-02-2024 23:59", None, "31-12-1999 00:00"] * 3)
    with pd.option_context("mode.string_storage", storage):
        parsed = parse_dates(values.astype("string"), date_format="%d-%m-%Y %H:%M", file="f.csv",
                             column="Datum")
    expected = pd.to_datetime(values, format="%d-%m-%Y %H:%M")
    assert parsed.values.tolist() == expected.tolist()


def test_the_demo_opens_from_a_fresh_copy_with_python_string_storage(tmp_path):
    import shutil

    from toolkit.base.paths import DEMO_DIR
    from toolkit.io.engagement import Engagement
    demo = tmp_path / "demo"
    shutil.copytree(DEMO_DIR, demo, ignore=shutil.ignore_patterns(".cache"))
    from toolkit import steps
    with pd.option_context("mode.string_storage", "python"):
        engagement = Engagement.from_yaml(demo / "engagement.yaml", use_cache=False)
        measured = steps.measurement(engagement).tables["kpis"]
    assert len(engagement.records) > 1000 and engagement.events["entered_at"].notna().all()
    # a step computes on it, and measures what it measures with pandas' default strings (Arrow)
    default = steps.measurement(Engagement.from_yaml(demo / "engagement.yaml", use_cache=False))
    columns = ["kpi", "n", "successes", "value", "ci_low", "ci_high", "status_code"]
    assert measured["value"].notna().sum() >= 4
    pd.testing.assert_frame_equal(measured[columns].astype(object),
                                  default.tables["kpis"][columns].astype(object), check_column_type=False)


def test_the_cache_key_covers_every_module_of_the_loader():
    # The loader is a package (toolkit/io/loading/): its modules must be in the cache key too, or
    # a fixed loader is answered from an old cache (a glob of toolkit/io/*.py missed them).
    from pathlib import Path

    from toolkit.io import engagement
    folder = Path(engagement.__file__).parent
    assert folder / "loading" / "reading.py" in engagement._LOADING_CODE
    assert set(folder.rglob("*.py")) <= set(engagement._LOADING_CODE)
