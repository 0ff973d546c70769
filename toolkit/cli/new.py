"""`funnel new`: a client engagement folder with a YAML to fill in, and the check that the phases no
longer hold the template's own words."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd
import yaml

from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import (
    CLIENTS_DIR,
    DEMO_ENGAGEMENT,
)
from toolkit.io.engagement import Engagement

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
# Every key: docs/yaml.md of the toolkit. Client data stays in this folder and out of git.
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


def untouched_template_text(engagement: Engagement) -> list[str]:
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


