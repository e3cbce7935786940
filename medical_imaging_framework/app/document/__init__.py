"""The open pipeline document: its file, the file commands (New, Open, Save, examples, recent) and settings."""

from __future__ import annotations
