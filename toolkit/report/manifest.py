"""The manifest of a run: versions, file hashes, parameters and timings, so a report can be
reproduced and its inputs recognised."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from toolkit.base.paths import PROJECT_ROOT
from toolkit.base.version import VERSION as __version__
from toolkit.io.config import load_config
from toolkit.io.engagement import Engagement
from toolkit.report.folder import RUN_MARKER, file_sha256

_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "pyarrow",
             "openpyxl", "pydantic", "pyyaml", "papermill", "nbconvert", "nbformat", "ipykernel")


def _file_entry(path: Path, base: Path | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path)}
    if base is not None:
        with contextlib.suppress(ValueError):
            entry["relative_path"] = path.relative_to(base).as_posix()
    if path.is_file():
        entry.update({"sha256": file_sha256(path), "size": path.stat().st_size, "exists": True})
    else:
        entry.update({"sha256": None, "size": None, "exists": False})
    return entry


def _input_entry(path: Path, base: Path, read: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if str(path) not in read:
        return _file_entry(path, base)
    entry: dict[str, Any] = {"path": str(path)}
    with contextlib.suppress(ValueError):
        entry["relative_path"] = path.relative_to(base).as_posix()
    entry.update({"sha256": read[str(path)]["sha256"], "size": read[str(path)]["size"],
                  "exists": True})
    return entry


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_state() -> dict[str, Any]:
    """The toolkit checkout's commit and whether its code differs from it (None outside git)."""
    if not (PROJECT_ROOT / ".git").exists() or shutil.which("git") is None:
        return {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--",
                                 "toolkit", "notebooks"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def write_manifest(
    out_dir: str | os.PathLike,
    *,
    engagement_path: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    inputs: Sequence[Mapping[str, Any]] | None = None,
    problems: Mapping[int, Sequence[str]] | None = None,
) -> Path:
    """Write ``out_dir/manifest.json``: everything needed to reproduce the run.

    Parameters
    ----------
    out_dir
        The run's output folder.
    engagement_path
        The engagement YAML the run used.
    parameters
        The run's parameters (e.g. the notebook parameters and CLI options); stored as given,
        values that are not JSON turned into strings.
    timings
        Seconds per step, e.g. ``ExecutedNotebooks.timings``.
    inputs
        The files the run read, each a mapping with its ``path`` and the sha256 and size of the
        bytes read (``Engagement.input_files``): the manifest records those, not a hash made
        now of a file that may have changed since.
    problems
        Per step the parts it could not compute (the keys of ``StepResult.problems``; the
        reasons are in the report), so a reader of the manifest sees what the run lacked.

    Returns
    -------
    Path of ``manifest.json``.

    Notes
    -----
    Holds the toolkit version and git commit (with a `dirty` flag when ``toolkit/`` or
    ``notebooks/`` differ from it), Python and key package versions, the creation time (UTC), the
    engagement YAML's sha256 and size, every source file's path (also relative to the YAML), sha256
    and size, the parameters, the step timings, and the sha256 of every file already in
    ``out_dir``. A source that is missing is recorded with ``exists: false`` rather than failing,
    so the manifest still says what was expected.
    """

    yaml_path = Path(engagement_path).resolve()
    config = load_config(yaml_path)  # names the file and the fix when it is missing or wrong
    sources = Engagement(config, path=yaml_path, use_cache=False).source_files()
    # The hashes of the bytes the run read (Engagement.input_files): hashing the files again now
    # would describe a file that changed since, not the data in the report.
    read = {entry["path"]: entry for entry in inputs or ()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    # Outputs by their place in the folder only: the folder is built elsewhere and moved into place.
    outputs = [{k: v for k, v in _file_entry(p, out).items() if k != "path"}
               for p in sorted(out.rglob("*"))
               if p.is_file() and p != manifest_path and p.name != RUN_MARKER]
    manifest = {
        "toolkit": {"name": "funnel-toolkit", "version": __version__, **_git_state()},
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "packages": _package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "engagement": {"name": config.name, **_file_entry(yaml_path)},
        "sources": [_input_entry(p, yaml_path.parent, read) for p in sources],
        "parameters": dict(parameters or {}),
        "timings": {str(k): float(v) for k, v in (timings or {}).items()},
        "problems": {str(k): list(v) for k, v in (problems or {}).items()},
        "outputs": outputs,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                             encoding="utf-8")
    return manifest_path


