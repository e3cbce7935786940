"""Checkpoints: file names, errors, archive and schema checks, load, state, the writer and the save policy."""

from __future__ import annotations
