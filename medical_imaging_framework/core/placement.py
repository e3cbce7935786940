"""Where pasted nodes go: at a point (the mouse), or next to the originals; never exactly on other nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Position = tuple[float, float]

PASTE_STEP = 40.0  # canvas units between a copy and what it would cover (about a port row and a half)
_MAX_STEPS = 1000


def paste_offset(copied: Sequence[Position], taken: Iterable[Position], anchor: Position | None = None,
                 step: float = PASTE_STEP) -> Position:
    """The shift to add to every copied position so that the copies land at ``anchor`` (their top-left
    corner there), or ``step`` down-right of the originals when ``anchor`` is None; shifted ``step``
    further down-right while any copy would sit on a node already there (so repeated pastes fan out).

    Args:
        copied: the positions of the copied nodes.
        taken: the positions of the nodes on the canvas.
        anchor: where the top-left copy goes (the mouse position in canvas coordinates), or None.
        step: the shift between two pastes at the same place.
    """
    if not copied:
        return (0.0, 0.0)
    left, top = min(x for x, _ in copied), min(y for _, y in copied)
    dx, dy = (anchor[0] - left, anchor[1] - top) if anchor is not None else (step, step)
    occupied = {(round(x), round(y)) for x, y in taken}
    for _ in range(_MAX_STEPS):
        if not any((round(x + dx), round(y + dy)) in occupied for x, y in copied):
            break
        dx, dy = dx + step, dy + step
    return (round(dx, 2), round(dy, 2))
