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

from toolkit.io.loading import _decoded, _read_delimited, _read_delimited_arrow, read_table
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
    body, kind = _decoded(data, "cp1252")
    ours = _read_delimited_arrow(body, kind, ";", 1)
    assert ours is not None
    theirs = pd.read_csv(io.StringIO(data.decode("cp1252")), sep=";", dtype=str,
                         keep_default_na=False, na_values=[""], engine="c", header=0,
                         skip_blank_lines=False)
    pd.testing.assert_frame_equal(ours, theirs)


@pytest.mark.parametrize("data", IRREGULAR)
def test_irregular_csv_is_left_to_pandas(data):
    body, kind = _decoded(data, "utf-8")
    assert _read_delimited_arrow(body, kind, ";", 1) is None
    try:
        theirs = pd.read_csv(io.StringIO(data.decode()), sep=";", dtype=str, keep_default_na=False,
                             na_values=[""], engine="c", header=0, skip_blank_lines=False)
    except pd.errors.ParserError:
        with pytest.raises(Exception, match="fields|valid delimited"):
            _read_delimited(body, kind, ";", 1, file="f.csv")
    else:
        pd.testing.assert_frame_equal(_read_delimited(body, kind, ";", 1, file="f.csv"), theirs)


def test_encodings_and_byte_order_marks_read_as_before(tmp_path):
    rows = "Deal;Naam\nD1;Chloë\nD2;Zoë €\n"
    for name, data in {"bom.csv": b"\xef\xbb\xbf" + rows.encode(),
                       "two_boms.csv": b"\xef\xbb\xbf\xef\xbb\xbf" + rows.encode(),
                       "cp1252.csv": rows.encode("cp1252"),
                       "utf16.csv": rows.encode("utf-16")}.items():
        (tmp_path / name).write_bytes(data)
        notes: list[str] = []
        frame = read_table(tmp_path / name, {}, notes=notes)
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


def test_repeated_text_is_trimmed_once_each_as_row_by_row():
    from toolkit.io.loading import as_text
    one = [" Lead", "Lead ", None, "  ", "Offerte  uitgebracht", "", "LEAD"]
    raw = pd.Series([one[i % len(one)] for i in range(5 * len(one))], dtype="str", name="Fase")
    got = as_text(raw)
    assert got.dtype == "string" and got.name == "Fase"
    expected = ["Lead", "Lead", pd.NA, pd.NA, "Offerte  uitgebracht", pd.NA, "LEAD"] * 5
    assert [None if pd.isna(v) else v for v in got] == [
        None if v is pd.NA else v for v in expected]
