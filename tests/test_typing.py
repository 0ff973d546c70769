"""The packages of toolkit/ that type-check clean stay clean: mypy, with the settings of
pyproject.toml ([tool.mypy]), finds no error in them.

CLEAN grew package by package as each got clean; since 2026-12-07 it is toolkit/ itself. The
modules these packages import are analysed too (their types are used) but their own errors are
not reported here (`--follow-imports=silent`): each package answers for itself. The results
depend on the type information of the pinned numpy and matplotlib (constraints.txt).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Packages (dotted names) with no mypy error and every function annotated.
CLEAN = [
    "toolkit",
]


def _mypy(*arguments: str, cache: Path) -> subprocess.CompletedProcess[str]:
    # the cache in a temporary folder: nothing written into the repository, no stale result
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache),
                           "--follow-imports=silent", *arguments],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_clean_packages_have_no_type_error(tmp_path):
    packages = [arg for name in CLEAN for arg in ("-p", name)]
    done = _mypy(*packages, cache=tmp_path / "mypy")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout, done.stdout


def test_the_clean_packages_keep_every_function_annotated():
    """pyproject.toml asks the clean packages for annotations on every function: a package in
    CLEAN without that setting could lose them unnoticed."""
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    strict = {module.removesuffix(".*") for o in overrides
              if o.get("disallow_untyped_defs") and o.get("disallow_incomplete_defs")
              for module in o["module"]}
    assert set(CLEAN) <= strict, sorted(set(CLEAN) - strict)


def test_the_check_sees_a_type_error(tmp_path):
    """The check is not blind: a module with a type error in a clean package's settings fails."""
    bad = tmp_path / "bad_module.py"
    bad.write_text("def half(x: int) -> int:\n    return x / 2\n", encoding="utf-8")
    done = _mypy("--config-file", str(ROOT / "pyproject.toml"), str(bad),
                 cache=tmp_path / "mypy")
    assert done.returncode == 1 and "return-value" in done.stdout, done.stdout
