"""The message catalogue: every sentence a reader sees, in the engagement's language (gettext).

The source language of the messages is English (the msgids in the code are the English text); the
Dutch translations live in ``toolkit/locale/nl/LC_MESSAGES/toolkit.po``. The ``.po`` file is the one
place a translation is written: it is compiled in memory the first time a process asks for Dutch
(Babel's ``read_po`` + ``write_mo``, a few milliseconds), so there is no committed binary ``.mo``
that can drift from its source and no build step between editing a translation and seeing it.

Use::

    t = translations("nl")
    t.gettext("Verdict")                          # -> "Oordeel"
    t.ngettext("{n} record", "{n} records", n)    # plural by the language's own rule

A message missing from the catalogue falls back to its English text; a test
(``tests/test_messages.py``) extracts every message from the code with Babel and fails when the
Dutch catalogue lacks one, so the fallback never reaches a Dutch report unnoticed.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from toolkit.base.exceptions import OptionError

__all__ = ["LANGUAGES", "LOCALE_DIR", "DOMAIN", "check_language", "catalogue_path", "translations"]

#: The report languages: Dutch (the method's own) and English (the messages' source language).
LANGUAGES = ("nl", "en")

#: Where the catalogues are: ``LOCALE_DIR/<language>/LC_MESSAGES/<DOMAIN>.po``.
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "toolkit"


def check_language(language: object) -> str:
    """A report language, checked.

    Parameters
    ----------
    language : object
        What was passed.

    Returns
    -------
    str
        `language`, when it is one of :data:`LANGUAGES` (``nl``, ``en``).

    Raises
    ------
    OptionError
        Any other value, naming the languages and the fix.
    """
    if language not in LANGUAGES:
        raise OptionError(f"The value for `language` must be one of {list(LANGUAGES)}, but "
                           f"{language!r} was passed. Fix: use `nl` (Dutch) or `en` (English).")
    return str(language)


def catalogue_path(language: str) -> Path:
    """The ``.po`` file of a language.

    Parameters
    ----------
    language : str
        ``"nl"`` (English is the catalogue's source language).

    Returns
    -------
    Path
        ``toolkit/locale/<language>/LC_MESSAGES/toolkit.po``.
    """
    return LOCALE_DIR / check_language(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str = "en") -> gettext.NullTranslations:
    """The gettext translations of `language` (English: the messages as written)."""
    check_language(language)
    if language == "en":
        return gettext.NullTranslations()
    path = catalogue_path(language)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    # Fuzzy entries are drafts a translator has not confirmed: left out, so they read in English
    # and the catalogue test names them.
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
