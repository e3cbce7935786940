"""End to end: the default pipeline (smaller phantom set) trains through the executor."""

from __future__ import annotations

import threading
from pathlib import Path

from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import EpochEnded, Event, NodeFinished, Progress, RunFinished
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import DEFAULT_PIPELINE, make_tiny_graph


def test_default_pipeline_trains_and_the_loss_falls(registry: NodeRegistry, tmp_path: Path) -> None:
    """The bundled pipeline as shipped (network, loss, optimizer, loaders), with a smaller phantom set."""
    graph = load_pipeline(DEFAULT_PIPELINE, registry)
    graph.nodes["phantoms"].config.update({"count": 24, "size": 64})
    graph.nodes["trainer"].config.update({"num_epochs": 2, "checkpoint_dir": str(tmp_path / "checkpoints")})
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert all(e.num_epochs == 2 and e.val_loss is not None for e in epochs)
    assert epochs[1].loss < epochs[0].loss
    assert epochs[1].val_loss < epochs[0].val_loss
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].batch == progress[-1].num_batches == 3  # 24 images -> 19 train -> 3 batches of 8
    finished = {e.node_id for e in events if isinstance(e, NodeFinished)}
    assert finished == set(graph.nodes)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "done"
    assert not result.outputs["trainer"]["model"].training, "the trained model is handed on in eval mode"


def test_cancel_token_stops_training_between_batches(registry: NodeRegistry) -> None:
    graph = make_tiny_graph(registry, num_epochs=50)
    cancel = CancelToken()
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.epoch == 2 and event.batch == 1:
            threading.Thread(target=cancel.cancel).start()

    result = Executor(graph, sink, cancel).run()
    assert result.status == "cancelled"
    batches_after = [e for e in events if isinstance(e, Progress) and (e.epoch, e.batch) > (2, 1)]
    assert len(batches_after) <= 1, "the run ends within one batch of the stop"
    assert not any(isinstance(e, EpochEnded) and e.epoch >= 2 for e in events)
