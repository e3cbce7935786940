"""The smallest useful training pipeline for the reliability suites: 4 phantoms of 16 px, a 2-level UNet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medical_imaging_framework.core import Graph, NodeRegistry, load_pipeline
from medical_imaging_framework.run.events import Event, format_event
from medical_imaging_framework.run.executor import Executor

PIPELINE = (Path(__file__).resolve().parents[2] / "medical_imaging_framework" / "resources" / "pipelines"
            / "segmentation_train.json")

TINIEST_SETTINGS: dict[str, dict[str, Any]] = {
    "phantoms": {"count": 4, "size": 16},
    "split": {"val_fraction": 0.25},
    "train_loader": {"batch_size": 3},
    "val_loader": {"batch_size": 1},
    "unet": {"channels": [2, 4], "strides": [2], "num_res_units": 0},
    "trainer": {"num_epochs": 2, "device": "cpu", "save_every_n_epochs": 1},
}

# For subprocesses training the tiniest model: one intra-op thread (a second one only waits, and spins on a
# busy machine); the results are the same in every run of a suite.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def tiniest_graph(registry: NodeRegistry, checkpoint_dir: str | Path, **trainer: Any) -> Graph:
    """The default pipeline shrunk to TINIEST_SETTINGS, saving to ``checkpoint_dir``.

    Args:
        registry: node types.
        checkpoint_dir: the Trainer's checkpoint_dir.
        trainer: further Trainer parameters.
    """
    graph = load_pipeline(PIPELINE, registry)
    for node_id, settings in TINIEST_SETTINGS.items():
        graph.nodes[node_id].config.update(settings)
    graph.nodes["trainer"].config.update({"checkpoint_dir": str(checkpoint_dir), **trainer})
    return graph


def set_arguments(checkpoint_dir: str | Path, **trainer: Any) -> list[str]:
    """``--set`` arguments of ``mif run`` giving TINIEST_SETTINGS and the Trainer parameters ``trainer``."""
    values = {f"{node}.{key}": value for node, settings in TINIEST_SETTINGS.items()
              for key, value in settings.items()}
    values["trainer.checkpoint_dir"] = str(checkpoint_dir)
    values.update({f"trainer.{key}": value for key, value in trainer.items()})
    arguments = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, list):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        arguments += ["--set", f"{key}={text}"]
    return arguments


def lines_of(events: list[Event]) -> list[str]:
    """The log lines of ``events``, as the CLI prints them."""
    return "\n".join(line for event in events if (line := format_event(event)) is not None).split("\n")


def run_events(graph: Graph, sink: Any = None) -> tuple[Any, list[Event]]:
    """Run ``graph``; returns the result and every event (``sink`` also sees each event as it comes)."""
    events: list[Event] = []

    def collect(event: Event) -> None:
        events.append(event)
        if sink is not None:
            sink(event)

    return Executor(graph, collect).run(), events
