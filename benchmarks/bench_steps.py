"""Benchmark: each method step's time on one engagement, in-process, after a cached load.

    PYTHONPATH=. python benchmarks/bench_steps.py --engagement YAML [--repeat N] [--profile OUT]
                                                  [--steps 5 ...]

Loads the engagement (`Engagement.from_yaml`, using the loader's parquet cache: run once to warm
it), then runs `toolkit.steps.STEPS[1..7]` in order as `steps.run_each` does (each step gets the
earlier results it builds on) and prints each step's seconds, the total and the peak RSS.
`--profile OUT` also writes a cProfile of the steps to OUT (read it with `python -m pstats OUT`).
An engagement that needs `FUNNEL_KEY` (a generated export) needs it in the environment.
A benchmark to run and report, not a timed test.
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engagement", type=Path, required=True, help="engagement YAML")
    parser.add_argument("--repeat", type=int, default=1, help="run the steps this many times")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the steps here")
    parser.add_argument("--steps", type=int, nargs="+", help="only these steps (default all)")
    args = parser.parse_args()

    from toolkit import Engagement
    from toolkit.steps import STEP_KEYS, STEPS, USES

    started = time.perf_counter()
    engagement = Engagement.from_yaml(args.engagement)
    engagement.events  # noqa: B018  (the load itself, outside the steps)
    print(f"load {time.perf_counter() - started:6.2f} s")
    profile = cProfile.Profile() if args.profile else None
    for run in range(args.repeat):
        results, total = {}, 0.0
        for step, function in STEPS.items():
            if args.steps and step not in args.steps:
                continue
            given = {STEP_KEYS[used]: results[used] for used in USES.get(step, ()) if used in results}
            started = time.perf_counter()
            if profile:
                profile.enable()
            results[step] = function(engagement, seed=args.seed, **given)
            if profile:
                profile.disable()
            seconds = time.perf_counter() - started
            total += seconds
            print(f"run {run + 1} step {step} {STEP_KEYS[step]:<14} {seconds:6.2f} s")
        print(f"run {run + 1} steps total {total:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")
    if profile:
        profile.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
