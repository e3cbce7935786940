"""Notes and groups: saved in the pipeline file (version 2 when present), undoable, refused with a clear reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry, PipelineFileError, load_pipeline
from medical_imaging_framework.core.annotations import Annotation
from medical_imaging_framework.core.edit_commands import GraphEditor, GraphObserver
from medical_imaging_framework.core.pipeline_file import dumps, graph_to_dict, loads

EXAMPLE = Path(__file__).resolve().parents[2] / "medical_imaging_framework" / "resources" / "pipelines" / \
    "segmentation_train.json"


def test_annotations_round_trip_as_version_2_and_files_without_stay_version_1(registry: NodeRegistry) -> None:
    graph = load_pipeline(EXAMPLE, registry)
    assert graph_to_dict(graph)["version"] == 1 and "annotations" not in graph_to_dict(graph)
    assert dumps(graph) == EXAMPLE.read_text(encoding="utf-8")  # an old file is written back unchanged
    graph.annotations = [Annotation("group", "Data", "phantoms and loaders", -10, 20.5, 400, 300),
                         Annotation("note", "Why Dice", "", 500, -80, 240, 120)]
    text = dumps(graph)
    data = json.loads(text)
    assert data["version"] == 2
    assert data["annotations"][0] == {"kind": "group", "title": "Data", "text": "phantoms and loaders", "x": -10,
                                      "y": 20.5, "w": 400, "h": 300}
    again = loads(text, registry)
    assert [a.values() for a in again.annotations] == [a.values() for a in graph.annotations]
    assert dumps(again) == text


@pytest.mark.parametrize(("entry", "message"), [
    ("note", "annotations[0]: must be an object"),
    ({"kind": "sticky"}, "annotations[0]: field 'kind': must be \"note\" or \"group\""),
    ({"kind": "note", "w": 5}, "annotations[0]: field 'w': must be at least 40"),
    ({"kind": "group", "x": "left"}, "annotations[0]: field 'x': must be a finite number"),
    ({"kind": "note", "title": 3}, "annotations[0]: field 'title': must be text"),
    ({"kind": "note", "colour": "red"}, "annotations[0]: unknown field 'colour'"),
])
def test_a_bad_annotation_entry_is_named_with_its_rule(registry: NodeRegistry, entry: object, message: str) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data.update(version=2, annotations=[entry])
    with pytest.raises(PipelineFileError) as raised:
        loads(json.dumps(data), registry, source="my.json")
    assert message in str(raised.value) and "my.json" in str(raised.value)


class Seen(GraphObserver):
    def __init__(self) -> None:
        self.events: list[str] = []

    def annotation_added(self, annotation: Annotation) -> None:
        self.events.append(f"added {annotation.title}")

    def annotation_removed(self, annotation: Annotation) -> None:
        self.events.append(f"removed {annotation.title}")

    def annotation_changed(self, annotation: Annotation) -> None:
        self.events.append(f"changed {annotation.title} {annotation.x:g},{annotation.y:g}")


def test_annotation_edits_are_undo_steps_and_a_group_moves_with_its_nodes(registry: NodeRegistry) -> None:
    graph = load_pipeline(EXAMPLE, registry)
    before = dumps(graph)
    editor = GraphEditor(graph)
    seen = Seen()
    editor.add_observer(seen)
    group = editor.add_annotation(Annotation("group", "Model", x=0, y=0))
    x, y = graph.nodes["unet"].position
    editor.move_nodes({"unet": (x + 10, y + 5)}, {group: (10.0, 5.0)})  # a group dragged with its node: one step
    assert editor.change_annotation(group, title="The model", text="UNet, 3D")
    with pytest.raises(ValueError, match="field 'h': must be at least 40"):
        editor.change_annotation(group, h=1)
    assert seen.events == ["added Model", "changed Model 10,5", "changed The model 10,5"]
    editor.remove_nodes(["adam"], [group])
    assert graph.annotations == [] and "adam" not in graph.nodes
    editor.undo()
    assert graph.annotations == [group] and "adam" in graph.nodes
    editor.undo()
    assert group.title == "Model" and group.text == ""
    editor.undo()
    assert graph.nodes["unet"].position == (x, y) and (group.x, group.y) == (0, 0)
    editor.undo()
    assert dumps(graph) == before and not editor.history.can_undo()
