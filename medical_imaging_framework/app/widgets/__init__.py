"""Dialogs and panels: the parameter dialog, node help, the run panels (log, loss plot, checkpoints, progress)
and the image view."""

from __future__ import annotations
