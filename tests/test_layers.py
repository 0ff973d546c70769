"""The library's structure: layers (import-linter), no private names across modules, imports at the top.

The layers are declared in pyproject.toml ([tool.importlinter]); the two other rules are what the
import graph cannot show, so they are read from the source here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toolkit"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _toolkit_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "toolkit"
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "toolkit" for a in node.names)
    return False


def test_layers_contract_holds():
    """Each layer imports only the layers below it (cli > datasets > report > steps > present >
    analysis > measure > io > stats > base)."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # every contract ran (the library's layers, and those inside the packages split by job)
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"{len(contracts['contracts'])} kept, 0 broken" in done.stdout
    assert len(contracts["contracts"]) >= 5


def test_no_private_name_is_imported_across_modules():
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _toolkit_import(node):
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}"
                          for a in node.names if a.name.startswith("_")
                          and a.name not in ("__version__",)]
    assert not found, found


def test_toolkit_modules_are_imported_at_the_top():
    """A function-level import hides a dependency from the layers check. Two exceptions, each
    for a reason: `result.plot` imports the plotting module when it draws (declared in the
    contract), and the program imports a command's module when that command runs, so `funnel
    --help` and a mistyped argument answer in a second instead of three (imports that go down
    the cli contract's layers, which import-linter checks like any other)."""
    declared = {"toolkit/base/drawing.py", "toolkit/cli/program.py"}
    found = []
    for path, tree in _modules():
        if str(path.relative_to(ROOT)) in declared:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [f"{path.relative_to(ROOT)}:{inner.lineno}" for inner in ast.walk(node)
                          if _toolkit_import(inner)]
    assert not found, found


def test_no_module_imports_a_name_from_the_package_root():
    """`toolkit/__init__.py` imports the engagement, so a module below it that imports a name from
    `toolkit` itself closes a cycle (it did: toolkit <-> toolkit.io.engagement through
    `__version__`). Subpackages by name (`from toolkit import report`) are fine."""
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "toolkit" and node.level == 0:
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}" for a in node.names
                          if a.name not in subpackages]
    assert not found, found


def test_the_version_is_the_installed_packages():
    import tomllib
    from importlib.metadata import version

    import toolkit
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert toolkit.__version__ == version("funnel-toolkit") == declared


def test_no_toolkit_module_is_imported_by_name_at_run_time():
    """importlib.import_module (or __import__) with a toolkit module's name hides an import from
    the layers contract (base/drawing.py did it for the plotting module, by a name held in a
    module constant). Third-party packages (report's optional notebook tooling) may be."""
    found = []
    for path, tree in _modules():
        constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) for t in node.targets
                     if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args
                    and ast.unparse(node.func).endswith(("import_module", "__import__"))):
                continue
            first = node.args[0]
            name = (first.value if isinstance(first, ast.Constant)
                    else constants.get(first.id) if isinstance(first, ast.Name) else None)
            if str(name).startswith("toolkit"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


#: A module longer than this holds more than one job (issue 22: rooms with one job).
MAX_MODULE_LINES = 900


def test_no_module_is_longer_than_900_lines():
    """Every module of toolkit/ holds one job (issue 22): the last nine grab-bags were split into
    packages, and none may grow back."""
    lines = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in PACKAGE.rglob("*.py")}
    too_long = {name: count for name, count in lines.items() if count > MAX_MODULE_LINES}
    assert not too_long, too_long
