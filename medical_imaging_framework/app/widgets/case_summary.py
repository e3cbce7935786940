"""What the case viewer needs to know of a whole case before it draws one slice: the classes present (for the
caption's legend) and the slice a 3D case opens at.

Both look at every voxel (``np.unique`` sorts them: about a second for two 512×512×200 maps), so the Results dock
works them out in its read thread (`app/window/case_reader.py`) and the GUI thread only draws. numpy only: safe to
import and run off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CaseSummary:
    """The foreground classes in the label or the prediction, and the slice to open at (0 for a 2D case)."""

    classes: tuple[int, ...]
    start_slice: int


def summarize(label: np.ndarray, prediction: np.ndarray) -> CaseSummary:
    """The classes present and, in 3D, the slice where the label (else the prediction) has the most foreground.

    Args:
        label: the reference class map, (H, W) or (H, W, D).
        prediction: the predicted class map (same shape).
    """
    present = sorted(({int(v) for v in np.unique(label)} | {int(v) for v in np.unique(prediction)}) - {0})
    start = 0
    if label.ndim == 3:
        source = label if label.any() else prediction
        start = int(np.argmax((source > 0).sum(axis=(0, 1))))
    return CaseSummary(tuple(present), start)
