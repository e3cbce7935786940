"""The main window and the layout of its docks, menus and toolbar."""

from __future__ import annotations
