"""The `funnel` command: start, check, measure and report an engagement."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from toolkit import report
from toolkit.analysis.action_plan import write_plan_file
from toolkit.analysis.run_state import read_run_state
from toolkit.analysis.since import since_last_report
from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import (
    CLIENTS_DIR,
    DEMO_ENGAGEMENT,
    NOTEBOOK_DEFAULT,
    NOTEBOOKS_DIR,
    REPORTS_DIR,
)
from toolkit.base.version import VERSION as __version__
from toolkit.base.vocabulary import MISSING as MISSING_SEGMENT
from toolkit.demo_followup import write_followup
from toolkit.io.config import load_config
from toolkit.io.loading import (
    as_text,
    find_column,
    personal_attributes,
    quarantine_summary,
    read_table,
    resolve_source,
    source_path,
)
from toolkit.io.privacy import pseudonymise, tracked_by_git
from toolkit.measure.audit import audit as run_audit
from toolkit.measure.kpis import KPI_COLUMNS, compute_kpis
from toolkit.present.format import MISSING, Formatter, formatter
from toolkit.present.messages import translations
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
from toolkit.report.loop import find_previous, record_history, render_since
from toolkit.report.sheets import header, in_language, sheet_name
from toolkit.report.training import translated_notebook
from toolkit.steps import open_engagement, run_all

__all__ = ["main"]

# Standard Salesforce opportunity stages onto the method's five phases; the analyst adjusts.
_SALESFORCE_STAGES = {
    "Prospecting": "target", "Qualification": "lead", "Needs Analysis": "opportunity",
    "Value Proposition": "opportunity", "Id. Decision Makers": "opportunity",
    "Perception Analysis": "opportunity", "Proposal/Price Quote": "proposal",
    "Negotiation/Review": "proposal", "Closed Won": "won", "Closed Lost": "lost",
}

_TEMPLATE = """\
# Engagement: {name}
# Fill in the parts marked TODO, then run:  funnel validate {path}
# The YAML reference is in README.md. Client data stays in this folder and out of git.
name: {name}
client: TODO client name
timezone: Europe/Amsterdam
currency: EUR
language: {language}                 # the report's language: nl (Dutch) or en (English)
# as_of: 2026-10-31        # measurement date; default: the latest date in the data
cohort_window_days: 90       # a record converts when it reaches the next phase within this many days

# The commercial process as phases, in order; the LAST phase is the order (won).
# Describe each phase as the method does: functions (roles), tasks, actions, output.
{phases}
# The client's CRM stage names -> a phase key, or won / lost / ignore (case and spaces don't matter).
stage_mapping:
{mapping}
unknown_stages: error        # or: quarantine (unknown stages are then set aside with a reason)

sources:
{sources}

# segments: [lead_source]    # which attributes to scan; default: all attributes of the sources

# report:
#   edition: client          # or training: adds exercises, checks and the method notes
#   attribute_labels:        # how the report names an attribute; default the column header
#     lead_source: Leadbron

# Targets agreed with management (rates as shares: 0.35 = 35%), e.g.
targets: {{}}
#   conversion_lead_opportunity: 0.5
#   orders_per_month: 10
#   revenue_per_year: 1500000

# Personal data: attributes listed under a source's `personal:` (contact name, e-mail, phone) and the
# deal `owner` become keyed pseudonyms on load. The key comes from $FUNNEL_KEY, or a key file outside
# git, or else a private key in ~/.config/funnel-toolkit/ (made on first use).
privacy:
  owner_names: pseudonymise   # `show` only with the client's written consent (employee data)
  # key_file: ~/secure/{name}.key
"""

# The method's five phases as a starting point, named in the report's language (the labels show in
# the report as written; the keys are for the YAML and the targets). In the method potentials
# (suspects) become leads, and leads become opportunities ("kansen"): the third phase is a Kans,
# never "Potentieel". The target phase's actions are the method's own.
_PHASES = {
    "en": """\
phases:
  - key: target
    label: Target (suspects)
    functions: [Marketing officer]
    tasks: [Select which suspects to approach]
    actions: [cold calling, event, mailing, network]
    output: Qualified leads
  - key: lead
    label: Lead
    functions: [Inside sales]
    output: Opportunities
  - key: opportunity
    label: Opportunity
    functions: [Account manager]
    output: Proposals
  - key: proposal
    label: Proposal
    functions: [Account manager]
    output: Orders
  - key: order
    label: Order
    functions: [Sales director]
    output: Revenue""",
    "nl": """\
