"""One rule names new nodes: readable snake-case ids from the type name, shared by canvas and registry."""

from __future__ import annotations

import pytest

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.core.edit_commands import GraphEditor
from medical_imaging_framework.core.node_ids import new_node_id, readable_id


@pytest.mark.parametrize(
    ("type_id", "expected"),
    [
        ("models.UNet", "unet"),
        ("optim.SGD", "sgd"),
        ("transforms.CTWindow", "ct_window"),
        ("losses.DiceCELoss", "dice_ce_loss"),
        ("data.DataLoader", "data_loader"),
        ("data.SyntheticPhantoms", "synthetic_phantoms"),
        ("schedulers.StepLR", "step_lr"),
        ("optim.AdamW", "adamw"),
        ("training.Trainer", "trainer"),
    ],
)
def test_readable_ids(type_id: str, expected: str) -> None:
    assert readable_id(type_id) == expected


def test_second_node_of_a_type_gets_a_number() -> None:
    assert new_node_id("models.UNet", {"unet"}) == "unet_2"
    assert new_node_id("models.UNet", {"unet", "unet_2"}) == "unet_3"
    assert new_node_id("models.UNet", set()) == "unet"


def test_registry_and_editor_use_the_same_rule(registry: NodeRegistry) -> None:
    editor = GraphEditor(Graph())
    for spec in registry.specs():
        expected = new_node_id(spec.type_id, set(editor.graph.nodes))
        assert registry.create(spec.type_id).id == expected == editor.new_id(spec.type_id)
        editor.create_node(spec)
        assert expected in editor.graph.nodes
        assert "_" not in expected or all(len(word) > 1 for word in expected.split("_")), expected
    editor.create_node(registry.get("models.UNet"))
    assert "unet_2" in editor.graph.nodes
