"""Open an engagement for the steps: load it, then check what the steps rely on beyond loading."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from toolkit.analysis.planning import factors_for
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError, DataError, ToolkitError
from toolkit.io.engagement import Engagement
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.measure.kpis import kpis_from_config
from toolkit.steps.store import attach_run, read_run

__all__ = ["check_engagement", "open_engagement"]


@shared_docs
def check_engagement(engagement: Engagement) -> Engagement:
    """Segments, declared KPIs, duration factors and benchmark stages, checked now: `validate`
    says what is wrong instead of a step failing halfway.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    Engagement
        The same engagement, checked.

    Raises
    ------
    ConfigError
        Every problem, naming the YAML key and the fix.
    """
    checks: list[tuple[str, Callable[[], object]]] = [("segments", lambda: engagement.segments)]
    if engagement.config.kpis:
        checks.append(("kpis", lambda: kpis_from_config(engagement)))
    if engagement.config.duration_factors:
        checks.append(("duration_factors", lambda: factors_for(engagement)))
    if engagement.config.benchmark_stages or engagement.config.benchmarks_file:
        checks.append(("benchmark_stages", lambda: benchmarks_for(engagement)))
    for key, check in checks:
        try:
            check()
        except (ConfigError, DataError) as exc:
            if exc.file:
                raise
            raise ConfigError(str(exc).split(" Fix: ")[0].rstrip("."), file=str(engagement.path),
                              key=key, fix=exc.fix or "see the YAML reference in docs/yaml.md"
                              ) from None
        except (ToolkitError, ValueError, KeyError, TypeError, OSError) as exc:
            text = str(exc).split(" Fix: ")[0].rstrip(".")
            raise ConfigError(text, file=str(engagement.path), key=key,
                              fix="correct this key; see the YAML reference in docs/yaml.md"
                              ) from None
    return engagement


def open_engagement(path: str | os.PathLike, *, use_cache: bool = True,
                    run: str | os.PathLike | None = None) -> Engagement:
    """`Engagement.from_yaml` followed by `check_engagement`: what the CLI and the steps open.

    Parameters
    ----------
    path : str or PathLike
        The engagement YAML.
    use_cache : bool, default True
        Read and write the parquet cache of the loaded tables.
    run : str or PathLike, optional
        The file `funnel run` hands its step notebooks (their `run` parameter; empty outside a
        run): the engagement then reads the tables that run loaded and its step calls return
        the run's results (``toolkit.steps.store``). A run of another engagement file is not
        taken.

    Returns
    -------
    Engagement
        The loaded and checked engagement.

    Raises
    ------
    ConfigError
        The YAML is wrong (a key, a value, a source's settings).
    DataError
        An export cannot be read as the YAML declares it.
    """
    shared = read_run(run) if run else None
    if shared is not None and shared["path"] != str(Path(path).resolve()):
        shared = None
    pinned = (shared["key"], shared["yaml"]) if shared is not None else None
    engagement = check_engagement(Engagement.from_yaml(path, use_cache=use_cache, pinned=pinned))
    if shared is not None:
        attach_run(engagement, shared)
    return engagement
