"""Pipeline JSON v1: exact round trip, and one clear error per kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry, PipelineFileError, load_pipeline, save_pipeline
from medical_imaging_framework.core.pipeline_file import dumps, graph_to_dict, loads
from tests.support.bounded import load_and_validate_bounded
from tests.support.large_pipelines import escaped_quotes_text
from tests.support.pipelines import DEFAULT_PIPELINE


def test_default_pipeline_round_trips_exactly(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = load_pipeline(DEFAULT_PIPELINE, registry)
    assert graph.validate() == []
    assert dumps(graph) == DEFAULT_PIPELINE.read_text(encoding="utf-8")
    graph.nodes["unet"].position = (12.5, -40)
    out = tmp_path / "moved.json"
    save_pipeline(graph, out)
    again = load_pipeline(out, registry)
    assert again.nodes["unet"].position == (12.5, -40)
    assert graph_to_dict(again) == graph_to_dict(graph)
    assert out.read_text(encoding="utf-8") == dumps(again)


def test_unknown_parameters_survive_the_round_trip_and_are_reported(registry: NodeRegistry, tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PIPELINE.read_text())
    data["nodes"][0]["params"]["colour"] = "red"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    graph = load_pipeline(path, registry)
    assert graph_to_dict(graph)["nodes"][0]["params"]["colour"] == "red"
    assert [p.field for p in graph.validate()] == ["colour"]


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{ not json", "not valid JSON (line 1"),
        ({"format": "other"}, "not a pipeline file"),
        ({"format": "mif-pipeline", "version": 9, "nodes": []}, "unsupported version 9"),
        ({"format": "mif-pipeline", "version": 1, "nodes": [{"id": "x", "type": "acme.Nope"}]},
         "node 'x': unknown node type 'acme.Nope'"),
        ({"format": "mif-pipeline", "version": 1, "nodes": [{"id": "x y", "type": "optim.Adam"}]}, "nodes[0]: id"),
        ({"format": "mif-pipeline", "version": 1, "nodes": [{"id": "a", "type": "optim.Adam", "position": "here"}]},
         "node 'a', field 'position': must be [x, y]"),
        ({"format": "mif-pipeline", "version": 1, "nodes": [], "links": [{"from": "a.b", "to": "c.d"}]},
         "links[0].from: no node 'a'"),
    ],
)
def test_bad_files_give_one_message_naming_file_and_place(
    registry: NodeRegistry, tmp_path: Path, content: object, expected: str
) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(PipelineFileError) as caught:
        load_pipeline(path, registry)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)


def test_missing_file(registry: NodeRegistry, tmp_path: Path) -> None:
    with pytest.raises(PipelineFileError, match="file not found"):
        load_pipeline(tmp_path / "absent.json", registry)


def test_failed_save_keeps_the_existing_file(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load_pipeline(DEFAULT_PIPELINE, registry)
    with pytest.raises(PipelineFileError, match="cannot write"):
        save_pipeline(graph, tmp_path / "no-such-dir" / "p.json")
    target = tmp_path / "p.json"
    target.write_text("original")

    def refuse(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(PipelineFileError, match="No space left on device"):
        save_pipeline(graph, target)
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"], "the temp file is cleaned up"


def test_a_160_kb_file_of_escaped_quotes_is_refused_in_one_pass(tmp_path: Path) -> None:
    # Over 64 brackets (so the deep-value cut runs), then an unclosed string of 81,920 escaped quotes:
    # the old string regex was tried again from each of them (122 s for this file); now the child
    # refuses it, naming the place, well within the generous cap.
    path = tmp_path / "quotes.json"
    path.write_text(escaped_quotes_text(160))
    assert path.stat().st_size > 160_000
    lines = load_and_validate_bounded(path, memory_bytes=1_500_000_000, timeout_s=60)
    assert lines == [f"refused: {path}: not valid JSON (line 1, column 66: Expecting value)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "mif-pipeline", "version": 1, "version": 1, "nodes": []}',
         "key 'version' is given more than once at the top level"),
        ('{"format": "mif-pipeline", "version": 1, "nodes": [{"id": "a", "type": "optim.Adam"}, '
         '{"id": "b", "type": "optim.Adam", "params": {"lr": 0.1, "lr": 10}}]}',
         "key 'lr' is given more than once in nodes[1].params"),
        ('{"format": "mif-pipeline", "version": 1, "nodes": [], "links": [{"from": "a.b", "to": "c.d", "to": "e.f"}]}',
         "key 'to' is given more than once in links[0]"),
    ],
)
def test_duplicate_keys_are_refused_naming_key_and_place(registry: NodeRegistry, text: str, expected: str) -> None:
    with pytest.raises(PipelineFileError) as caught:
        loads(text, registry, source="dup.json")
    assert str(caught.value) == f"dup.json: {expected} (a key may appear once in an object)"


def test_every_duplicate_key_is_named_at_once(registry: NodeRegistry) -> None:
    text = ('{"format": "mif-pipeline", "version": 1, "nodes": [{"id": "a", "id": "b", "type": "optim.Adam", '
            '"params": {"a key": 1, "a key": 2, "lr": [{"x": 1, "x": 2}]}}]}')
    with pytest.raises(PipelineFileError) as caught:
        loads(text, registry, source="dup.json")
    assert str(caught.value).splitlines() == [
        "dup.json: 3 problems:",
        "  dup.json: key 'id' is given more than once in nodes[0] (a key may appear once in an object)",
        "  dup.json: key 'a key' is given more than once in nodes[0].params (a key may appear once in an object)",
        '  dup.json: key \'x\' is given more than once in nodes[0].params.lr[0] (a key may appear once in an object)',
    ]


@pytest.mark.parametrize("node_id", ["trainer\n", "trainer_2\n"])
def test_node_ids_with_a_line_break_are_refused(registry: NodeRegistry, node_id: str) -> None:
    text = json.dumps({"format": "mif-pipeline", "version": 1, "nodes": [{"id": node_id, "type": "optim.Adam"}]})
    with pytest.raises(PipelineFileError, match=r"nodes\[0\]: id '.*' must be letters, digits"):
        loads(text, registry, source="ids.json")
