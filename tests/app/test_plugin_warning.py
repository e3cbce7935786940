"""A node plugin that fails to load is said once in the editor's log and status bar; the built-ins still work."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.registry import ENTRY_POINT_GROUP

WARNING = ("warning: node plugin 'acme' (acme_nodes:register) failed to load: "
           "ModuleNotFoundError: No module named 'acme_nodes'")


class BrokenEntry:
    """An installed entry point whose module cannot be imported."""

    name, value = "acme", "acme_nodes:register"

    def load(self) -> Any:
        raise ModuleNotFoundError("No module named 'acme_nodes'")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> NodeRegistry:
    """The built-in nodes plus a broken plugin, as the registry finds them through `metadata.entry_points`."""
    installed = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    monkeypatch.setattr(metadata, "entry_points", lambda group: [*installed, BrokenEntry()])
    return NodeRegistry()


def test_the_editor_shows_a_broken_plugin_once_at_start(make_window: Any) -> None:
    window = make_window()
    assert window.log_pane.toPlainText().splitlines().count(WARNING) == 1
    assert "1 node plugin(s) failed to load: see the log" in window.statusBar().currentMessage()
    assert "training.Trainer" in window.registry, "the built-in nodes are there"
