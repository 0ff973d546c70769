"""The message catalogue: every message the code and the report templates use has a Dutch
translation, and the catalogue holds nothing stale, so a Dutch report never falls back to English
without a test failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from toolkit.base.exceptions import ToolkitError
from toolkit.present.messages import catalogue_path, check_language, translations
from toolkit.report.training import training_messages

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "_": None, "N_": None}


def _messages_in_code() -> dict[str, str]:
    """msgid -> where it is used, from the Python modules, the Jinja templates and the notebooks'
    notes (each paragraph the training edition shows)."""
    found: dict[str, str] = dict(training_messages())
    method_map = [("**.py", "python"), ("**/templates/**.j2", "jinja2")]
    options = {"**/templates/**.j2": {"extensions": "jinja2.ext.i18n"}}
    for filename, line, message, _comments, _context in extract_from_dir(
            str(TOOLKIT), method_map=method_map, options_map=options, keywords=KEYWORDS):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, f"{filename}:{line}")
    return found


@pytest.fixture(scope="module")
def dutch():
    with catalogue_path("nl").open("rb") as handle:
        return read_po(handle, locale="nl")


def _by_id(catalog) -> dict:
    """Every msgid (a plural's singular and plural both) -> its message."""
    found = {}
    for message in catalog:
        for msgid in (message.id if isinstance(message.id, tuple) else (message.id,)):
            if msgid:
                found[msgid] = message
    return found


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def test_every_message_in_the_code_has_a_dutch_translation(dutch):
    used = _messages_in_code()
    assert used, "no message found: the extraction itself is broken"
    known = _by_id(dutch)
    missing = {m: where for m, where in used.items()
               if m not in known or not _translated(known[m])}
    assert not missing, f"add these to {catalogue_path('nl')}: {missing}"


def test_the_catalogue_holds_no_message_the_code_no_longer_uses(dutch):
    used = _messages_in_code()
    stale = [m.id for m in dutch if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in used]
    assert not stale, f"remove these from {catalogue_path('nl')}: {stale}"


def test_placeholders_survive_translation(dutch):
    """A translation that drops or renames `{value}` would raise or lose the number at run time."""
    import string
    for message in dutch:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = {f for _, f, _, _ in string.Formatter().parse(ids[-1]) if f}
        for text in strings:
            got = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert got == wanted, f"{ids[0]!r}: placeholders {got} in the translation, {wanted} " \
                                  f"in the message"


def test_dutch_translations_are_compiled_from_the_po_file():
    assert translations("nl").gettext("{low} to {high}") == "{low} tot {high}"
    assert translations("en").gettext("{low} to {high}") == "{low} to {high}"
    assert translations("nl") is translations("nl")  # compiled once per process


def test_an_unknown_language_names_the_choices():
    with pytest.raises(ToolkitError, match=r"one of \['nl', 'en'\], but 'fr' was passed"):
        check_language("fr")