phases:
  - key: target
    label: Target (suspects)
    functions: [Marketingmedewerker]
    tasks: [Kiezen welke suspects we benaderen]
    actions: [koud bellen, uitnodigen op een evenement, mailen, benaderen via het netwerk]
    output: Gekwalificeerde leads
  - key: lead
    label: Lead
    functions: [Binnendienst verkoop]
    actions: [telefonisch gesprek, intakegesprek]
    output: Kansen
  - key: opportunity
    label: Kans (opportunity)
    functions: [Accountmanager]
    actions: [locatiebezoek, demonstratie, referentiebezoek]
    output: Offertes
  - key: proposal
    label: Offerte (proposal)
    functions: [Accountmanager, Verkoopdirecteur]
    actions: [offertebespreking, nabellen]
    output: Orders
  - key: order
    label: Order
    functions: [Verkoopdirecteur]
    output: Omzet""",
}

_GITIGNORE = """\
# Client data never enters git: only this file and the README may be committed.
*
!.gitignore
"""


def _mapping_lines(stages: dict[str, str], unmapped: list[str]) -> str:
    lines = [f"  {json.dumps(k, ensure_ascii=False)}: {v}" for k, v in stages.items()]
    lines += [f"  # TODO map: {json.dumps(s, ensure_ascii=False)}  (found in the data)"
              for s in unmapped]
    if not lines:
        lines = ["  # TODO: \"CRM stage name\": phase key, won, lost or ignore"]
    return "\n".join(lines)


def _stages_in(path: Path, column: str) -> list[str]:
    try:
        frame = pd.read_csv(path, dtype=str, usecols=[column], encoding="utf-8-sig",
                            sep=None, engine="python")
    except Exception:
        return []
    return sorted({" ".join(s.split()) for s in frame[column].dropna()})


def _relative(path: str, folder: Path) -> str:
    """`path` relative to `folder` (POSIX separators), quoted for YAML when it needs it."""
    rel = Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    return json.dumps(rel) if any(ch in rel for ch in ":#{}[],&*!|>'\"%@`") else rel


def cmd_new(args: argparse.Namespace) -> int:
    folder = Path(args.folder) / args.name if args.folder else CLIENTS_DIR / args.name
    target = folder / "engagement.yaml"
    if target.exists() and not args.force:
        raise ToolkitError(f"{target} already exists. Fix: choose another NAME, or pass --force "
                           f"to overwrite it.")
    folder.mkdir(parents=True, exist_ok=True)
    stages: dict[str, str] = {}
    unmapped: list[str] = []
    if args.preset == "salesforce":
        if not args.history:
            raise ToolkitError("--preset salesforce needs --history OpportunityHistory.csv "
                               "(and optionally --records Opportunity.csv)")
        found = _stages_in(Path(args.history), "StageName")
        stages = {s: p for s, p in _SALESFORCE_STAGES.items() if not found or s in found}
        unmapped = [s for s in found if s not in _SALESFORCE_STAGES]
        # Paths relative to the engagement file (as the loader reads them): the folder can move
        # or be shared without pointing at one machine's disk.
        source = (f"  - name: opportunities\n    shape: history\n    preset: salesforce\n"
                  f"    path: {_relative(args.history, folder)}\n")
        if args.records:
            source += f"    records:\n      path: {_relative(args.records, folder)}\n"
    else:
        source = ("  - name: crm\n    path: TODO export.csv      # relative to this file\n"
                  "    shape: history             # history | wide | snapshot\n"
                  "    # preset: hubspot          # salesforce | hubspot | pipedrive\n"
                  "    date_format: dmy           # dmy (31-12-2025) | mdy (12/31/25) | ymd\n"
                  "    columns: {record_id: TODO, stage: TODO, changed_at: TODO}\n"
                  "    attributes: {}             # segment columns, e.g. {owner: Eigenaar}\n"
                  "    personal: []               # attributes to pseudonymise\n")
    target.write_text(_TEMPLATE.format(name=args.name, path=target, language=args.language,
                                       phases=_PHASES[args.language],
                                       mapping=_mapping_lines(stages, unmapped),
                                       sources=source.rstrip("\n")), encoding="utf-8")
    (folder / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    print(f"Created {target}")
    print("Next:")
    print("  1. describe the client's phases (roles, tasks, actions, output) under `phases`;")
    print("  2. map every CRM stage under `stage_mapping`" + (
        f" ({len(unmapped)} stage(s) found in the data still need a phase)" if unmapped else ""))
    print("  3. point `sources` at the export(s) in this folder;")
    print(f"  4. run: funnel validate {target}")
    return 0


#: The phase texts an analyst writes for the client (roles and outputs are often generic words).
_OWN_WORDS = ("description", "tasks", "actions", "entry_criteria")


def _phase_words(value: object) -> tuple[str, ...]:
    """A phase text as compared: each item trimmed and case-folded, empty for nothing."""
    items = value if isinstance(value, list | tuple) else [] if value is None else [value]
    return tuple(str(item).strip().casefold() for item in items if str(item).strip())


def _template_texts() -> dict[str, dict[str, set[tuple[str, ...]]]]:
    """Per origin ("the `funnel new` template", "the demo engagement") and field, the phase texts
    it holds."""
    origins = {"the `funnel new` template": [phase for text in _PHASES.values()
                                             for phase in yaml.safe_load(text)["phases"]]}
    if DEMO_ENGAGEMENT.is_file():
        origins["the demo engagement"] = yaml.safe_load(
            DEMO_ENGAGEMENT.read_text(encoding="utf-8"))["phases"]
    return {origin: {field: {_phase_words(p.get(field)) for p in phases} - {()}
                     for field in _OWN_WORDS} for origin, phases in origins.items()}


def untouched_template_text(engagement) -> list[str]:
    """One warning per phase whose own texts (description, tasks, actions, entry criteria) are
    still those of the `funnel new` template or the demo: the report would present them to the
    client as the client's process. The demo itself is not warned about its own text."""
    if engagement.path is not None and DEMO_ENGAGEMENT.is_file() and (
            Path(engagement.path).resolve() == DEMO_ENGAGEMENT.resolve()):
        return []
    templates = _template_texts()
    warnings_ = []
    for phase in engagement.config.phases:
        copied: dict[str, list[str]] = {}
        for field in _OWN_WORDS:
            mine = _phase_words(getattr(phase, field, None))
            origin = next((o for o, texts in templates.items() if mine and mine in texts[field]),
                          None)
            if origin:
                copied.setdefault(origin, []).append(field.replace("_", " "))
        for origin, fields in copied.items():
            warnings_.append(
                f"phase {phase.key!r}: its {', '.join(fields)} are still the text of {origin}; "
                f"the report shows them to the client as the client's process. Fix: describe "
                f"the client's own {', '.join(fields)} under `phases` in the engagement YAML")
    return warnings_


