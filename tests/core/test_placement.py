"""Where pasted nodes go: at the mouse, or next to the originals, and never exactly on another node."""

from __future__ import annotations

from medical_imaging_framework.core.placement import PASTE_STEP, paste_offset


def test_copies_land_with_their_top_left_at_the_anchor() -> None:
    assert paste_offset([(100.0, 50.0), (300.0, 20.0)], [(100.0, 50.0), (300.0, 20.0)], (0.0, 0.0)) == (-100.0, -20.0)


def test_without_an_anchor_copies_go_one_step_down_right_of_the_originals() -> None:
    assert paste_offset([(10.0, 10.0)], [(10.0, 10.0)]) == (PASTE_STEP, PASTE_STEP)


def test_repeated_pastes_fan_out_instead_of_stacking() -> None:
    copied = [(0.0, 0.0), (200.0, 0.0)]
    taken = list(copied)
    offsets = []
    for _ in range(3):
        offset = paste_offset(copied, taken, (500.0, 500.0))
        offsets.append(offset)
        taken += [(x + offset[0], y + offset[1]) for x, y in copied]
    assert offsets == [(500.0, 500.0), (540.0, 540.0), (580.0, 580.0)]
    again = paste_offset(copied, taken)  # Edit > Paste (mouse elsewhere) after the first copy
    assert again == (PASTE_STEP, PASTE_STEP)
    taken += [(x + PASTE_STEP, y + PASTE_STEP) for x, y in copied]
    assert paste_offset(copied, taken) == (2 * PASTE_STEP, 2 * PASTE_STEP)
