"""Check that a speed change leaves every step's results as they were: dump the results of the
seven steps for many engagements once with the code before the change, then compare after each
change.

    PYTHONPATH=. python benchmarks/step_results.py dump    DIR [--big EXPORT_DIR ...] [-k NAME]
    PYTHONPATH=. python benchmarks/step_results.py compare DIR [--big EXPORT_DIR ...] [--rtol R]

The engagements: the demo, the five real samples as `tests/samples.py` configures them, every case
of the bad-input corpus (`tests/corpus.py`) that loads, two generated companies (the demo logic at
another seed, and the null company of `tests/test_diagnosis_null.py`: no planted effect), and each
`--big` folder (an export with an `engagement.yaml`, e.g. one made by `benchmarks/bench_load.py`;
it needs FUNNEL_KEY in the environment). For each: `steps.run_all(engagement, seed=0)`, and of
every step its tables, summary, sheets, headline, problems, conclusions in English and Dutch and
the tables inside its `results` (or the exception's type and message when loading or a step
raises). Tables compare exactly (dtypes, index and column order included); `--rtol` lets floats
differ by that relative amount (for a change that sums in another order; say so when you use it).
Stored as pickles, which keep every dtype. Needs ../shared (the samples) beside the repository.
Run dump and compare from two checkouts (e.g. `git archive HEAD | tar -x -C /tmp/ref`): the
engagements are built in one fixed folder, so the paths in their tables compare.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from dumps import dump_or_compare, dump_parser, fresh_folder  # noqa: E402

os.environ.setdefault("FUNNEL_KEY", "step-results-check-key-0123456789")
BUILD = Path("/tmp/step_results_cases")  # fixed: paths in messages must compare


def engagements(bigs: list[Path]):
    """(name, function returning the engagement: a YAML path or an Engagement)."""
    from corpus import CASES
    from samples import ENGAGEMENTS, write_sample_engagement

    def folder(name: str) -> Path:
        return fresh_folder(BUILD, name)

    def demo() -> Path:  # copied, so the file paths in its tables compare between checkouts
        shutil.copytree(REPO / "data/demo", folder("demo"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".cache"))
        return BUILD / "demo/engagement.yaml"
    yield "demo", demo
    for name in ENGAGEMENTS:
        yield f"sample_{name}", (lambda n=name: write_sample_engagement(folder(n), n))
    for c in CASES:
        if c.outcome != "error":
            yield f"corpus_{c.name}", (lambda c=c: c.build(folder("case_" + c.name)))
    yield "generated_seed7", _generated
    yield "null_company", _null
    for big in bigs:
        yield f"big_{big.name}", (lambda b=big: b / "engagement.yaml")


def _generated():
    from toolkit import Engagement
    from toolkit.datasets import PHASE_LABELS, PHASES, generate_company
    company = generate_company(n_records=6000, seed=7)
    return Engagement.from_tables(company.events, company.records,
                                  phases=[{"key": k, "label": PHASE_LABELS[k]} for k in PHASES],
                                  as_of=company.as_of, segments=["action", "region", "owner"])


def _null():
    from test_diagnosis_null import null_company
    return null_company(3, n=4000)


def run(made) -> dict:
    from toolkit import Engagement, steps
    from toolkit.base.exceptions import ToolkitError
    try:
        engagement = made if isinstance(made, Engagement) else Engagement.from_yaml(made)
        results = steps.run_all(engagement, seed=0)
    except (ToolkitError, ValueError, OSError) as exc:
        return {"error": (type(exc).__name__, str(exc))}
    except Exception as exc:  # a crash is recorded too (a change may fix one, or cause one)
        return {"error": (f"crash: {type(exc).__name__}", str(exc))}
    out = {}
    for step, result in results.items():
        out[f"{step}.summary"] = result.summary
        out[f"{step}.headline"] = result.headline
        out[f"{step}.problems"] = dict(result.problems)
        out[f"{step}.tables"] = list(result.tables)
        out[f"{step}.sheets"] = list(result.sheets)
        out[f"{step}.figures"] = list(result.figures)
        for name, table in result.tables.items():
            out[f"{step}.table.{name}"] = table
        for name, table in result.sheets.items():
            out[f"{step}.sheet.{name}"] = table
        for name, made in result.results.items():
            for part, table in _frames_in(made):
                out[f"{step}.result.{name}{part}"] = table
        for language in sorted(result.conclusions_by_language):
            out[f"{step}.conclusions.{language}"] = result.conclusions(language)
    return out


def _frames_in(made, depth: int = 0):
    """The tables of a step's result object: itself if a table, else those among its dataclass
    fields, and in lists of dataclasses (e.g. the audit's per-record flags, the fruit's sizing,
    each mix decomposition the diagnosis made)."""
    if isinstance(made, pd.DataFrame):
        yield "", made
    elif dataclasses.is_dataclass(made) and not isinstance(made, type) and depth < 3:
        # a str by its text (a Finding is a str: its sentence compares, not its repr)
        plain = {f.name: repr(str(v) if isinstance(v := getattr(made, f.name), str) else v)
                 for f in dataclasses.fields(made)
                 if isinstance(getattr(made, f.name), int | float | str | np.number | type(None))}
        if plain:  # its numbers and words, exactly (repr keeps every digit of a float)
            yield ".fields", pd.DataFrame([plain])
        for f in dataclasses.fields(made):
            value = getattr(made, f.name)
            if isinstance(value, list | tuple):
                yield f".{f.name}.count", pd.DataFrame({"count": [len(value)]})
                for k, item in enumerate(value):
                    for part, table in _frames_in(item, depth + 1):
                        yield f".{f.name}[{k}]{part}", table
            else:
                for part, table in _frames_in(value, depth + 1):
                    yield f".{f.name}{part}", table


def _frames_differ(was: pd.DataFrame, now: pd.DataFrame, rtol: float) -> str:
    try:
        pd.testing.assert_frame_equal(was, now, check_exact=rtol == 0, rtol=rtol or 1e-5, atol=0,
                                      check_dtype=True, check_categorical=True,
                                      check_column_type=True, check_index_type=True)
        if list(was.columns) != list(now.columns):
            return "column order"
        for col in was.columns:
            a, b = was[col], now[col]
            if isinstance(a.dtype, pd.CategoricalDtype):
                if list(a.cat.categories) != list(b.cat.categories):
                    return f"{col}: categories differ"
            if a.dtype == object:  # same Python types and values inside (str vs float NaN)
                if list(map(type, a)) != list(map(type, b)):
                    return f"{col}: element types differ"
                for x, y in zip(a, b, strict=True):
                    if not _same(x, y, rtol):
                        return f"{col}: {str(x)[:200]} != {str(y)[:200]}"
    except AssertionError as exc:
        return str(exc)[:600]
    return ""


def _same(x, y, rtol: float) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if np.isnan(x) and np.isnan(y):
            return True
        return x == y or (rtol > 0 and abs(x - y) <= rtol * max(abs(x), abs(y)))
    try:
        return bool(x == y) or (x is pd.NA and y is pd.NA) or (pd.isna(x) and pd.isna(y))
    except (TypeError, ValueError):
        return repr(x) == repr(y)


def differences(before: dict, after: dict, rtol: float) -> list[str]:
    if before.keys() != after.keys():
        return [f"keys differ: only before {sorted(set(before) - set(after))[:8]}, only after "
                f"{sorted(set(after) - set(before))[:8]}: {before.get('error') or after.get('error')}"]
    found = []
    for key, was in before.items():
        now = after[key]
        if isinstance(was, pd.DataFrame):
            why = _frames_differ(was, now, rtol)
            if why:
                found.append(f"{key}: {why}")
        elif was != now:
            found.append(f"{key}: {str(was)[:300]} != {str(now)[:300]}")
    return found


def main() -> int:
    parser = dump_parser(__doc__.split("\n")[0])
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative difference allowed in floats (default 0: exact)")
    args = parser.parse_args()
    cases = ((name, build) for name, build in engagements(args.big) if args.k in name)
    return dump_or_compare(args.action, args.dir, cases, lambda build: run(build()),
                           lambda was, now: differences(was, now, args.rtol))

if __name__ == "__main__":
    raise SystemExit(main())
