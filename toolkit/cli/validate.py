"""`funnel validate`: the engagement loaded and audited, what is wrong said before a step fails."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from toolkit.cli.new import untouched_template_text
from toolkit.cli.terminal import audit_table
from toolkit.io.engagement import Engagement
from toolkit.io.loading import (
    personal_attributes,
    quarantine_summary,
    resolve_source,
)
from toolkit.measure.audit import AuditResult
from toolkit.measure.audit import audit as run_audit
from toolkit.present.findings import render
from toolkit.present.format import Formatter, formatter
from toolkit.present.tables import code_text
from toolkit.steps import open_engagement


def load_engagement(path: str) -> Engagement:
    return open_engagement(path)


def as_of_text(engagement: Engagement, fmt: str = "") -> str:
    """The measurement date, or what a lead list without dates has instead."""
    if not engagement.dated and engagement.config.as_of is None:
        return "n/a (a lead list without dates)"
    return format(engagement.as_of, fmt) if fmt else str(engagement.as_of)


def _as_of_shown(engagement: Engagement, fmt: Formatter) -> str:
    """The measurement date as the summary prints it, in the formatter's language."""
    if not len(engagement.records):
        return fmt.gettext("n/a (nothing loaded)")
    if not engagement.dated and engagement.config.as_of is None:
        return fmt.gettext("n/a (a lead list without dates)")
    return fmt.date(engagement.as_of)


def _validation(engagement: Engagement, audit: AuditResult) -> dict:
    reasons = quarantine_summary(engagement.quarantine).groupby("reason", sort=False)["rows"].sum()
    return {
        "engagement": engagement.name,
        "as_of": as_of_text(engagement) if len(engagement.records) else "n/a (nothing loaded)",
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


def _pseudonymised(engagement: Engagement) -> dict:
    """Which attributes were pseudonymised and where the key came from (never the key)."""
    columns = sorted({c for s in engagement.config.sources
                      for c in personal_attributes(s, resolve_source(s), engagement.config.privacy)})
    origin = engagement.pseudonym_key.origin if columns else None
    return {"columns": columns, "key_from": origin}


def cmd_validate(args: argparse.Namespace) -> int:
    engagement = load_engagement(args.engagement)
    audit = run_audit(engagement)  # once: at a million records it takes seconds
    report = _validation(engagement, audit)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0 if report["usable"] else 1
    fmt = formatter(engagement.config.language, engagement.config.currency)
    _ = fmt.gettext
    print(_("Engagement {name}: {records} records, {events} phase entries, as of {as_of}").format(
        name=report["engagement"], records=fmt.count(report["records"]),
        events=fmt.count(report["events"]), as_of=_as_of_shown(engagement, fmt)))
    print(_("Sources (rows in = used + quarantined):"))
    for r in report["reconciliation"]:
        ok = "ok" if r["rows_in"] == r["rows_used"] + r["rows_quarantined"] else "MISMATCH"
        print(f"  {Path(r['file']).name}: {fmt.count(r['rows_in'])} = {fmt.count(r['rows_used'])} "
              f"+ {fmt.count(r['rows_quarantined'])}  [{ok}]")
    if report["quarantine_reasons"]:
        print(_("Quarantined rows by reason:"))
        for reason, n in report["quarantine_reasons"].items():
            print(f"  {fmt.count(n):>6}  {reason}")
    outcomes = ", ".join(f"{code_text(k, fmt)} {fmt.count(v)}"
                         for k, v in report["outcomes"].items())
    print(_("Outcomes: {outcomes}").format(outcomes=outcomes or _("none")))
    print(_("Audit of the stage history (records: loaded records with the finding; rows: the rows "
            "concerned, quarantined ones included):"))
    print(audit_table(audit.findings, fmt))
    if report["pseudonymised"]["columns"]:
        print(_("Pseudonymised: {columns} (key from {origin})").format(
            columns=", ".join(report["pseudonymised"]["columns"]),
            origin=report["pseudonymised"]["key_from"]))
    for note in report["notes"]:
        print(_("Note: {note}").format(note=render(note, fmt=fmt)))
    for warning in untouched_template_text(engagement):
        print(_("Warning: {warning}").format(warning=warning))
    if not report["usable"]:
        print(_("Unusable: no row produced a phase entry. See the quarantine reasons above."))
        return 1
    return 0


