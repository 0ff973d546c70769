"""The step results of one `funnel run`, handed to its step notebooks explicitly.

`funnel run` runs the seven steps in-process (the workbook and the manifest take their numbers from
them) and then executes the seven notebooks, each of which calls its step. Without this module each
kernel would compute its step again: twice the work, and two computations that could differ.

The hand-over is explicit, never through the environment: `funnel run` writes its results with
:func:`run_file` and passes the file's path to each notebook as its papermill parameter `run`; the
notebook opens its engagement with ``open_engagement(path, run=run)``. That engagement reads the
tables the run loaded (the run's cache key, pinned: a source changed during the run cannot give a
report that mixes two datasets), and its step calls with the run's seed and no other option
return the run's results. A step called on any other engagement object computes, inside a run
or not.

The file is a pickle in a private temporary folder (mode 700), removed when the notebooks are
done: it holds the client's tables, so it never lands in the report.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import check_seed
from toolkit.io.engagement import Engagement
from toolkit.steps.result import StepResult

__all__ = ["attach_run", "read_run", "run_file", "shared_result", "shared_step"]

_FILE = "results.pickle"

# The engagements opened with a run's file (open_engagement(..., run=...)), and that run.
_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
@shared_docs
def run_file(engagement: Engagement, results: Mapping[int, StepResult], *, seed: int) -> Iterator[str]:
    """Write `results` for the notebooks of this run and yield the file's path.

    Parameters
    ----------
    {shared.engagement}
    results : mapping of int to StepResult
        The run's step results, computed on `engagement` with `seed`.
    seed : int
        The seed they were computed with.

    Yields
    ------
    str
        The file's path (a private temporary folder, removed afterwards); '' for an
        engagement without a cache key (its tables cannot be told apart from other tables, so
        the notebooks compute).
    """
    if not engagement.cache_key or not engagement.yaml_sha256:
        yield ""
        return
    folder = Path(tempfile.mkdtemp(prefix="funnel-steps-"))
    try:
        with open(folder / _FILE, "wb") as handle:
            pickle.dump({"path": str(engagement.path), "key": engagement.cache_key,
                         "yaml": engagement.yaml_sha256, "seed": seed,
                         "results": dict(results)}, handle)
        yield str(folder / _FILE)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@functools.lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int) -> dict:
    with open(path, "rb") as handle:
        return pickle.load(handle)  # written by run_file of this run, in a private folder


def read_run(path: str | os.PathLike) -> dict | None:
    """The run written by :func:`run_file` at `path`.

    Parameters
    ----------
    path : str or PathLike
        The file `run_file` yielded.

    Returns
    -------
    dict or None
        Its engagement path, cache key, YAML hash, seed and results; None when the file is gone
        (the run ended).
    """
    try:
        return _load(str(path), os.stat(path).st_mtime_ns)
    except OSError:
        return None


@shared_docs
def attach_run(engagement: Engagement, run: dict) -> None:
    """Let `engagement` (opened on the run's pinned tables) answer its step calls from `run`.

    Parameters
    ----------
    {shared.engagement}
    run : dict
        What :func:`read_run` returned.
    """
    _RUNS[engagement] = run


@shared_docs
def shared_result(engagement: Engagement, step: int, seed: int) -> StepResult | None:
    """The result of `step` that the run this engagement was opened with computed for `seed`.

    Parameters
    ----------
    {shared.engagement}
    step : int
        The step number (1-7).
    seed : int
        The seed of the call.

    Returns
    -------
    StepResult or None
        The run's result; None when opened without a run, or with another engagement or seed.
    """
    run = _RUNS.get(engagement)
    if run is None or not engagement.cache_key:
        return None
    if (run["path"], run["key"], run["seed"]) != (str(engagement.path), engagement.cache_key, seed):
        return None
    return run["results"].get(step)


def shared_step(step: int) -> Callable[[Callable[..., StepResult]], Callable[..., StepResult]]:
    """Make a step function return the run's shared result when it is called with the seed only
    (any other option, e.g. another `uplift`, computes afresh).

    Parameters
    ----------
    step : int
        The step number the decorated function computes.

    Returns
    -------
    callable
        The decorator.
    """
    def decorate(compute: Callable[..., StepResult]) -> Callable[..., StepResult]:
        @functools.wraps(compute)
        def run(engagement: Engagement, *, seed: int = 0, **options: Any) -> StepResult:
            seed = check_seed(seed)
            if not options and (done := shared_result(engagement, step, seed)) is not None:
                return done
            return compute(engagement, seed=seed, **options)
        return run
    return decorate