def _load(path: str):
    return open_engagement(path)


def _as_of_text(engagement, fmt: str = "") -> str:
    """The measurement date, or what a lead list without dates has instead."""
    if not engagement.dated and engagement.config.as_of is None:
        return "n/a (a lead list without dates)"
    return format(engagement.as_of, fmt) if fmt else str(engagement.as_of)


def _validation(engagement, audit) -> dict:
    reasons = quarantine_summary(engagement.quarantine).groupby("reason", sort=False)["rows"].sum()
    return {
        "engagement": engagement.name,
        "as_of": _as_of_text(engagement) if len(engagement.records) else "n/a (nothing loaded)",
        "records": int(len(engagement.records)),
        "events": int(len(engagement.events)),
        "outcomes": {k: int(v) for k, v in engagement.records["outcome"].value_counts().items()},
        "reconciliation": json.loads(engagement.reconciliation.to_json(orient="records")),
        "quarantine_reasons": {k: int(v) for k, v in reasons.items()},
        "audit": json.loads(audit.findings[["check", "records", "rows", "share"]].to_json(
            orient="records")),
        "notes": engagement.notes,
        "pseudonymised": _pseudonymised(engagement),
        "usable": bool(len(engagement.events) > 0),
    }


def _pseudonymised(engagement) -> dict:
    """Which attributes were pseudonymised and where the key came from (never the key)."""
    columns = sorted({c for s in engagement.config.sources
                      for c in personal_attributes(s, resolve_source(s), engagement.config.privacy)})
    origin = engagement.pseudonym_key.origin if columns else None
    return {"columns": columns, "key_from": origin}


def cmd_validate(args: argparse.Namespace) -> int:
    engagement = _load(args.engagement)
    audit = run_audit(engagement)  # once: at a million records it takes seconds
    report = _validation(engagement, audit)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if report["usable"] else 1
    print(f"Engagement {report['engagement']}: {report['records']} records, {report['events']} "
          f"phase entries, as of {report['as_of']}")
    print("Sources (rows in = used + quarantined):")
    for r in report["reconciliation"]:
        ok = "ok" if r["rows_in"] == r["rows_used"] + r["rows_quarantined"] else "MISMATCH"
        print(f"  {Path(r['file']).name}: {r['rows_in']} = {r['rows_used']} + "
              f"{r['rows_quarantined']}  [{ok}]")
    if report["quarantine_reasons"]:
        print("Quarantined rows by reason:")
        for reason, n in report["quarantine_reasons"].items():
            print(f"  {n:6d}  {reason}")
    print("Outcomes: " + (", ".join(f"{k} {v}" for k, v in report["outcomes"].items()) or "none"))
    print("Audit of the stage history (records: loaded records with the finding; rows: the rows "
          "concerned, quarantined ones included):")
    print(_audit_table(audit.findings))
    if report["pseudonymised"]["columns"]:
        print(f"Pseudonymised: {', '.join(report['pseudonymised']['columns'])} "
              f"(key from {report['pseudonymised']['key_from']})")
    for note in report["notes"]:
        print(f"Note: {note}")
    for warning in untouched_template_text(engagement):
        print(f"Warning: {warning}")
    if not report["usable"]:
        print("Unusable: no row produced a phase entry. See the quarantine reasons above.")
        return 1
    return 0


