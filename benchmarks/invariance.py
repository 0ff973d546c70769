"""Same data, same answer: step 5's findings under a second pseudonymisation key, a row shuffle of
the source and a relabelling of the categories (DESIGN.md, "Same data, same answer").

    python benchmarks/invariance.py [--generated 20] [--size 6000]

runs step 5 on the demo, the five shared samples (../shared/samples; the Pipedrive one also as a
lead list without dates) and ``--generated``
companies of :func:`toolkit.datasets.generate_planted_company` with
:func:`toolkit.datasets.add_real_structure`, each as loaded and under the three changes, and prints
per engagement and change whether the findings stayed the same (and which differ). The helpers
are the ones `tests/test_invariance.py` uses on the smaller engagements; this script adds the two
slow samples (HubSpot's 586-column export, the Pipedrive workbook) and more companies.

A finding is compared by what it says, never by its words: per scan row the attribute, the
segment (by the smallest record id holding it, so that a pseudonym or a new label names the same
segment), the step, n, successes, flagged, the direction of a flag and the judgement code; the
ranked list's areas, segments, steps and sizes in rank order; the verdict; the steps not
scanned.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import csv  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

KEYS = ("first-invariance-key-0123456789", "second-invariance-key-9876543210")
CHANGES = ("second key", "row shuffle", "relabelled")
MISSING = "(missing)"


def _canonical_names(e) -> dict[tuple[str, str], str]:
    """(attribute, value) -> the smallest record id holding it: a name for a segment that no
    pseudonym, label or row order changes."""
    records = e.records
    out = {}
    for name in e.segments:
        if name not in records:
            continue
        values = records[name].astype(object).where(records[name].notna(), MISSING).astype(str)
        first = records["record_id"].astype(str).groupby(values.to_numpy()).min()
        out.update({(name, str(value)): f"#{rid}" for value, rid in first.items()})
    return out


def findings(result, e) -> dict:
    """What step 5 found, by code and value (see the module docstring)."""
    names = _canonical_names(e)

    def segment(attribute, value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        return names.get((str(attribute), str(value)), str(value))

    out: dict = {"problems": sorted(result.problems)}
    scan = result.tables.get("segment scan")
    if scan is not None:
        out["scan"] = sorted(
            (r.attribute, segment(r.attribute, r.segment), r.from_phase, r.to_phase, int(r.n),
             int(r.successes), bool(r.flagged), r.direction if r.flagged else "",
             getattr(r, "judgement", ""))
            for r in scan.itertuples(index=False))
        out["not_scanned"] = sorted(scan.attrs.get("not_scanned", {}))
    fruit = result.results.get("fruit")
    if fruit is not None:
        out["verdict"] = fruit.verdict.case
        out["fruit"] = [
            (r.area, "" if pd.isna(r.attribute) else r.attribute, segment(r.attribute, r.segment),
             "" if pd.isna(r.from_phase) else r.from_phase,
             "" if pd.isna(r.to_phase) else r.to_phase,
             None if pd.isna(r.extra_orders) else round(float(r.extra_orders), 6))
            for r in fruit.table.itertuples(index=False)]
    return out


def differences(a: dict, b: dict) -> list[str]:
    """The parts of two findings that differ, with the first differing entry of each."""
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, list) and isinstance(y, list):
            only_a = [v for v in x if v not in y][:2]
            only_b = [v for v in y if v not in x][:2]
            out.append(f"{key}: {only_a} -> {only_b}" if only_a or only_b
                       else f"{key}: same entries, other order")
        else:
            out.append(f"{key}: {x!r} -> {y!r}")
    return out


# ------------------------------------------------------------------------------- the changes
def relabelled(e):
    """The engagement with every segment attribute's values renamed so that their sorted order is
    reversed (and the records in reverse order): nothing but labels and order change."""
    records = e.records.iloc[::-1].reset_index(drop=True).copy()
    for name in e.segments:
        if name not in records:
            continue
        values = records[name].astype(object)
        known = sorted(values.dropna().astype(str).unique())
        new = {v: f"L{len(known) - k:04d} {hashlib.sha256(v.encode()).hexdigest()[:6]}"
               for k, v in enumerate(known)}
        records[name] = pd.array(values.map(lambda v, new=new: None if pd.isna(v)
                                            else new[str(v)]), dtype="str")
    return _with_records(e, records)


def _with_records(e, records: pd.DataFrame, events: pd.DataFrame | None = None):
    out = copy.copy(e)
    out.__dict__["_loaded"] = dataclasses.replace(
        e._loaded, records=records, events=e.events if events is None else events)
    out.derived = {}
    out.cache_key = None
    return out


def rekeyed(e, key: str, attribute: str = "owner"):
    """Tables with `attribute` pseudonymised again under `key` (what a second key does to values
    that reached the tables already pseudonymised or as names)."""
    if attribute not in e.records:
        return e
    records = e.records.copy()
    secret = key.encode()
    records[attribute] = pd.array(records[attribute].astype(object).map(
        lambda v: None if pd.isna(v) else
        "P-" + hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest()[:10]), dtype="str")
    return _with_records(e, records)


def shuffled_tables(e, seed: int = 1):
    """The events and records in another row order."""
    rng = np.random.default_rng(seed)
    records = e.records.iloc[rng.permutation(len(e.records))].reset_index(drop=True)
    events = e.events.iloc[rng.permutation(len(e.events))].reset_index(drop=True)
    return _with_records(e, records, events)


def _shuffle_csv(source: Path, target: Path, encoding: str, seed: int) -> None:
    text = source.read_bytes().decode(encoding)
    bom = text.startswith("\ufeff")
    text = text.lstrip("\ufeff")
    header_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=header_line.count)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header, body = rows[0], [r for r in rows[1:] if r]
    order = np.random.default_rng(seed).permutation(len(body))
    buffer = io.StringIO(newline="")
    quoting = csv.QUOTE_ALL if header_line.startswith('"') else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body[k] for k in order)
    target.write_bytes((("\ufeff" if bom else "") + buffer.getvalue()).encode(encoding))


def shuffled_source(path: Path, folder: Path, seed: int = 1) -> Path:
    """A copy of the engagement YAML whose CSV sources have their data rows in another order
    (spreadsheets are left as they are: the Pipedrive workbook's "row shuffle" changes nothing;
    the tables-level shuffle of `shuffled_tables` covers the analysis)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    base = path.parent
    for k, source in enumerate(doc.get("sources", [])):
        for part in (source, source.get("records") or {}):
            if not part.get("path"):
                continue
            original = (base / part["path"]).resolve()
            if original.suffix.lower() != ".csv":
                part["path"] = str(original)
                continue
            encoding = part.get("encoding") or source.get("encoding") or "utf-8"
            target = folder / f"{k}-{original.name}"
            _shuffle_csv(original, target, "utf-8-sig" if encoding.lower() in (
                "utf-8", "utf8") else encoding, seed)
            part["path"] = str(target)
    out = folder / path.name
    out.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def pseudonymised_owners(path: Path, folder: Path) -> Path:
    """A copy of the YAML (paths made absolute) with the owners pseudonymised, so a key matters."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for source in doc.get("sources", []):
        for part in (source, source.get("records") or {}):
            if part.get("path"):
                part["path"] = str((path.parent / part["path"]).resolve())
    doc.setdefault("privacy", {})["owner_names"] = "pseudonymise"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / path.name
    out.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


# ------------------------------------------------------------------------------ the runs
def step5(e) -> dict:
    from toolkit.steps import diagnosis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return findings(diagnosis(e, seed=0), e)


def load(path: Path, key: str):
    from toolkit import Engagement
    old = os.environ.get("FUNNEL_KEY")
    os.environ["FUNNEL_KEY"] = key
    try:
        return Engagement.from_yaml(path, use_cache=False)
    finally:
        if old is None:
            os.environ.pop("FUNNEL_KEY", None)
        else:
            os.environ["FUNNEL_KEY"] = old


def yaml_changes(path: Path, folder: Path) -> dict[str, list[str]]:
    """Step 5 on the engagement at `path` and under each change: the differences per change."""
    e = load(path, KEYS[0])
    base = step5(e)
    out = {"second key": differences(base, step5(load(path, KEYS[1]))),
           "row shuffle": differences(base, step5(load(shuffled_source(path, folder), KEYS[0]))),
           "relabelled": differences(base, step5(relabelled(e)))}
    return out


def table_changes(e) -> dict[str, list[str]]:
    """Step 5 on tables (a generated company) and under each change."""
    base = step5(e)
    return {"second key": differences(base, step5(rekeyed(e, KEYS[1]))),
            "row shuffle": differences(base, step5(shuffled_tables(e))),
            "relabelled": differences(base, step5(relabelled(e)))}


def structured_company(seed: int, n_records: int, effect: str | None = None):
    """A generated company with the structure of real exports, as an engagement."""
    from toolkit import Engagement
    from toolkit.datasets import add_real_structure, generate_planted_company
    company = add_real_structure(generate_planted_company(
        effects=(effect,) if effect else (), n_records=n_records, n_phases=4, seed=seed),
        seed=seed)
    return Engagement.from_tables(company.events, company.records,
                                  phases=[{"key": k, "label": k} for k in company.phases],
                                  as_of=company.as_of,
                                  segments=["action", "owner", "team", "office", "region",
                                            "product", "sector"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=20, help="generated companies")
    parser.add_argument("--size", type=int, default=6000, help="records per generated company")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import DEMO, write_salesforce_engagement
    from samples import ENGAGEMENTS, write_sample_engagement
    changed = 0
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"demo": pseudonymised_owners(DEMO / "engagement.yaml", folder / "demo"),
                 "salesforce_opportunity_history": write_salesforce_engagement(
                     (folder / "sf").mkdir() or folder / "sf")}
        for name in ENGAGEMENTS:
            (folder / name).mkdir()
            paths[name] = write_sample_engagement(folder / name, name)
        # the Pipedrive export read as a lead list without dates (tests/test_samples.py)
        (folder / "lead_list").mkdir()
        lead_list = write_sample_engagement(folder / "lead_list", "pipedrive_bec")
        lead_list.write_text(lead_list.read_text().replace("as_of: 2018-06-30\n", "").replace(
            "  preset: pipedrive\n", "  preset: pipedrive\n  dated: false\n"))
        paths["pipedrive_bec (lead list)"] = lead_list
        for name, path in paths.items():
            start = time.perf_counter()
            result = yaml_changes(path, folder / name / "shuffled")
            for change, diff in result.items():
                runs += 1
                changed += bool(diff)
                print(f"{name:32s} {change:12s} {'changed: ' + '; '.join(diff) if diff else 'same'}")
            print(f"{'':32s} ({time.perf_counter() - start:.1f} s)")
        effects = (None, "owner_leak", "source")
        for k in range(args.generated):
            effect = effects[k % len(effects)]
            e = structured_company(1000 + k, args.size, effect)
            for change, diff in table_changes(e).items():
                runs += 1
                changed += bool(diff)
                if diff:
                    print(f"generated {k} ({effect}) {change}: changed: {'; '.join(diff)}")
    print(f"\n{changed} of {runs} runs changed a finding "
          f"({len(paths)} engagements and {args.generated} generated companies, 3 changes each)")
    return 0 if changed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
