"""Published funnel benchmarks, mapped onto an engagement's phases: "compare with the market"."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.base.paths import PACKAGE_DATA
from toolkit.io.engagement import Engagement
from toolkit.io.limits import MAX_BENCHMARKS_BYTES, LimitError, check_regular_file, read_limited

__all__ = ["BENCHMARKS_FILE", "load_benchmarks", "benchmarks_for"]

BENCHMARKS_FILE = PACKAGE_DATA / "funnel_benchmarks.csv"
_COLUMNS = ["from_stage", "to_stage", "low", "typical", "high", "context", "source"]


def load_benchmarks(path: str | Path | None = None, *, engagement_file: str | None = None) -> pd.DataFrame:
    """The benchmark table (shipped default, or a firm's own file with the same columns).

    A firm's own file gets the checks of a source: a regular file within MAX_BENCHMARKS_BYTES,
    never a pipe, a device or a system file, and never more than that read.

    Parameters
    ----------
    path : str or Path, optional
        A firm's own benchmark file; default the shipped ``toolkit/data/funnel_benchmarks.csv``.
    engagement_file : str, optional
        The engagement YAML that names `path`, for the error.

    Returns
    -------
    DataFrame
        The published rows: the stages, ``low, typical, high`` (rates 0-1) and their source.

    Raises
    ------
    ConfigError
        The file cannot be read or lacks a column (the key ``benchmarks_file`` of
        `engagement_file`).
    """
    path = BENCHMARKS_FILE if path is None else Path(path)
    try:
        check_regular_file(path, limit=MAX_BENCHMARKS_BYTES, what="benchmarks file")
        data = read_limited(path, limit=MAX_BENCHMARKS_BYTES, what="benchmarks file")
    except FileNotFoundError:
        raise ConfigError(f"the benchmarks file {path} does not exist", file=engagement_file,
                          key="benchmarks_file",
                          fix="check the path (relative to the engagement YAML)") from None
    except LimitError as exc:
        raise ConfigError(f"{exc} ({path})", file=engagement_file, key="benchmarks_file",
                          fix=exc.fix) from None
    table = pd.read_csv(BytesIO(data))
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"benchmark file lacks column(s) {missing}", file=str(path),
                          fix=f"use the columns {_COLUMNS} (see {BENCHMARKS_FILE.name})")
    return table


@shared_docs
def benchmarks_for(engagement: Engagement, *, path: str | Path | None = None) -> pd.DataFrame:
    """Benchmarks for the engagement's transitions, through its `benchmark_stages` mapping.

    Parameters
    ----------
    {shared.engagement}
    path : str or Path, optional
        A benchmark file; default the engagement's ``benchmarks_file``, else the shipped one.

    Returns
    -------
    DataFrame
        ``from_phase, to_phase, low, typical, high, sources, n_sources``: per transition the
        median over the matching published rows (sources disagree; the median is the fair
        summary and ``sources`` lists them all). Empty when the engagement maps no phases.

    Raises
    ------
    ConfigError
        `benchmark_stages` names a phase the model does not have, or the file cannot be read.

    Notes
    -----
    A benchmark says where comparable firms are, with different stage definitions: use it to
    see whether a gap is plausible, and size improvements against the client's own best periods
    first.
    """
    mapping = engagement.config.benchmark_stages or {}
    model = engagement.phase_model
    unknown = [k for k in mapping if k not in model.keys]
    if unknown:
        raise ConfigError(f"benchmark_stages names phases {unknown} that are not in the model",
                          file=str(engagement.path), key="benchmark_stages",
                          fix=f"use phase keys {model.keys}")
    own = engagement.config.benchmarks_file
    # relative to the engagement YAML, as every path in it (not to where the command runs)
    table = load_benchmarks(path or (engagement.base_dir / own if own else None),
                            engagement_file=str(engagement.path) if engagement.path else None)
    rows = []
    for a, b in model.transitions():
        if a not in mapping or b not in mapping:
            continue
        hit = table[(table["from_stage"] == mapping[a]) & (table["to_stage"] == mapping[b])]
        if hit.empty:
            continue
        rows.append({"from_phase": a, "to_phase": b, "low": hit["low"].median(),
                     "typical": hit["typical"].median(), "high": hit["high"].median(),
                     "source": "; ".join(hit["source"].astype(str)),
                     "n_sources": len(hit)})
    out = pd.DataFrame(rows, columns=["from_phase", "to_phase", "low", "typical", "high",
                                      "source", "n_sources"])
    # A source giving only a range still has a midpoint to compare with.
    mid = (out["low"] + out["high"]) / 2
    out["typical"] = out["typical"].where(out["typical"].notna(), mid).astype(float)
    return out