def _text_table(table: DisplayTable, *, extra: tuple[str, list[str]] | None = None,
                indent: str = "  ") -> str:
    """A shown table as aligned plain text, every row and column (a terminal is no page: nothing
    is cut); numbers right-aligned. `extra` appends a last column of free text (its header and
    one cell per row), left unpadded so a long sentence does not widen the others."""
    headers = list(table.headers)
    rows = [[cell.text for cell in row] for row in table.rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str], last: str | None) -> str:
        parts = [cell.rjust(w) if table.numeric[i] else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(cells, widths, strict=True))]
        if last is not None:
            parts.append(last)
        return (indent + "  ".join(parts)).rstrip()

    head = line(headers, extra[0] if extra else None)
    body = [line(r, extra[1][i] if extra else None) for i, r in enumerate(rows)]
    return "\n".join([head] + body)


def _audit_table(findings: pd.DataFrame) -> str:
    """Every check of the audit with its records, rows, share and meaning."""
    shown = display_table(findings, ["check", "records", "rows", "share"], fmt=formatter("en"))
    return _text_table(shown, extra=("Meaning", [str(m) for m in findings["meaning"]]))


def _format_kpis(frame: pd.DataFrame) -> pd.DataFrame:
    """The KPI frame as a consultant reads it: counts as whole numbers, blanks where a count does not
    apply, and words instead of NaN where a value cannot be measured."""

    def number(x: float, unit: str) -> str:
        shown = formatter("en")
        return shown.percent(x) if unit == "%" else shown.number(x, 1)

    def fmt(row) -> str:
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

    def count(x) -> str:
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


def _kpi_table(frame: pd.DataFrame, engagement) -> str:
    """The KPI table as `funnel kpis` prints it: in the engagement's language, every number
    through the formatter, a segment column per `--by` attribute, and a reason where a value
    cannot be measured (never NaN)."""
    fmt = formatter(engagement.config.language, currency=engagement.config.currency)
    attributes = attribute_headers(engagement)
    context = {"fmt": fmt, "phases": engagement.phase_model, "attributes": attributes}
    frame = frame.reset_index(drop=True)
    long = frame["attribute"].notna() if "attribute" in frame else pd.Series(False, frame.index)
    shown_segment = frame["segment"].astype(object).where(~long, frame["attribute"].astype(str)
                                                          + "=" + frame["segment"].astype(str))
    by = [c for c in frame.columns if c not in KPI_COLUMNS and c not in ("attribute",
                                                                           "kpi_owner")]
    columns: list[tuple[str, list[str], bool]] = []  # header, cells, numeric

    def add(name: str, source: pd.DataFrame | None = None) -> None:
        table = display_table(frame if source is None else source, [name], **context)
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
    return _text_table(table, indent="")


def _kpi_sheet(frame: pd.DataFrame, engagement) -> tuple[pd.DataFrame, str]:
    """The KPI table for `kpis --out x.xlsx` in the engagement's language: the text cells written
    from their codes (as the workbook's KPI sheet), the headers in words, the sheet's name."""
    fmt = formatter(engagement.config.language, currency=engagement.config.currency)
    worded = in_language(frame, fmt, phases=engagement.phase_model,
                         attributes=attribute_headers(engagement))
    worded.columns = [header(c, fmt) for c in worded.columns]
    return worded, sheet_name("KPIs", fmt)


def cmd_kpis(args: argparse.Namespace) -> int:
    engagement = _load(args.engagement)
    frame = compute_kpis(engagement, by=args.by, period=args.period)
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
KEY_MAP_NAME = "pseudonym-key-map.csv"


