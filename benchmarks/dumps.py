"""The dump-then-compare loop shared by the checks that a speed change leaves results as they
were (`loaded_tables.py`: the loaded tables; `step_results.py`: the seven steps' results)."""

from __future__ import annotations

import argparse
import pickle
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def fresh_folder(build: Path, name: str) -> Path:
    """An empty folder `build/name` (fixed paths: the paths in messages compare between runs)."""
    folder = build / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def dump_parser(description: str) -> argparse.ArgumentParser:
    """The command line both checks take: `dump|compare DIR [--big EXPORT] [-k NAME]`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("action", choices=["dump", "compare"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--big", type=Path, action="append", default=[])
    parser.add_argument("-k", default="", help="only engagements whose name contains this")
    return parser


def dump_or_compare(action: str, folder: Path, cases: Iterable[tuple[str, Callable]],
                    measure: Callable[[Callable], dict],
                    differences: Callable[[dict, dict], list[str]]) -> int:
    """For each (name, build) case: `measure(build)` and pickle it into `folder` (action 'dump'),
    or compare it with the pickle stored there (action 'compare', printing each difference).
    Returns 1 when a case differs, else 0."""
    folder.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, build in cases:
        started = time.perf_counter()
        result = measure(build)
        seconds = time.perf_counter() - started
        stored = folder / f"{name}.pkl"
        if action == "dump":
            stored.write_bytes(pickle.dumps(result))
            print(f"dumped {name} ({seconds:.1f} s){' error' if 'error' in result else ''}",
                  flush=True)
            continue
        found = differences(pickle.loads(stored.read_bytes()), result)
        bad += bool(found)
        print(f"{'DIFF' if found else 'same'} {name} ({seconds:.1f} s)", flush=True)
        for line in found:
            print("    " + line)
    if action == "compare":
        print("ALL SAME" if not bad else f"{bad} ENGAGEMENTS DIFFER")
    return 1 if bad else 0
