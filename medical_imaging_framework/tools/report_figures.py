"""The report's pictures as PNG bytes (matplotlib's Agg canvas; no GUI backend, no pyplot state)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

SHOWN_EDGE = 512  # pixels a side of a sample plane in the overlay grid (larger ones are strided down)
TITLE_CHARACTERS = 30  # a line of a plane's title at 9 pt fits its panel (2.5 in) with this many characters


def _png(figure: object) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def loss_curve_png(rows: Sequence[Mapping[str, float | None]]) -> bytes:
    """Training (and validation) loss per epoch, from ``metrics.csv`` rows.

    Args:
        rows: rows with ``epoch``, ``train_loss`` and optional ``val_loss``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    axes = figure.add_subplot()
    epochs = [row["epoch"] for row in rows]
    axes.plot(epochs, [row["train_loss"] for row in rows], marker="o", markersize=3, label="training loss")
    validation = [(row["epoch"], row["val_loss"]) for row in rows if row.get("val_loss") is not None]
    if validation:
        axes.plot(*zip(*validation, strict=True), marker="o", markersize=3, label="validation loss")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return _png(figure)


def _shown(plane: object) -> np.ndarray:
    """``plane`` (x, y) as displayed (rows = y), every n-th pixel of a plane larger than a panel draws.

    matplotlib's contour costs time in proportion to pixels times levels, and a panel is about 200 pixels
    wide: keeping `SHOWN_EDGE` pixels a side bounds the figure's cost whatever the file holds. Striding keeps
    class indices intact, where an interpolating resize would invent classes between them.
    """
    array = np.asarray(plane).T
    step = max(1, -(-max(array.shape) // SHOWN_EDGE))
    return array[::step, ::step]


# One colour per class index (matplotlib's tab10 without its grey), the same in the label and the prediction.
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def class_colour(value: int) -> str:
    """The outline colour of class ``value`` (1, 2, ...; the palette repeats after 9 classes).

    Args:
        value: the class index.
    """
    return CLASS_COLOURS[(int(value) - 1) % len(CLASS_COLOURS)]


def overlay_grid_png(samples: Sequence[Mapping[str, object]]) -> bytes:
    """One row per plane: the image, the label, the prediction (each class outlined in its own colour).

    Args:
        samples: dicts with ``name``, ``prediction`` and optional ``image``/``label`` 2D arrays (x, y).
    """
    from matplotlib.figure import Figure

    rows = len(samples)
    figure = Figure(figsize=(7.5, 2.5 * rows), dpi=80)
    for row, sample in enumerate(samples):
        prediction = _shown(sample["prediction"])
        image = _shown(sample["image"]) if sample.get("image") is not None else np.zeros_like(prediction)
        label = _shown(sample["label"]) if sample.get("label") is not None else None
        panels = (("image", None), ("label", label), ("prediction", prediction))
        for column, (title, mask) in enumerate(panels):
            axes = figure.add_subplot(rows, 3, row * 3 + column + 1)
            axes.imshow(image, cmap="gray")
            classes = np.unique(mask) if mask is not None else np.zeros(1)
            for value in classes[classes > 0]:  # each class its own outline and colour
                if (mask == value).all():
                    continue  # a plane filled by one class has no outline to draw
                axes.contour((mask == value).astype(np.float32), levels=(0.5,), colors=class_colour(value),
                             linewidths=1.2)
            if column == 0:  # case, class and slice: wrapped to the panel, or it runs off the picture's edge
                title = textwrap.fill(f"{sample['name']}: {title}", TITLE_CHARACTERS, break_on_hyphens=False)
            axes.set_title(title, fontsize=9)
            axes.set_axis_off()
    figure.tight_layout()
    return _png(figure)
