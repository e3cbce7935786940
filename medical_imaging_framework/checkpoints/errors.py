"""The one error type of checkpoint loading, and how its messages name the file and the field."""

from __future__ import annotations

from medical_imaging_framework.core.text import printable


class CheckpointError(Exception):
    """A checkpoint file cannot be used; the message names the file, the field (if any) and the cause."""


def field_error(source: object, field: str, rule: str) -> CheckpointError:
    """A `CheckpointError` for one field of a checkpoint: ``FILE: field 'FIELD': RULE``.

    Args:
        source: the file (or a label for it).
        field: the dotted field name, e.g. ``rng_state.python.state``.
        rule: what is wrong, e.g. ``must be a whole number >= 0 (got 'seven')``.
    """
    return CheckpointError(f"{source}: field '{printable(field)}': {rule}")


def shown(value: object, limit: int = 40) -> str:
    """A short, escaped ``repr`` of a value read from a file, for error messages.

    Args:
        value: anything read from a checkpoint.
        limit: most characters shown.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return "a huge integer"
    if isinstance(value, str):
        value = value[: limit * 2]
    plain = isinstance(value, (str, int, float, bool, type(None)))
    text = repr(value) if plain else f"a {type(value).__name__}"
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
