"""The step results of one `funnel run`, computed once in-process and read by its step notebooks.

`funnel run` runs the seven steps in-process (the workbook and the manifest take their numbers from
them) and then executes the seven notebooks, each of which calls its step. Without this module each
kernel would compute its step again: twice the work, and two computations that could differ. While
:func:`shared_results` is active, a step function called on the same loaded engagement (the same
cache key: the tables `funnel run` pinned for its notebooks) with the same seed and no other option
returns the result already computed.

The results travel to the kernels as a pickle in a private temporary folder (mode 700) that is
removed when the notebooks are done: it holds the client's tables, so it never lands in the report.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from toolkit.base.vocabulary import check_seed
from toolkit.steps.result import StepResult

__all__ = ["RESULTS_ENV", "shared_results", "shared_result", "shared_step"]

#: Set by `funnel run` while its notebooks execute: the path of the run's step results.
RESULTS_ENV = "FUNNEL_RUN_RESULTS"

_FILE = "results.pickle"


@contextlib.contextmanager
def shared_results(engagement, results: Mapping[int, StepResult], *, seed: int) -> Iterator[None]:
    """Offer `results` (computed on `engagement` with `seed`) to the step calls made meanwhile, in
    this process and in the processes it starts. Nothing is offered for an engagement without a
    cache key (its tables cannot be told apart from other tables)."""
    if not engagement.cache_key:
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="funnel-steps-"))
    old = os.environ.get(RESULTS_ENV)
    try:
        with open(folder / _FILE, "wb") as handle:
            pickle.dump({"path": str(engagement.path), "key": engagement.cache_key, "seed": seed,
                         "results": dict(results)}, handle)
        os.environ[RESULTS_ENV] = str(folder / _FILE)
        yield
    finally:
        if old is None:
            os.environ.pop(RESULTS_ENV, None)
        else:
            os.environ[RESULTS_ENV] = old
        shutil.rmtree(folder, ignore_errors=True)


@functools.lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int) -> dict:
    with open(path, "rb") as handle:
        return pickle.load(handle)  # written by shared_results of this run, in a private folder


def shared_result(engagement, step: int, seed: int) -> StepResult | None:
    """The result of `step` that the running `funnel run` computed for this engagement and seed,
    or None (not inside a run, another engagement or seed, or the file is gone)."""
    path = os.environ.get(RESULTS_ENV)
    if not path or not engagement.cache_key:
        return None
    try:
        stored = _load(path, os.stat(path).st_mtime_ns)
    except OSError:
        return None
    if (stored["path"], stored["key"], stored["seed"]) != (
            str(engagement.path), engagement.cache_key, seed):
        return None
    return stored["results"].get(step)


def shared_step(step: int) -> Callable[[Callable[..., StepResult]], Callable[..., StepResult]]:
    """Make a step function return the run's shared result when it is called with the seed only
    (any other option, e.g. another `uplift`, computes afresh)."""
    def decorate(compute: Callable[..., StepResult]) -> Callable[..., StepResult]:
        @functools.wraps(compute)
        def run(engagement, *, seed: int = 0, **options) -> StepResult:
            seed = check_seed(seed)
            if not options and (done := shared_result(engagement, step, seed)) is not None:
                return done
            return compute(engagement, seed=seed, **options)
        return run
    return decorate
