"""Category values as a person means them: declared blank markers read as missing, and spellings
of one category that differ only in case, spaces or hyphens folded into one (the folding reported).

A form's placeholder (`Select`, `-`, `n/a`) is not a segment: left as a value it becomes the
largest "channel" of the scan. `google` and `Google`, `Call In` and `Call-in` are one category that
a CRM let people type twice; kept apart they split a segment in two and each half looks small.
The same holds for spellings a person cannot tell apart: an invisible character (a zero-width space
pasted from a web page, a direction mark) or a letter of another script that looks the same
(Cyrillic `е` in `еvent`); those folds are reported as such.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

__all__ = ["read_blank_markers", "fold_spellings", "fold_key"]

_SEPARATORS = re.compile(r"[\s\-_]+")


# Cyrillic and Greek letters drawn like a Latin one (Unicode's confusables, the common ones).
_LOOK_ALIKE = str.maketrans(
    "аеорсухіјѕԁԛԝӏАВЕКМНОРСТХУІЈЅԜαονιΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwlABEKMHOPCTXYIJSWaovtABEZHIKMNOPTYX")


def _plain_key(value: object) -> str:
    return _SEPARATORS.sub("", str(value)).casefold()


def _visible(text: str) -> str:
    """`text` in compatibility form (full-width letters as letters) without invisible format
    characters (zero-width spaces and joiners, direction marks and overrides, byte-order marks)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def fold_key(value: object) -> str:
    """The comparison form of a category: case-folded, spaces, hyphens and underscores removed,
    invisible characters removed and look-alike letters of other scripts read as Latin."""
    return _plain_key(_visible(str(value)).translate(_LOOK_ALIKE))


def read_blank_markers(values: pd.Series, markers: list[str] | tuple[str, ...]) -> tuple[
        pd.Series, int]:
    """`values` with every declared blank marker (compared trimmed and case-insensitively) as
    missing, and how many values that made missing."""
    if not markers or values.empty:
        return values, 0
    wanted = {str(m).strip().casefold() for m in markers}
    hit = values.astype("string").str.strip().str.casefold().isin(wanted).fillna(False)
    return values.mask(hit.to_numpy()), int(hit.sum())


def fold_spellings(values: pd.Series) -> tuple[pd.Series, list[dict]]:
    """Fold spellings that differ only in case, spaces, hyphens or underscores into the most
    common spelling (ties: the first in sort order).

    Returns the folded values and one entry per folded category: `kept` (the spelling kept),
    `variants` (the others), `rows` (how many values changed) and `look_alike` (whether a variant
    differs by more than case and separators: an invisible character or a look-alike letter).
    """
    present = values.dropna()
    if present.empty:
        return values, []
    counts = present.value_counts()
    keys = pd.Series([fold_key(v) for v in counts.index], index=counts.index)
    folds, mapping = [], {}
    for _, group in keys.groupby(keys, sort=True):
        if len(group) < 2:
            continue
        spellings = counts.loc[group.index].sort_index(kind="stable").sort_values(
            ascending=False, kind="stable")
        kept = spellings.index[0]
        variants = list(spellings.index[1:])
        for v in variants:
            mapping[v] = kept
        folds.append({"kept": kept, "variants": variants,
                      "rows": int(spellings.iloc[1:].sum()),
                      "look_alike": any(_plain_key(v) != _plain_key(kept) for v in variants)})
    if not mapping:
        return values, []
    return values.replace(mapping), folds
