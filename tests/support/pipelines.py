"""Tiny pipelines for fast tests: the default pipeline shrunk, and running a graph into a list of events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medical_imaging_framework.core import Graph, NodeRegistry, load_pipeline
from medical_imaging_framework.core.examples import BUNDLED_PIPELINES
from medical_imaging_framework.core.pipeline_file import graph_to_dict
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event
from medical_imaging_framework.run.executor import Executor

DEFAULT_PIPELINE = BUNDLED_PIPELINES / "segmentation_train.json"


# Small enough to train an epoch in well under a second on 2 CPU cores.
TINY_SETTINGS = {
    "phantoms": {"count": 12, "size": 32},
    "train_loader": {"batch_size": 4},
    "val_loader": {"batch_size": 4},
    "unet": {"channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1},
    # num_threads 1, not auto: the tuner may pick another count in another run (by the load of the moment), and
    # 1 and 2 threads sum floats in another order (losses differ in the 8th digit); tests that compare runs bit for
    # bit need one count. The tuner itself: tests/training/test_thread_tuner.py, tests/nodes/test_trainer_threads.py
    "trainer": {"num_epochs": 2, "device": "cpu", "num_threads": "1"},
}


def make_tiny_graph(registry: NodeRegistry, checkpoint_dir: str | Path = "", **trainer_config: object) -> Graph:
    """The default pipeline shrunk to a tiny phantom set and network (see TINY_SETTINGS).

    Args:
        registry: node types.
        checkpoint_dir: the Trainer's checkpoint_dir ("" disables saving).
        trainer_config: further Trainer parameters, e.g. num_epochs=3.
    """
    graph = load_pipeline(DEFAULT_PIPELINE, registry)
    for node_id, settings in TINY_SETTINGS.items():
        graph.nodes[node_id].config.update(settings)
    graph.nodes["trainer"].config.update({"checkpoint_dir": str(checkpoint_dir), **trainer_config})
    return graph


def run_graph(graph: Graph, cancel: CancelToken | None = None, on_event: Any = None) -> tuple[Any, list[Event]]:
    """Run ``graph``; returns the `RunResult` and every event in order (``on_event`` sees each as it comes).

    Args:
        graph: the pipeline.
        cancel: the run's stop flag.
        on_event: called with each event.
    """
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if on_event:
            on_event(event)

    return Executor(graph, sink, cancel).run(), events


def file_with_a_missing_type(registry: NodeRegistry) -> dict[str, Any]:
    """The tiny pipeline's file data with its UNet of a type no plugin provides (``acme.FancyNet``)."""
    data = graph_to_dict(make_tiny_graph(registry, "ck"))
    unet = next(node for node in data["nodes"] if node["id"] == "unet")
    unet["type"], unet["params"] = "acme.FancyNet", {"depth": 7, "widths": [8, 16], "note": "ours"}
    return data
