"""`printable` shows control characters from files escaped, and leaves ordinary text alone."""

from __future__ import annotations

from medical_imaging_framework.core.text import printable


def test_ordinary_text_is_unchanged() -> None:
    assert printable("checkpoint_epoch_2.pt") == "checkpoint_epoch_2.pt"
    assert printable("Ünïcödé ✓ C:\\data") == "Ünïcödé ✓ C:\\data"


def test_terminal_sequences_are_escaped() -> None:
    assert printable("a\x1b]0;pwned\x07b") == "a\\x1b]0;pwned\\x07b"
    assert printable("\x1b[2J\rIntact: yes") == "\\x1b[2J\\x0dIntact: yes"
    assert printable("left\u202eright\x9b") == "left\\u202eright\\x9b"


def test_newlines_escaped_unless_kept() -> None:
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb\x1b", keep_newlines=True) == "a\nb\\x1b"
