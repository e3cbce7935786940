"""The canvas: a NodeGraphQt view that follows the core document and turns user actions into its commands."""

from __future__ import annotations
