"""Safe display of text that came from a file: control characters are shown escaped, never obeyed.

A pipeline or checkpoint file can hold any string. Printed raw, an ESC or OSC sequence in it could
retitle the terminal, clear the screen or forge a line of our own output, so everything printed from
a file goes through `printable` first.
"""

from __future__ import annotations

import unicodedata

# Unicode general categories that a terminal may act on instead of drawing: controls (C0, DEL, C1),
# format characters (bidi overrides, zero-width joiners), line/paragraph separators, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def unsafe_char(char: str) -> bool:
    """Whether a terminal may act on ``char`` instead of drawing it (a control, format or surrogate character).

    Args:
        char: one character.
    """
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object, keep_newlines: bool = False) -> str:
    """``text`` (str() of it) with every control or format character shown as a Python-style escape.

    Args:
        text: anything read from a file (a name, a path, a config value).
        keep_newlines: leave ``\\n`` as is (for multi-line messages); every other control is escaped.
    """
    value = str(text)
    if value.isprintable() and value.isascii():
        return value
    out: list[str] = []
    for char in value:
        if keep_newlines and char == "\n":
            out.append(char)
        elif unsafe_char(char):
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)
