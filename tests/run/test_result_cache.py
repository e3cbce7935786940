"""Re-run only what changed (run/cache.py + the executor), with toy nodes and no torch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from medical_imaging_framework.core import Graph, NodeRegistry, NodeSpec, Param, ParamKind, Port
from medical_imaging_framework.core.node_spec import NEVER, REFERENCE, CachePolicy
from medical_imaging_framework.run.cache import ResultCache, node_key
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import Executor


class Calls:
    """Counts how often each toy node ran, and what it wrote for the reference node."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.fail: set[str] = set()


CALLS = Calls()


def _source(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    CALLS.runs.append(ctx.node_id)
    return {"out": config["value"]}


def _scale(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    CALLS.runs.append(ctx.node_id)
    if ctx.node_id in CALLS.fail:
        raise NodeError("asked to fail")
    return {"out": inputs["value"] * config["factor"]}


def _train(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A 'training' that writes its result to a file, which the reference names."""
    CALLS.runs.append(ctx.node_id)
    path = Path(config["path"])
    path.write_text(str(inputs["value"] + 1), encoding="utf-8")
    return {"out": inputs["value"] + 1}


def _reference(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"label": f"value {outputs['out']}", "value": outputs["out"]}


def _restore(ctx: Any, inputs: dict[str, Any], config: dict[str, Any], reference: dict[str, Any]) -> Any:
    path = Path(config["path"])
    if not path.is_file() or path.read_text(encoding="utf-8") != str(reference["value"]):
        return None
    return {"out": int(path.read_text(encoding="utf-8"))}


def _registry() -> NodeRegistry:
    registry = NodeRegistry(discover=False)
    value = Param("value", ParamKind.INT, 1, "Value")
    registry.register(NodeSpec("toy.Source", "Source", "Toy", _source, outputs=(Port("out", "Number"),),
                               params=(value,)))
    registry.register(NodeSpec(
        "toy.FileSource", "File Source", "Toy", _source, outputs=(Port("out", "Number"),),
        params=(value, Param("path", ParamKind.PATH, "", "File")),
        cache=CachePolicy(watch=lambda config: [config["path"]] if config["path"] != "last" else None)))
    registry.register(NodeSpec("toy.Fresh", "Fresh", "Toy", _source, outputs=(Port("out", "Number"),),
                               params=(value,), cache=CachePolicy(mode=NEVER)))
    scale = dict(inputs=(Port("value", "Number"),), outputs=(Port("out", "Number"),),
                 params=(Param("factor", ParamKind.INT, 2, "Factor"), Param("path", ParamKind.PATH, "", "File")))
    registry.register(NodeSpec("toy.Scale", "Scale", "Toy", _scale, **scale))
    registry.register(NodeSpec("toy.Writer", "Writer", "Toy", _scale, **scale,
                               cache=CachePolicy(products=lambda config: [config["path"]])))
    registry.register(NodeSpec(
        "toy.Train", "Train", "Toy", _train, inputs=(Port("value", "Number"),), outputs=(Port("out", "Number"),),
        params=(Param("path", ParamKind.PATH, "", "File"),),
        cache=CachePolicy(mode=REFERENCE, reference=_reference, restore=_restore)))
    return registry


def _chain(*types: str) -> Graph:
    """n0 -> n1 -> ... of the given types."""
    registry, graph = _registry(), Graph("toy")
    for index, type_id in enumerate(types):
        graph.add_node(registry.create(type_id, f"n{index}"))
        if index:
            graph.connect(f"n{index - 1}", "out", f"n{index}", "value")
    return graph


def _run(graph: Graph, cache: ResultCache | None,
         cancel: CancelToken | None = None) -> tuple[Any, list[str], list[str]]:
    """Run; returns the result, the nodes that ran, and the "reused:" lines."""
    CALLS.runs.clear()
    events: list[Event] = []
    result = Executor(graph, events.append, cancel=cancel, cache=cache).run()
    reused = [e.text for e in events if isinstance(e, LogLine) and e.text.startswith("reused:")]
    return result, list(CALLS.runs), reused


def test_an_unchanged_pipeline_is_reused_and_a_changed_node_reruns_with_reused_inputs() -> None:
    graph, cache = _chain("toy.Source", "toy.Scale", "toy.Scale"), ResultCache()
    assert _run(graph, cache)[1] == ["n0", "n1", "n2"]
    result, ran, reused = _run(graph, cache)
    assert ran == [] and result.outputs["n2"]["out"] == 4
    assert reused == ["reused: n0 (in memory)", "reused: n1 (in memory)", "reused: n2 (in memory)"]
    graph.nodes["n2"].config["factor"] = 3  # only the last node changed
    result, ran, reused = _run(graph, cache)
    assert ran == ["n2"] and result.outputs["n2"]["out"] == 6
    assert reused == ["reused: n0 (in memory)", "reused: n1 (in memory)"]
    graph.nodes["n1"].config["factor"] = 5  # a change re-runs that node and everything below it
    result, ran, _ = _run(graph, cache)
    assert ran == ["n1", "n2"] and result.outputs["n2"]["out"] == 15


def test_without_a_cache_every_node_runs() -> None:
    graph, cache = _chain("toy.Source", "toy.Scale"), ResultCache()
    _run(graph, cache)
    assert _run(graph, None)[1:] == (["n0", "n1"], [])


def test_a_never_node_runs_each_time_but_its_key_still_lets_the_nodes_below_be_reused() -> None:
    graph, cache = _chain("toy.Fresh", "toy.Scale"), ResultCache()
    _run(graph, cache)
    assert _run(graph, cache)[1:] == (["n0"], ["reused: n1 (in memory)"])


def test_a_touched_watched_file_reruns_its_node_and_the_nodes_below(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("a", encoding="utf-8")
    graph, cache = _chain("toy.FileSource", "toy.Scale"), ResultCache()
    graph.nodes["n0"].config["path"] = str(data)
    _run(graph, cache)
    assert _run(graph, cache)[1] == []
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, newer
    assert _run(graph, cache)[1] == ["n0", "n1"]
    data.write_text("ab", encoding="utf-8")
    assert _run(graph, cache)[1] == ["n0", "n1"]
    graph.nodes["n0"].config["path"] = str(tmp_path)  # a folder: each file in it counts
    _run(graph, cache)
    (tmp_path / "more.txt").write_text("c", encoding="utf-8")
    assert _run(graph, cache)[1] == ["n0", "n1"]


def test_a_node_whose_watch_says_not_reusable_reruns_with_everything_below() -> None:
    graph, cache = _chain("toy.FileSource", "toy.Scale"), ResultCache()
    graph.nodes["n0"].config["path"] = "last"
    _run(graph, cache)
    assert _run(graph, cache)[1] == ["n0", "n1"]


def test_a_node_whose_products_are_gone_reruns(tmp_path: Path) -> None:
    graph, cache = _chain("toy.Source", "toy.Writer"), ResultCache()
    product = tmp_path / "written"
    product.mkdir()
    graph.nodes["n1"].config["path"] = str(product)
    _run(graph, cache)
    assert _run(graph, cache)[1] == []
    product.rmdir()
    assert _run(graph, cache)[1] == ["n1"]


def test_a_reference_entry_is_reused_by_a_new_process_until_its_file_changes(tmp_path: Path) -> None:
    graph = _chain("toy.Source", "toy.Train", "toy.Scale")
    graph.nodes["n1"].config["path"] = str(tmp_path / "trained.txt")
    index = tmp_path / "index"
    _run(graph, ResultCache(index))
    entries = list(index.glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["node"] == "n1"
    result, ran, reused = _run(graph, ResultCache(index))  # a new cache: nothing in memory, as in a new process
    assert ran == ["n0", "n2"] and result.outputs["n2"]["out"] == 4
    assert reused == ["reused: n1 (value 2)"]
    (tmp_path / "trained.txt").write_text("7", encoding="utf-8")  # the referenced result was replaced
    assert _run(graph, ResultCache(index))[1] == ["n0", "n1", "n2"]


def test_a_failed_or_stopped_node_is_not_kept() -> None:
    graph, cache = _chain("toy.Source", "toy.Scale", "toy.Scale"), ResultCache()
    CALLS.fail.add("n1")
    try:
        assert _run(graph, cache)[0].status == "failed"
    finally:
        CALLS.fail.clear()
    assert _run(graph, cache)[1] == ["n1", "n2"]
    cancel = CancelToken()
    cancel.cancel()
    graph.nodes["n2"].config["factor"] = 9
    assert _run(graph, cache, cancel)[0].status == "cancelled"
    assert _run(graph, cache)[1] == ["n2"]


def test_keys_are_canonical_and_cover_type_params_inputs_and_files(tmp_path: Path) -> None:
    base = node_key("t.A", {"a": 1, "b": [1, 2]}, {"x": ("k1", "out"), "y": ("k2", "out")}, [])
    assert base == node_key("t.A", {"b": [1, 2], "a": 1}, {"y": ("k2", "out"), "x": ("k1", "out")}, [])
    assert base != node_key("t.B", {"a": 1, "b": [1, 2]}, {"x": ("k1", "out"), "y": ("k2", "out")}, [])
    assert base != node_key("t.A", {"a": 2, "b": [1, 2]}, {"x": ("k1", "out"), "y": ("k2", "out")}, [])
    assert base != node_key("t.A", {"a": 1, "b": [1, 2]}, {"x": ("k1", "val"), "y": ("k2", "out")}, [])
    assert base != node_key("t.A", {"a": 1, "b": [1, 2]}, {"x": ("k1", "out"), "y": ("k2", "out")},
                            [str(tmp_path / "missing")])


def test_a_reference_naming_a_changed_file_is_a_miss_and_reused_nodes_says_so_before_a_run(tmp_path: Path) -> None:
    from medical_imaging_framework.run.cache import reused_nodes

    result = tmp_path / "weights.bin"
    result.write_bytes(b"1234")
    stat = result.stat()
    cache = ResultCache(tmp_path / "index")
    stamp = {"files": {str(result): [stat.st_size, stat.st_mtime_ns]}}
    assert cache.store_reference("k", "n1", "toy.Train", stamp) == ""
    assert cache.reference("k") is not None
    result.write_bytes(b"12345")
    assert cache.reference("k") is None and cache.reference("other") is None
    graph = _chain("toy.Source", "toy.Scale")
    assert reused_nodes(graph, cache) == set()
    _run(graph, cache)
    assert reused_nodes(graph, cache) == {"n0", "n1"} and reused_nodes(graph, None) == set()
    graph.nodes["n1"].config["factor"] = 7
    assert reused_nodes(graph, cache) == {"n0"}
