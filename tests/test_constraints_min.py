"""The two version files agree with pyproject.toml, so CI's two jobs test what is declared.

`make test` installs with constraints.txt (the tested versions), `make test-min` with
constraints-min.txt (the declared minimum of every direct dependency). Each direct dependency of
pyproject.toml (`dependencies` and the `dev` extra the suite installs) must appear in
constraints-min.txt at exactly its declared lower bound, and its pin in constraints.txt must lie in
the declared range: a bound raised in one file and not the other fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _name(name: str) -> str:
    """A distribution name as the index compares them (PEP 503): `PyYAML` is `pyyaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in project["dependencies"] +
            project["optional-dependencies"]["dev"]]


def _pins(path: Path) -> dict[str, Version]:
    """`name==version` per line of a constraints file (comments and blank lines skipped)."""
    pins = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() and version.strip(), (
            f"{path.name} line {number}: {line!r} is no `name==version` pin; write one exact "
            f"version per package")
        pins[_name(name.strip())] = Version(version.strip())
    return pins


def _lower_bound(requirement: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return bounds[0] if len(bounds) == 1 else None


def drift(direct: list[Requirement], minimum: dict[str, Version],
          tested: dict[str, Version]) -> list[str]:
    """What disagrees between the declared requirements and the two constraints files."""
    problems = []
    for requirement in direct:
        name = _name(requirement.name)
        low = _lower_bound(requirement)
        if low is None:
            problems.append(f"pyproject.toml: {requirement} declares no single `>=` lower bound; "
                            f"declare the oldest version the code supports")
            continue
        if minimum.get(name) != low:
            have = f"pins {minimum[name]}" if name in minimum else "has no line for it"
            problems.append(f"constraints-min.txt {have}, but pyproject.toml declares {requirement}; "
                            f"pin {name}=={low} there (or change the declared bound)")
        if name not in tested:
            problems.append(f"constraints.txt has no pin for {name}; regenerate it with pip freeze")
        elif not requirement.specifier.contains(tested[name], prereleases=True):
            problems.append(f"constraints.txt pins {name}=={tested[name]}, outside the declared "
                            f"{requirement}; raise the pin or widen the range")
    return problems


def test_every_direct_dependency_is_pinned_at_its_lower_bound_and_tested_in_range():
    direct = _direct()
    assert len(direct) > 20  # both lists were read: the runtime and the dev extra
    problems = drift(direct, _pins(ROOT / "constraints-min.txt"), _pins(ROOT / "constraints.txt"))
    assert not problems, "\n".join(problems)


def test_the_minimum_file_holds_one_pin_per_package():
    lines = [line.split("==")[0] for line in
             (ROOT / "constraints-min.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    names = [_name(n) for n in lines]
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)


def test_the_check_sees_each_kind_of_drift():
    direct = [Requirement("pandas>=2.1"), Requirement("PyYAML>=6.0"), Requirement("numpy")]
    assert drift(direct[:2], {"pandas": Version("2.1.0"), "pyyaml": Version("6.0")},
                 {"pandas": Version("3.1.1"), "pyyaml": Version("6.0.4")}) == []
    problems = drift(direct,
                     {"pandas": Version("2.0.3")},  # below the bound; pyyaml missing
                     {"pandas": Version("2.0.0"), "pyyaml": Version("6.0.4")})  # pandas outside
    assert len(problems) == 4, problems
    assert "pin pandas==2.1" in problems[0] and "pins 2.0.3" in problems[0]
    assert "outside the declared pandas>=2.1" in problems[1]
    assert "has no line for it" in problems[2] and "pyyaml==6.0" in problems[2]
    assert "numpy declares no single `>=` lower bound" in problems[3]