def _key_map(engagement) -> pd.DataFrame:
    """Every pseudonym of the engagement's sources with the name it stands for: `attribute,
    pseudonym, name` (a person spelled two ways is one pseudonym: the first spelling is kept)."""
    parts = []
    for source in engagement.config.sources:
        settings = resolve_source(source)
        personal = personal_attributes(source, settings, engagement.config.privacy)
        files = [(settings, settings.get("attributes") or {})]
        if settings.get("records"):
            files.append(({**settings, **settings["records"]},
                          settings["records"].get("attributes") or {}))
        for reading, attributes in files:
            wanted = {name: head for name, head in attributes.items() if name in personal}
            if not wanted:
                continue
            path = source_path(engagement.base_dir, reading["path"])
            raw = read_table(path, reading)
            for name, head in wanted.items():
                column = find_column(raw, head, role=name, file=str(path),
                                     key=f"sources[{source.name}].attributes")
                names = as_text(raw[column]).dropna()
                parts.append(pd.DataFrame({
                    "attribute": name, "name": names.str.strip().to_numpy(),
                    "pseudonym": pseudonymise(names, engagement.pseudonym_key).to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["attribute", "pseudonym", "name"])
    found = pd.concat(parts, ignore_index=True).drop_duplicates(["attribute", "pseudonym"])
    return found.sort_values(["attribute", "name"], kind="stable")[["attribute", "pseudonym",
                                                                    "name"]]


def _refuse_key_map_place(out: Path) -> None:
    """The key map holds names: never in a report folder (it is handed to the client) nor where
    git would commit it."""
    folder = out.resolve().parent
    in_reports = REPORTS_DIR.resolve() in (folder, *folder.parents)
    if in_reports or any((f / "manifest.json").is_file() for f in (folder, *folder.parents)):
        raise ToolkitError(f"{out} is inside a report folder, which is handed to the client; the "
                           f"key map holds names. Fix: write it beside the engagement YAML (the "
                           f"default) or into another private folder.")
    repo = tracked_by_git(out.resolve())
    if repo is not None:
        raise ToolkitError(f"{out} is inside the git work tree {repo} and not ignored, so the names "
                           f"could be committed. Fix: write it into the client's folder under "
                           f"data/clients/ (ignored) or add the file to .gitignore.")


def cmd_reveal(args: argparse.Namespace) -> int:
    engagement = _load(args.engagement)
    out = Path(args.out) if args.out else engagement.base_dir / KEY_MAP_NAME
    _refuse_key_map_place(out)
    table = _key_map(engagement)
    write_table(table, out)
    print(f"Wrote {len(table)} pseudonym(s) with their names to {out} (private: keep it out of "
          f"reports and e-mail; the key is from {engagement.pseudonym_key.origin})")
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    path = Path(args.engagement).resolve() if args.engagement else DEMO_ENGAGEMENT
    language = args.language or load_config(path).language
    out = Path(args.out) if args.out else REPORTS_DIR / f"notebooks-{language}"
    if out.resolve() == NOTEBOOKS_DIR.resolve():
        raise ToolkitError(f"--out {out} is the notebooks' own folder, whose originals stay in "
                           f"English. Fix: give another folder.")
    out.mkdir(parents=True, exist_ok=True)
    gettext = translations(language).gettext
    written = 0
    for source in sorted(NOTEBOOKS_DIR.glob("0[1-7]_*.ipynb")):
        notebook = translated_notebook(json.loads(source.read_text(encoding="utf-8")), language,
                                       gettext)
        if args.engagement:  # the parameters cell's default: this engagement, by its full path
            for cell in notebook["cells"]:
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    cell["source"] = [line.replace(json.dumps(NOTEBOOK_DEFAULT), json.dumps(
                        str(path))) for line in cell["source"]]
        (out / source.name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
        written += 1
    print(f"Wrote {written} notebooks in {'Dutch' if language == 'nl' else 'English'} to {out}")
    return 0


def _print_baseline(engagement, results) -> None:
    """The baseline funnel of step 1 and the KPI values of step 3, as a consultant reads them."""
    print(f"\n== {engagement.config.client or engagement.name}: baseline funnel "
          f"(as of {_as_of_text(engagement, '%Y-%m-%d')}) ==")
    f = results[1].results["funnel"]
    if f is None:
        print(f"  no funnel: {results[1].problems.get('funnel', '')}")
    for row in f.itertuples() if f is not None else ():
        step = ("" if pd.isna(row.rate) else
                f"   step {formatter('en').interval(row.rate, row.ci_low, row.ci_high):>20s}, "
                f"open {int(row.open)}, lost {int(row.lost)}")
        print(f"  {row.label:28s} {row.reached:7d}{step}")
    print("\n== KPIs (cohort conversions: mature cohorts only; 95% intervals) ==")
    with pd.option_context("display.width", 200, "display.max_colwidth", 48):
        print(_format_kpis(results[3].results["values"]).to_string(index=False))


def _steps(text: str) -> list[int]:
    steps: set[int] = set()
    bad: list[object] = []
    for part in text.split(","):
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                bad += [x for x in (a, b) if not 1 <= x <= 7]  # before a range of billions is made
                steps.update(range(max(a, 1), min(b, 7) + 1))
            elif part.strip():
                steps.add(int(part))
        except ValueError:
            bad.append(part)
    bad += sorted(s for s in steps if not 1 <= s <= 7)
    if bad or not steps:
        raise argparse.ArgumentTypeError(f"steps must be within 1-7, like '1-7' or '4,5'; got "
                                         f"{text!r}")
    return sorted(steps)


def _print_headlines(results) -> None:
    """Each step's headline, its numbers written by the one formatter as the report writes them
    (a p-value reads 'p = 0.012' here, in a figure, a table and on a page)."""
    print("\n== What the steps found ==")
    for step, result in sorted(results.items()):
        print(f"  {step}. {result.headline}")


def cmd_run(args: argparse.Namespace) -> int:
    engagement = _load(args.engagement)
    results: dict = {}  # the report's step results, for the action plan of step 6
    code = _run(args, engagement, kept=results)
    actions = results[6].results.get("action_plan") if 6 in results else None
    if actions is not None and code == 0:
        _write_action_plan(engagement, actions)
    return code


def _write_action_plan(engagement, actions) -> None:
    """Write plan.yaml beside the engagement YAML when absent (a plan the consultant edited keeps
    its statuses and start dates; new actions are appended). The demo's folder is the toolkit's
    own: its plan is shown, never written there. A folder that cannot be written is said, the
    report stands."""
    if Path(engagement.path).resolve() == DEMO_ENGAGEMENT.resolve():
        return
    try:
        print(f"Action plan: {write_plan_file(engagement, actions)}")
    except OSError as error:
        print(f"Warning: the action plan could not be written beside {engagement.path} "
              f"({error.strerror or error.__class__.__name__}); the report shows it. Fix: make "
              f"the engagement's folder writable and run again", file=sys.stderr)


def _run(args: argparse.Namespace, engagement, results=None, kept: dict | None = None) -> int:
    """`funnel run` on a loaded engagement; `results`: step results already computed; `kept`: a
    dict the report's step results are put in."""
    if not engagement.dated and args.notebooks:
        # The step notebooks measure in months and days; a lead list has no dates. Say so before
        # starting seven kernels, with what the report without notebooks gives instead.
        raise ToolkitError(
            f"{args.engagement}: `funnel run --notebooks` executes the step notebooks, whose "
            f"monthly cohorts, durations and steering need dates, and this engagement is a lead "
            f"list without dates (`dated: false`). Fix: run `funnel run {args.engagement}` "
            f"without --notebooks (the report says per step what needs dates), or load an export "
            f"with a creation date per record")
    # the consultant's, not the client's; the demo's follow-up is the demo's own text
    for warning in ([] if getattr(args, "demo_followup", False)
                    else untouched_template_text(engagement)):
        print(f"Warning: {warning}", file=sys.stderr)
    path = Path(args.engagement).resolve()
    out = Path(args.out) if args.out else (REPORTS_DIR / report.file_name(engagement.name)
                                           / date.today().isoformat())
    started = time.perf_counter()
    # the previous run, by the rule of toolkit.report.loop: --since, else this --out, else the
    # newest sibling report of the same engagement
    found = None if getattr(args, "no_previous", False) else find_previous(
        out, engagement.name, since=getattr(args, "since", None),
        as_of=engagement.as_of if engagement.dated else None)
    result = report.build_report(engagement, engagement_path=path, out_dir=out, steps=args.steps,
                                 progress=not args.quiet, edition=args.edition,
                                 language=args.language, notebooks=args.notebooks, pdf=args.pdf,
                                 results=results, kept=kept,
                                 previous=None if found is None else found[0])
    print(f"Report: {result['index']}")
    # one line per run in report-history.csv beside the report folder (toolkit.analysis.history)
    record_history(Path(result["index"]).parent)
    if found is not None:
        print(f"Since the last report ({found[1]}): {Path(result['index']).parent / 'since.html'}")
    if "pdf" in result:
        print(f"PDF: {result['pdf']}")
    print(f"Workbook: {result['workbook']}")
    if "notebooks" in result:
        print(f"Notebooks: {result['notebooks']}")
    print(f"Manifest: {result['manifest']}")
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    engagement = _load(str(DEMO_ENGAGEMENT))
    # the steps once: the baseline printed here and the report are the same results
    results = run_all(engagement, steps=[1, 3] if args.baseline_only else None)
    _print_baseline(engagement, results)
    if args.baseline_only:
        return 0
    _print_headlines(results)
    args.engagement = str(DEMO_ENGAGEMENT)
    args.no_previous = True  # the first report is the first: never compared with a later one
    kept: dict = {}
    code = _run(args, engagement, results, kept=kept)
    if code != 0 or args.no_followup:
        return code
    return _demo_followup(args, engagement, kept)


def _demo_followup(args: argparse.Namespace, first, results: dict) -> int:
    """The demo six months later: its export written beside the first report (the consultant's
    plan with two actions started), and its report with the page "Since the last report"
    against the first (toolkit.demo_followup)."""
    out = Path(args.out) if args.out else (REPORTS_DIR / report.file_name(first.name)
                                           / date.today().isoformat())
    plan = results[6].results.get("action_plan") if 6 in results else None
    paths = write_followup(out.parent / f"{out.name}-followup-export", first=first, plan=plan)
    print(f"\n== Six months later: a second export ({paths['engagement'].parent}) ==")
    second = _load(str(paths["engagement"]))
    follow = argparse.Namespace(**{**vars(args), "engagement": str(paths["engagement"]),
                                   "out": str(out.parent / f"{out.name}-followup"),
                                   "since": str(out), "no_previous": False,
                                   "demo_followup": True})
    return _run(follow, second)


def cmd_compare(args: argparse.Namespace) -> int:
    """`funnel compare OLD_RUN NEW_RUN`: the page "Since the last report" for any two runs, from
    their run states alone, into a folder of its own (never into a report folder)."""
    old, new = Path(args.old).resolve(), Path(args.new).resolve()
    previous, current = read_run_state(old), read_run_state(new)
    out = Path(args.out) if args.out else new.parent / f"{new.name}-since-{old.name}"
    if out.resolve() in (old, new) or (out / ".funnel-report").exists():
        raise ToolkitError(f"{out} is a report folder; `funnel compare` writes its page into a "
                           f"folder of its own. Fix: pass another --out")
    out.mkdir(parents=True, exist_ok=True)
    language = args.language or "nl"
    page = render_since(out, since_last_report(previous, current), current, language=language,
                        edition=args.edition or "client",
                        index=os.path.relpath(new / "index.html", out.resolve()))
    print(f"Since the last report: {page}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funnel", description="Optimise a commercial process: from suspect to order, "
                                   "measured right. Seven steps, one engagement YAML.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("new", help="start a client engagement from a commented template",
                       description="Create data/clients/NAME/engagement.yaml and a .gitignore.")
    p.add_argument("name", metavar="NAME", help="engagement name, e.g. acme-2026")
    p.add_argument("--preset", choices=["salesforce"], help="fill in a CRM preset")
    p.add_argument("--history", help="stage-history export (for --preset)")
    p.add_argument("--records", help="per-record export, e.g. Salesforce Opportunity.csv")
    p.add_argument("--folder", help="parent folder (default: data/clients)")
    p.add_argument("--force", action="store_true", help="overwrite an existing engagement.yaml")
    # Dutch by default: the method and its consultants are Dutch, so a report for a Dutch client
    # needs no flag; `--language en` for a client who reads English.
    p.add_argument("--language", choices=["nl", "en"], default="nl",
                   help="the report's language written into the YAML: nl (Dutch, default) or en; "
                        "the phase labels of the template are in it too")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("validate", help="load, reconcile and audit an engagement",
                       description="Load every source, reconcile rows in = used + quarantined, "
                                   "audit the stage history. Exits 1 when unusable.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("kpis", help="compute the KPI table",
                       description="Compute every KPI with n and a 95% interval.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--by", metavar="ATTR", help="split by a segment attribute")
    p.add_argument("--period", choices=["month", "quarter", "year"], help="split by period")
    p.add_argument("--out", metavar="FILE.csv|.xlsx", help="write the table to a file")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("reveal", help="write the private map from pseudonyms back to names",
                       description="Write pseudonym -> name for every pseudonymised attribute "
                                   "(the owner, the sources' `personal:` columns) to a CSV for "
                                   "the consultant: beside the engagement YAML by default, never "
                                   "into a report folder or a folder git would commit.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--out", metavar="FILE.csv",
                   help="where to write it (default: pseudonym-key-map.csv beside the YAML)")
    p.set_defaults(func=cmd_reveal)

    p = sub.add_parser("notebooks", help="write the seven notebooks in a language",
                       description="Write the seven step notebooks with their text (method notes, "
                                   "exercises, model answers) in the engagement's language, from "
                                   "the report's catalogue; the code stays as it is. Given an "
                                   "engagement, its path becomes the notebooks' default.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml", nargs="?",
                   help="the engagement the notebooks open (default: the demo)")
    p.add_argument("--language", choices=["nl", "en"],
                   help="default: the engagement's language (the demo's: nl)")
    p.add_argument("--out", metavar="FOLDER", help="where to write them (default: "
                   "reports/notebooks-<language>; never over the notebooks/ originals)")
    p.set_defaults(func=cmd_notebooks)

    for name, help_text in (("run", "run the seven steps and render the report"),
                            ("demo", "run the whole method on the demo company")):
        p = sub.add_parser(name, help=help_text, description=help_text.capitalize() + ".")
        if name == "run":
            p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
        else:
            p.add_argument("--baseline-only", action="store_true",
                           help="print the baseline funnel and KPIs, skip the report")
        p.add_argument("--steps", type=_steps, default=list(range(1, 8)), metavar="1-7",
                       help="which steps to run, e.g. 1-7 or 4,5 (default all)")
        p.add_argument("--out", metavar="DIR",
                       help="output folder (default reports/<engagement>/<date>/)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--edition", choices=["client", "training"],
                       help="client: for the board; training: adds exercises, checks and method "
                            "notes (default: the YAML's report.edition; the demo's is training)")
        p.add_argument("--language", choices=["nl", "en"],
                       help="the report's language (default: the YAML's `language`)")
        p.add_argument("--pdf", action="store_true",
                       help="also print the report to one PDF (headless Chromium, offline)")
        p.add_argument("--notebooks", action="store_true",
                       help="also execute the seven step notebooks into <out>/notebooks "
                            "(slower; the report is rendered from the step results either way)")
        if name == "run":
            p.add_argument("--since", metavar="PREVIOUS_REPORT_FOLDER",
                           help="compare with this earlier report (page 'Since the last "
                                "report'); default: the report already in --out, else the "
                                "newest report of the same engagement beside it")
        else:
            p.add_argument("--no-followup", action="store_true",
                           help="skip the demo's second export six months later (the page "
                                "'Since the last report')")
        p.set_defaults(func=cmd_run if name == "run" else cmd_demo)

    p = sub.add_parser("compare", help="the page 'Since the last report' for any two runs",
                       description="Compare two report folders written by `funnel run` (their "
                                   "run-state.json.gz): the started actions, the scorecard then "
                                   "and now, findings new or gone, records added, removed or "
                                   "restated.")
    p.add_argument("old", metavar="OLD_RUN", help="the earlier report folder")
    p.add_argument("new", metavar="NEW_RUN", help="the later report folder")
    p.add_argument("--out", metavar="DIR",
                   help="where to write since.html (default: NEW_RUN-since-OLD_RUN beside it)")
    p.add_argument("--language", choices=["nl", "en"], help="the page's language (default nl)")
    p.add_argument("--edition", choices=["client", "training"], help="default client")
    p.set_defaults(func=cmd_compare)
    return parser


def _run_with_notes(args: argparse.Namespace) -> int:
    """Run a command; Python warnings become one `Note:` line each (the message, not a source
    line or stack level a CLI user cannot act on), printed once after the command's output."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = args.func(args)
    seen: set[str] = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.add(text)
            print(f"Note: {_terminal_safe(text)}", file=sys.stderr)
    return code


# Control characters from the data (ESC starts a terminal escape sequence that can recolour,
# retitle or rewrite the screen) are shown as \x.. escapes, never sent to the terminal; so are the
# direction controls (a right-to-left override makes "exe.txt" read as "txt.exe") as \u.. escapes.
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                               r"\u2066-\u2069]")


def _terminal_safe(text: str) -> str:
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                 else f"\\u{ord(m.group()):04x}", text)


class _SafeStream:
    """A text stream that passes everything but control characters on to `stream`."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(_terminal_safe(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def command() -> int:
    """The `funnel` command on a terminal: `main`, with Python's garbage collector told to leave
    alone what will not become garbage.

    The libraries' objects (pandas, scipy, matplotlib: millions) are frozen once imported, so a
    full collection during the run does not walk them; and what the run made is frozen when it
    ends, so Python's exit does not walk it all in a last collection (about 0.4 s). Freezing
    only takes the objects that exist at that moment out of the cycle collector's sight: memory
    freed by reference counting is freed as before.
    """
    gc.freeze()
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with contextlib.redirect_stdout(_SafeStream(sys.stdout)):
            return _run_with_notes(args)
    except BrokenPipeError:
        # `funnel kpis ... | head` closed the pipe: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ToolkitError as exc:
        print(f"error: {_terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}. Fix: check the path.", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine, not the toolkit: a read-only folder, a full disk
        # a write that fails on a full disk names no file: name the output the command writes
        target = exc.filename or getattr(args, "out", None)
        where = f" {target}" if target else ""
        print(f"error: cannot write or read{where}: {exc.strerror or exc}. Fix: check that the "
              f"folder exists and is writable and that the disk has room (or pass another "
              f"--out).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left in place (a report is built in "
              "<out>.partial and only moved into place when complete)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in the toolkit: say so plainly, keep the traceback for the team
        log = _write_crash_log(argv)
        print(f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in the toolkit, not in "
              f"your data or YAML. The traceback is in {log}; please send it to the toolkit team "
              f"(read it first: messages can quote values from the data).", file=sys.stderr)
        return 3


def _write_crash_log(argv: list[str] | None) -> Path:
    import tempfile
    import traceback
    fd, name = tempfile.mkstemp(prefix="funnel-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"funnel {' '.join(argv if argv is not None else sys.argv[1:])}\n\n")
        handle.write(traceback.format_exc())
    return Path(name)


if __name__ == "__main__":
    raise SystemExit(main())
