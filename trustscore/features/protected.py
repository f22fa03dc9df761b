"""Protected attributes (DESIGN 1): consumer columns that are never features.

A column is protected when one of its whole words is a protected word. Words
come from splitting the name on ``_``, ``-``, spaces and case changes, so
``age_in_years``, ``personal_status_and_sex``, ``foreign_worker`` and
``AgeYears`` are caught while ``page_views``, ``usage`` and ``storage`` (which
only contain "age" inside a word) are not. Plurals are other words: a column
``ages`` is not caught, so name protected columns plainly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# runs of capitals before a capitalised word (HTTPAge -> HTTP, Age), capitalised
# or lower-case words, leftover capitals, digits
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def column_words(column: str) -> list[str]:
    """The lower-case whole words of a column name."""
    return [w.lower() for part in re.split(r"[_\-\s]+", column) for w in _WORD.findall(part)]


def is_protected(column: str, words: Iterable[str]) -> bool:
    """True when a whole word of ``column`` is one of the protected words (any case)."""
    protected = {w.lower() for w in words}
    return any(w in protected for w in column_words(column))
