"""The Trainer's ``num_threads`` parameter: ``auto`` or a fixed count (torch-free, read by the spec's check
and by the run)."""

from __future__ import annotations

NUM_THREADS_RULE = "must be 'auto' (measure the fastest thread count) or a whole number >= 1"


def parse_num_threads(text: str) -> int | None:
    """The Trainer's ``num_threads``: None for ``auto``, else the fixed count.

    Args:
        text: the parameter's value (``auto`` or a whole number >= 1).

    Raises:
        ValueError: with `NUM_THREADS_RULE` when the text is neither.
    """
    value = str(text).strip().lower()
    if value == "auto":
        return None
    if value.isdigit() and 1 <= int(value) <= 4096:
        return int(value)
    raise ValueError(NUM_THREADS_RULE)
