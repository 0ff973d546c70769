"""One exception rule: a wrong argument raises OptionError (a ValueError) everywhere; the toolkit's
other errors are about the data or the engagement YAML, and a step never turns a programming error
into a client-visible "not computed"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from toolkit.base.exceptions import ConfigError, DataError, OptionError
from toolkit.measure.survival import kaplan_meier
from toolkit.stats import rate_ci
from toolkit.steps.parts import Parts

PACKAGE = Path(__file__).resolve().parents[1] / "toolkit"

# OptionError for a wrong value; TypeError and KeyError where Python's own would be raised; stats'
# CountError (a DataError and a ValueError) for counts that cannot be counts.
ALLOWED = {"OptionError", "TypeError", "KeyError", "CountError"}


@pytest.mark.parametrize("call", [
    lambda: rate_ci(3, 10, confidence=1.5),
    lambda: kaplan_meier([1, 2, 3], [1, 0, 1], confidence=1.5),
])
def test_one_mistake_raises_one_exception(call):
    # rate_ci raised OptionError, kaplan_meier a plain ToolkitError that a step swallowed
    with pytest.raises(OptionError, match="`confidence`") as raised:
        call()
    assert isinstance(raised.value, ValueError)


def test_a_step_part_never_swallows_a_wrong_argument_but_states_a_data_problem():
    parts = Parts()
    with pytest.raises(OptionError):
        parts.attempt("incidence", lambda: kaplan_meier([1, 2], [1, 1], confidence=2))
    with pytest.raises(TypeError):
        parts.attempt("funnel", lambda: len(None))
    assert parts.attempt("funnel", _too_few) is None and "funnel" in parts.problems


def _too_few():
    raise DataError("too few records to conclude")


def test_every_wrong_argument_message_is_raised_as_option_error():
    """'The value for `x` must ...' is the wording of a wrong argument: raised as OptionError,
    never as the data's or the YAML's error (it was ToolkitError ~40 times, ConfigError ~31)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name) and node.exc.args):
                continue
            first = node.exc.args[0]
            text = (first.value if isinstance(first, ast.Constant) else
                    "".join(v.value for v in first.values if isinstance(v, ast.Constant))
                    if isinstance(first, ast.JoinedStr) else "")
            if str(text).startswith("The value for") and node.exc.func.id not in ALLOWED:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} "
                             f"{node.exc.func.id}")
    assert not found, found
    assert issubclass(OptionError, ConfigError)  # the CLI shows it as a clear error
