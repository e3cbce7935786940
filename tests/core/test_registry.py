"""Node registry: built-ins arrive through the entry-point group like any plugin."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest

from medical_imaging_framework.core import NodeRegistry, NodeSpec, Port, UnknownNodeType
from medical_imaging_framework.core.registry import ENTRY_POINT_GROUP

DEFAULT_TYPES = {
    "data.SyntheticPhantoms", "data.TrainValSplit", "data.DataLoader", "models.UNet",
    "losses.DiceLoss", "optim.Adam", "optim.SGD", "training.Trainer",
}


def _noop(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return {"out": 1}


def test_builtin_nodes_come_from_the_entry_point_group() -> None:
    names = {entry.name for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert "builtin" in names
    assert {spec.type_id for spec in NodeRegistry().specs()} >= DEFAULT_TYPES


def test_empty_registry_knows_nothing() -> None:
    registry = NodeRegistry(discover=False)
    with pytest.raises(UnknownNodeType, match=r"unknown node type 'training\.Trainer'"):
        registry.get("training.Trainer")


def test_third_party_plugin_is_loaded_and_a_broken_one_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def good_plugin(registry: NodeRegistry) -> None:
        registry.register(NodeSpec("acme.Thing", "Thing", "Acme", _noop, outputs=(Port("out", "Thing"),)))

    def broken_plugin(registry: NodeRegistry) -> None:
        raise RuntimeError("missing dependency")

    class FakeEntry:
        def __init__(self, name: str, target: Any) -> None:
            self.name, self.value, self._target = name, f"acme:{name}", target

        def load(self) -> Any:
            return self._target

    def fake_entry_points(group: str) -> list[FakeEntry]:
        assert group == ENTRY_POINT_GROUP
        return [FakeEntry("good", good_plugin), FakeEntry("broken", broken_plugin)]

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    registry = NodeRegistry()
    assert registry.create("acme.Thing").type_id == "acme.Thing"
    assert len(registry.plugin_errors) == 1
    assert "broken" in registry.plugin_errors[0] and "missing dependency" in registry.plugin_errors[0]


def test_load_plugins_reports_failures_before_any_other_use_and_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class BrokenEntry:
        name, value = "broken", "acme:broken"

        def load(self) -> Any:
            calls.append(self.name)
            raise ImportError("No module named 'acme'")

    monkeypatch.setattr(metadata, "entry_points", lambda group: [BrokenEntry()])
    registry = NodeRegistry()
    expected = ["node plugin 'broken' (acme:broken) failed to load: ImportError: No module named 'acme'"]
    assert registry.load_plugins() == expected
    assert registry.load_plugins() == expected and registry.specs() == []
    assert calls == ["broken"], "plugins load once"
    assert NodeRegistry(discover=False).load_plugins() == []


def test_duplicate_type_is_refused() -> None:
    registry = NodeRegistry(discover=False)
    spec = NodeSpec("acme.Thing", "Thing", "Acme", _noop)
    registry.register(spec)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(spec)


def test_create_derives_ids_and_copies_list_defaults() -> None:
    registry = NodeRegistry()
    first, second = registry.create("models.UNet"), registry.create("models.UNet")
    assert first.id == "unet"
    assert registry.create("data.SyntheticPhantoms").id == "synthetic_phantoms"
    first.config["channels"].append(256)
    assert second.config["channels"] == [16, 32, 64, 128]
