"""Soft hyphens in long words, so a narrow box breaks "Marketing-medewerker" where Dutch breaks it,
not "Marketingmedewerk/er" where the box ends.

Browsers hyphenate only with a dictionary for the page's language, and headless Chromium (the
PDF) has none, so the report inserts soft hyphens (U+00AD: invisible unless the line breaks there)
from the LibreOffice hyphenation patterns that Pyphen ships.
"""

from __future__ import annotations

import re
from functools import cache

import pyphen

__all__ = ["hyphenate", "SOFT_HYPHEN"]

SOFT_HYPHEN = "\u00ad"
_DICTIONARIES = {"nl": "nl_NL", "en": "en_GB"}
# Words shorter than this fit any box the report draws; leave them whole.
_LONG_WORD = re.compile(r"\w{10,}")


@cache
def _dictionary(language: str) -> pyphen.Pyphen:
    return pyphen.Pyphen(lang=_DICTIONARIES[language], left=3, right=3)


def hyphenate(text: object, language: str) -> str:
    """`text` with soft hyphens at the language's break points in each word of ten letters or
    more; other words, spaces and punctuation as they were.

    Parameters
    ----------
    text : object
        The text (any other value as its text).
    language : str
        ``"nl"`` or ``"en"``: whose hyphenation patterns.

    Returns
    -------
    str
        The text with soft hyphens (U+00AD).
    """
    dictionary = _dictionary(language)
    return _LONG_WORD.sub(lambda m: dictionary.inserted(m.group(0), hyphen=SOFT_HYPHEN), str(text))
