"""`funnel kpis`: the KPI table on the terminal or into a CSV or Excel file, in the engagement's
language, n/a with its reason."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from toolkit.base.vocabulary import MISSING as MISSING_SEGMENT
from toolkit.base.vocabulary import stream
from toolkit.cli.terminal import text_table
from toolkit.cli.validate import load_engagement
from toolkit.io.engagement import Engagement
from toolkit.measure.kpis import KPI_COLUMNS, compute_kpis
from toolkit.present.format import MISSING, Formatter, formatter
from toolkit.present.tables import (
    N_,
    Cell,
    DisplayTable,
    attribute_headers,
    attribute_label,
    display_table,
    not_measured,
)
from toolkit.report import write_table
from toolkit.report.sheets import header, in_language, sheet_name


def format_kpis(frame: pd.DataFrame) -> pd.DataFrame:
    """The KPI frame as a consultant reads it: counts as whole numbers, blanks where a count does not
    apply, and words instead of NaN where a value cannot be measured."""

    def number(x: float, unit: str) -> str:
        shown = formatter("en")
        return shown.percent(x) if unit == "%" else shown.number(x, 1)

    def fmt(row: pd.Series) -> str:
        if pd.isna(row.get("value")):
            measured = not_measured(row, formatter("en"))  # the data lack what it needs
            if measured is not None:
                return measured
            why = _no_value(row)
            return "n/a" if why is None else _NO_VALUE[why]
        core = number(row["value"], row["unit"])
        low, high = row.get("ci_low"), row.get("ci_high")
        if pd.notna(low) and pd.notna(high):
            return f"{core} ({number(low, row['unit'])}–{number(high, row['unit'])})"
        if pd.notna(low):  # e.g. a Kaplan-Meier median whose upper bound is not reached
            return f"{core} (from {number(low, row['unit'])}, upper bound not reached)"
        return core

    def count(x: Any) -> str:
        return "" if pd.isna(x) else f"{int(x):,}"

    out = frame.copy()
    for col in KPI_COLUMNS:
        if col not in out:
            out[col] = pd.NA
    out["value (95% CI)"] = out.apply(fmt, axis=1) if len(out) else pd.Series(dtype=object)
    segments = [c for c in out.columns if c not in KPI_COLUMNS and c not in (
        "value (95% CI)", "kpi_owner")]
    if "kpi_owner" in out:  # split by the deal owner (see compute_kpis)
        segments.insert(0, "owner")
    if out["segment"].notna().any():
        segments[:0] = ["attribute", "segment"]
    for col in ("n", "immature_n", "open_n"):
        out[col] = out[col].map(count) if len(out) else out[col]
    out["status_vs_target"] = out["status_vs_target"].fillna("")
    return out[["label"] + segments + ["period", "n", "value (95% CI)", "immature_n", "open_n",
                                       "status_vs_target"]]


def _published_kpis(frame: pd.DataFrame) -> pd.DataFrame:
    """The KPI table in the columns of the published `funnel kpis --out` file, which stays
    byte-identical: no `status_code` (`status_vs_target` says it in words) and one `segment`
    column reading `attribute=value` (the library's table is long: `attribute`, `segment`)."""
    out = frame.drop(columns=["status_code", "attribute", "missing_reason"], errors="ignore")
    # an Arrow or categorical `segment` refuses the joined labels: write them as plain text
    out["segment"] = out["segment"].astype(object)
    long = frame["attribute"].notna()
    out.loc[long, "segment"] = (frame.loc[long, "attribute"].astype(str) + "="
                                + frame.loc[long, "segment"].astype(str))
    return out


#: Why a KPI has no value, by what its row says (English msgids; the catalogue translates them).
_NO_VALUE = {
    "no_closed": N_("no closed deals yet"), "no_mature": N_("no mature records yet"),
    "no_data": N_("no data"), "no_conversions": N_("no conversions yet"),
    "no_won": N_("no won deals yet"), "not_reached": N_("not reached (too few conversions)"),
}


def _no_value(row: pd.Series) -> str | None:
    """Why a KPI row has no value (a key of :data:`_NO_VALUE`), or None when its row says not."""
    n, kind = row.get("n"), row.get("kind")
    if pd.notna(n) and n == 0:
        open_n, immature = row.get("open_n"), row.get("immature_n")
        if kind in ("win_rate", "sales_velocity") and pd.notna(open_n) and open_n:
            return "no_closed"
        return "no_mature" if pd.notna(immature) and immature > 0 else "no_data"
    if kind in ("duration", "sales_velocity") and row.get("successes") == 0:
        return "no_conversions" if kind == "duration" else "no_won"
    if kind == "duration" and pd.notna(n) and n > 0:
        return "not_reached"
    return None


def _missing_kpi_reason(row: pd.Series, fmt: Formatter) -> str:
    """A KPI value that cannot be measured, as "n/a: <why>" in the formatter's language."""
    measured = not_measured(row, fmt)  # the data lack what it needs (no amounts, no lost, ...)
    if measured is not None:
        return measured
    why = _no_value(row)
    if why is None:
        return fmt.gettext("n/a")
    return fmt.gettext("n/a: {reason}").format(reason=fmt.gettext(_NO_VALUE[why]))


def _kpi_table(frame: pd.DataFrame, engagement: Engagement) -> str:
    """The KPI table as `funnel kpis` prints it: in the engagement's language, every number
    through the formatter, a segment column per `--by` attribute, and a reason where a value
    cannot be measured (never NaN)."""
    fmt = formatter(engagement.config.language, currency=engagement.config.currency)
    attributes = attribute_headers(engagement)
    frame = frame.reset_index(drop=True)
    long = frame["attribute"].notna() if "attribute" in frame else pd.Series(False, frame.index)
    shown_segment = frame["segment"].astype(object).where(~long, frame["attribute"].astype(str)
                                                          + "=" + frame["segment"].astype(str))
    by = [c for c in frame.columns if c not in KPI_COLUMNS and c not in ("attribute",
                                                                           "kpi_owner")]
    columns: list[tuple[str, list[str], bool]] = []  # header, cells, numeric

    def add(name: str, source: pd.DataFrame | None = None) -> None:
        table = display_table(frame if source is None else source, [name], fmt=fmt,
                              phases=engagement.phase_model, attributes=attributes)
        if table.headers:
            columns.append((table.headers[0], [r[0].text for r in table.rows], table.numeric[0]))

    add("kpi_label")
    if long.any():
        add("segment_value", frame.assign(segment=shown_segment))
    for name in by:
        columns.append((attribute_label(name, fmt, attributes),
                        [MISSING_SEGMENT if pd.isna(v) else str(v) for v in frame[name]], False))
    # a period's words as the workbook writes them ("all", "as of 2026-10-31", no dates)
    periods = in_language(frame[["period"]], fmt)["period"]
    columns.append((fmt.gettext("Period"), [MISSING if pd.isna(v) else str(v) for v in periods],
                    False))
    add("n")
    add("value_ci")
    header, cells, numeric = columns[-1]
    columns[-1] = (header, [cell if pd.notna(frame.at[i, "value"]) else
                            _missing_kpi_reason(frame.loc[i], fmt)
                            for i, cell in enumerate(cells)], numeric)
    for name in ("target", "status_vs_target", "immature_n"):
        add(name)
    table = DisplayTable(headers=[c[0] for c in columns],
                         rows=[[Cell(c[1][i]) for c in columns] for i in range(len(frame))],
                         numeric=[c[2] for c in columns])
    return text_table(table, indent="")


def _kpi_sheet(frame: pd.DataFrame, engagement: Engagement) -> tuple[pd.DataFrame, str]:
    """The KPI table for `kpis --out x.xlsx` in the engagement's language: the text cells written
    from their codes (as the workbook's KPI sheet), the headers in words, the sheet's name."""
    fmt = formatter(engagement.config.language, currency=engagement.config.currency)
    worded = in_language(frame, fmt, phases=engagement.phase_model,
                         attributes=attribute_headers(engagement))
    worded.columns = [header(c, fmt) for c in worded.columns]
    return worded, sheet_name("KPIs", fmt)


def cmd_kpis(args: argparse.Namespace) -> int:
    engagement = load_engagement(args.engagement)
    frame = compute_kpis(engagement, by=args.by, period=args.period, seed=stream(0, "kpis"))
    if args.out:
        own = engagement.config.benchmarks_file
        inputs = [*engagement.source_files(), *([engagement.path] if engagement.path else []),
                  *([engagement.base_dir / own] if own else [])]
        if str(args.out).lower().endswith(".xlsx"):
            sheet, name = _kpi_sheet(frame, engagement)
            out = write_table(sheet, args.out, sheet=name, inputs=inputs)
        else:  # the CSV is the published machine-readable file: codes and columns as published
            out = write_table(_published_kpis(frame), args.out, inputs=inputs)
        print(f"Wrote {len(frame)} KPI rows to {out}")
        return 0
    print(_kpi_table(frame, engagement))
    return 0


#: The key map's file name beside the engagement YAML (the client folder is git-ignored).
