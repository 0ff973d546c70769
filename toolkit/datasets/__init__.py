"""The demo company: a seeded, realistic Dutch B2B CRM with documented, planted problems.

Van Dijk Installatietechniek B.V. is fictional. Trainers teach the method on it, the test-suite checks
the toolkit against its known answers, and the benchmark scales it to a million records.

Two layers:

- the **canonical layer** (`generate_company`): the truth, already in the toolkit's data model
  (`events`, `records`), fully vectorised;
- the **export layer** (`write_demo_exports`): what the client's CRM would hand over, a Dutch-locale
  stage-history CSV and an XLSX snapshot, with realistic dirt, plus the README that is the trainer's
  answer key (`answer_key`).

One module a job: ``demo`` (the demo company's canonical layer), ``answer_key``, ``exports`` (the
CRM's exports of it), ``readme`` (the trainer's answer key as a README), ``planted`` (planted and
null companies for calibrating the diagnosis, with the structure of real exports) and ``shapes``
(a planted company written as real CRMs export, the declared change under a mix shift). Import
the names from the package; `python -m toolkit.datasets DIR` writes the demo's exports.
"""

from __future__ import annotations

from toolkit.datasets.answer_key import AnswerKey, answer_key
from toolkit.datasets.demo import (
    ACTIONS,
    COLD_CALLING,
    COMPANY_NAME,
    EVENT,
    LEAKY_OWNER,
    MAILING,
    NETWORK,
    OWNERS,
    PHASE_LABELS,
    PHASES,
    PRODUCTS,
    REGIONS,
    REPORT_CLAIMS,
    STAGE_MAPPING,
    DemoCompany,
    generate_company,
)
from toolkit.datasets.exports import main, write_demo_exports
from toolkit.datasets.planted import (
    PLANTED_EFFECTS,
    SECTORS,
    PlantedCompany,
    add_real_structure,
    generate_planted_company,
)
from toolkit.datasets.shapes import (
    EXPORT_FAMILIES,
    MIX_CHANGE_DATE,
    MIX_CHANGE_REGIONS,
    generate_mix_shift_change,
    write_planted_export,
)

__all__ = [
    "COMPANY_NAME",
    "PHASES",
    "PHASE_LABELS",
    "ACTIONS",
    "COLD_CALLING",
    "EVENT",
    "MAILING",
    "NETWORK",
    "OWNERS",
    "LEAKY_OWNER",
    "REGIONS",
    "PRODUCTS",
    "STAGE_MAPPING",
    "REPORT_CLAIMS",
    "DemoCompany",
    "AnswerKey",
    "generate_company",
    "answer_key",
    "write_demo_exports",
    "main",
    "PLANTED_EFFECTS",
    "PlantedCompany",
    "generate_planted_company",
    "add_real_structure",
    "SECTORS",
    "EXPORT_FAMILIES",
    "write_planted_export",
    "MIX_CHANGE_REGIONS",
    "MIX_CHANGE_DATE",
    "generate_mix_shift_change",
]
