"""What the client edition leaves out of a sentence written for the analyst: YAML keys and code,
instructions about the engagement file, identifiers. The report's pages and the workbook of a
client edition pass their conclusions and notes through :func:`for_client`.

::

    for_client("No process change is declared. To evaluate one, add an entry under `changes:` "
               "in the engagement YAML.")
    # 'No process change is declared.'
"""

from __future__ import annotations

import re

__all__ = ["for_client"]

# A code span in a sentence (a YAML key such as `benchmark_stages:`), escaped or not, and a
# parenthesis around one: instructions for the analyst, not for the board.
_CODE_ASIDE = re.compile(r"\s*\((?:[^()]*?)\\?`[^`]*\\?`(?:[^()]*)\)")
_CODE_SPAN = re.compile(r"\\?`([^`\\]*)\\?`")


_IDENTIFIER = re.compile(r"(?<=[a-z0-9])(?:\\?_)(?=[a-z0-9])")


# A sentence: up to a full stop, question or exclamation mark before a space or the end (so "23.6%"
# does not end it), other than the stop of "e.g." or "i.e." ("e.g. 2025-03-01" once split an
# instruction in two, and its second half reached the board).
_SENTENCE = re.compile(r".+?(?:(?<!e\.g)(?<!i\.e)[.!?](?=\s|$)|$)\s*", re.DOTALL)


def for_client(line: str) -> str:
    """A sentence of the conclusions or the notes as a client reads it.

    No YAML keys or code, no instruction about the engagement file (unless it is all the line
    says), and an attribute named as an identifier (`deal_source`) in words (the training
    edition keeps them as they are). Works on Markdown (a code span escaped as \\`) and on
    plain text alike.

    Parameters
    ----------
    line : str
        The sentence.

    Returns
    -------
    str
        The sentence for the client edition.
    """
    line = _CODE_ASIDE.sub("", line)
    line = _CODE_SPAN.sub(lambda m: m.group(1).strip(": "), line)
    # a sentence telling the analyst what to write in the engagement file ("To evaluate one, add
    # an entry under changes: in the engagement YAML ...") is not for the board
    sentences = _SENTENCE.findall(line)
    kept = [s for s in sentences if "YAML" not in s]
    if kept and len(kept) < len(sentences):
        line = "".join(kept).strip()
    return _IDENTIFIER.sub(" ", line)
