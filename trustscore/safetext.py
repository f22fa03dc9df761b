"""Text from the data is text: the one rule for showing it safely (DESIGN 5).

Ids, shop ids, categories, headers, file names and passthrough values come
from files nobody here wrote. Before any of them reaches a terminal (a table,
a card, a note, an error) it goes through ``safe_text``, which makes every
character that could act on the terminal instead of being shown visible, in
the notation of Python's ``repr``:

- ``\\n``, ``\\r``, ``\\t`` as those two characters;
- any other code point as ``\\xNN`` (up to U+00FF), ``\\uNNNN`` (up to
  U+FFFF) or ``\\UNNNNNNNN``: ESC (``\\x1b``), BEL (``\\x07``), DEL
  (``\\x7f``), a C1 control (``\\x9b``), a bidi override (``\\u202e``).

Which characters: every control (Unicode category Cc: C0, DEL, C1), every
format character (Cf: the bidi embeddings, overrides and isolates U+202A-E
and U+2066-9, the marks U+200E/F and U+061C, zero-width spaces, the BOM, soft
hyphens, tag characters), the line and paragraph separators (Zl, Zp) and lone
surrogates (Cs, from undecodable command-line bytes; they cannot even be
written as UTF-8). The two joiners U+200C and U+200D are kept: words in
Persian and Indic scripts and emoji sequences need them, and they neither
move the cursor nor reorder text. Everything else, CJK and emoji included, is
shown as it is. A backslash is left alone (``C:\\data`` stays readable), so
``\\x1b`` in the output may also be those four characters in the data.

Escaping is for display only: the core keeps values as they were, and data
output (CSV, Parquet, NDJSON) carries them unchanged. JSON written for people
and programs alike (``json_safe``) gets the same characters as JSON ``\\u``
escapes, which parse back to the very same text.

Rich markup is the other half of the rule and lives in ``render``: text is
always handed to rich as ``Text``, never as a markup string.
"""

from __future__ import annotations

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_unsafe(ch: str) -> bool:
    """True for a character ``safe_text`` makes visible (see the module docstring)."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES and ch not in _JOINERS


def _visible(ch: str) -> str:
    if not is_unsafe(ch):
        return ch
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(value: object) -> str:
    """``value`` as text that shows itself on a terminal and does nothing else.

    None is the empty string; anything else is ``str(value)`` with unsafe
    characters escaped as the module docstring describes.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: no control, format or separator characters
        return text
    return "".join(_visible(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """JSON text with every unsafe character as a ``\\u`` escape.

    For the output of ``json.dumps(..., ensure_ascii=False)``, which escapes
    only C0 controls: DEL, C1, bidi controls and separators would reach a
    terminal raw. Those characters never occur outside JSON strings, and an
    escape parses back to the same character, so the data are unchanged.
    """
    return "".join(_json_escape(ch) if ch != "\n" and is_unsafe(ch) else ch for ch in text)
