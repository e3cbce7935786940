"""Workarounds for Qt and NodeGraphQt: the GUI-thread garbage-collection guard, the import shim, the binding check."""

from __future__ import annotations
