"""The keys of a dataset item that transforms, datasets and writers share (plain strings, no torch)."""

from __future__ import annotations

IMAGE, LABEL = "image", "label"
SOURCE_AFFINE, SOURCE_SHAPE = "source_affine", "source_shape"  # the grid an item was read on (see transforms)
BOTH = (IMAGE, LABEL)
