"""What git holds: notebooks without outputs, no client data, no keys. CI runs these with `make test`,
so a commit that breaks either rule fails CI."""

from __future__ import annotations

import json
import subprocess
from pathlib import PurePosixPath

import pytest
from conftest import REPO

# Data files may live only where the data is fictional (the demo, the benchmarks shipped with the
# package); anything else that looks like an export is treated as client data.
DATA_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xls", ".xlsm", ".parquet", ".feather", ".sqlite", ".db",
                 ".json", ".txt"}
DATA_ALLOWED = ("data/demo/", "toolkit/data/", "tests/", "benchmarks/")
SECRET_SUFFIXES = {".key", ".pem", ".env"}


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                             check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot list the files git tracks in {REPO} ({exc}); the hygiene checks need "
                    f"a git checkout, as CI's clean clone is")
    return [p for p in out.decode().split("\0") if p]


def _problems(paths: list[str]) -> list[str]:
    problems = []
    for path in paths:
        p = PurePosixPath(path)
        if path.startswith("data/clients/") and path != "data/clients/README.md":
            problems.append(f"{path}: client folders are confidential; only data/clients/README.md "
                            f"may be tracked (git rm --cached it)")
        elif p.suffix.lower() in SECRET_SUFFIXES:
            problems.append(f"{path}: looks like a key or secret; keys live outside git")
        elif ".cache" in p.parts:
            problems.append(f"{path}: a loader cache holds client tables; it must not be committed")
        elif (p.suffix.lower() in DATA_SUFFIXES and not path.startswith(DATA_ALLOWED)
              and path not in {"constraints.txt", "constraints-min.txt"}):
            problems.append(f"{path}: a data file outside data/demo/ could be client data; move it "
                            f"to data/clients/<engagement>/ (ignored) or, if it is fictional, to "
                            f"data/demo/")
    return problems


def _notebook_outputs(path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = []
    for i, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            bad.append(f"{path.name} cell {i}: has {len(cell['outputs'])} stored output(s)")
        if cell.get("execution_count") is not None:
            bad.append(f"{path.name} cell {i}: has execution_count {cell['execution_count']}")
    return bad


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 7
    problems = [p for nb in notebooks for p in _notebook_outputs(nb)]
    assert not problems, ("notebooks must be committed without outputs (they can hold client "
                          "numbers); clear them with `jupyter nbconvert --clear-output --inplace "
                          "notebooks/*.ipynb`:\n" + "\n".join(problems))


def test_git_tracks_no_client_data_and_no_keys():
    tracked = _tracked()
    assert "data/clients/README.md" in tracked
    problems = _problems(tracked)
    assert not problems, "\n".join(problems)


def test_the_hygiene_rules_catch_what_they_should():
    # The checks themselves: each kind of leak is named, the legitimate files are not.
    leaks = ["data/clients/acme/export.csv", "data/clients/acme/engagement.yaml", "client.key",
             "data/demo/.cache/engagement/abc.events.parquet", "notebooks/acme_export.xlsx",
             "exports/opportunities.csv"]
    found = _problems(leaks)
    assert len(found) == len(leaks)
    assert _problems(["data/clients/README.md", "data/demo/crm_deals.xlsx", "toolkit/data/x.csv",
                      "README.md", "notebooks/01_baseline.ipynb", "tests/test_loading.py"]) == []


def test_the_output_check_sees_a_stored_output(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "source": "1", "metadata": {},
                     "outputs": [{"output_type": "execute_result", "data": {"text/plain": "1"}}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert len(_notebook_outputs(path)) == 2


def test_client_folders_and_caches_are_ignored_by_git(tmp_path):
    ignored = ["data/clients/acme/export.csv", "data/demo/.cache/engagement/k.events.parquet",
               "reports/acme/index.html"]
    out = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", *ignored],
                         capture_output=True, text=True, timeout=60)
    assert sorted(out.stdout.split()) == sorted(ignored)
