"""The keys of a dataset item that transforms, datasets and writers share (plain strings, no torch)."""

from __future__ import annotations

IMAGE, LABEL = "image", "label"
BOTH = (IMAGE, LABEL)
