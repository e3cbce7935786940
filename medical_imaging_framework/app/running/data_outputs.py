"""The outputs of a run's data nodes, for the sample view: a node selected after a run shows an item of the
dataset it produced.

A run in the editor's thread leaves its outputs here. A run in child processes cannot (its objects stayed in
those processes), so a data node's outputs are rebuilt in this process on demand: its part of the pipeline
(the node and the data nodes it depends on, never a Trainer) runs in a background thread, and `ready` says
when it is there. Building a dataset reads no image until an item is asked for, except for a memory cache,
which the run filled the same way.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.core import Node, PortKind
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.status import RunStatus

if TYPE_CHECKING:  # the run session (recorder, launcher) is imported by a run, not before the window paints
    from medical_imaging_framework.run.session import RunSession

DATA_FAMILIES = ("data", "io", "transforms")  # the families whose nodes only describe and read data
DATA_KINDS = (PortKind.DATASET, PortKind.DATALOADER)


class DataOutputs(QObject):
    """The last run's data-node outputs, rebuilt in the background when the run was in child processes.

    Args:
        parent: owning QObject (the main window).
    """

    ready = Signal(str)  # a node id whose outputs were rebuilt

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.outputs: dict[str, dict[str, Any]] = {}
        self.session: RunSession | None = None  # set after a run in child processes that ended well
        self.building: set[str] = set()
        self.wanted = ""  # the node whose sample was asked for last: only its rebuild is announced

    def reset(self) -> None:
        """Forget the last run (another pipeline, or a new run)."""
        self.outputs, self.session = {}, None

    def run_finished(self, session: RunSession | None, result: RunResult | None) -> None:
        """Keep what ``result`` gave back; remember ``session`` when its outputs stayed in child processes."""
        self.reset()
        if result is None:
            return
        self.outputs = dict(result.outputs)
        if session is not None and session.in_child_processes and result.status == RunStatus.DONE:
            self.session = session

    def sample(self, node: Node, index: int = 0) -> tuple[Any, Any, str] | None:
        """(image, label, caption) of item ``index`` of the dataset ``node`` produced in the last run; None when
        its outputs are not here (see `rebuild`) or hold no image item.

        Args:
            node: a node of the pipeline (its outputs are looked up by id).
            index: the dataset item.
        """
        outputs = self.outputs.get(node.id)
        for port in node.spec.outputs if outputs else ():
            value = outputs.get(port.name)
            if port.kind == PortKind.DATALOADER:
                value = getattr(value, "dataset", None)
            elif port.kind != PortKind.DATASET:
                continue
            if value is None or len(value) == 0:
                continue
            item = value[min(index, len(value) - 1)]
            if isinstance(item, dict) and "image" in item:
                return item["image"], item.get("label"), f"{node.id}.{port.name}: item {index} of {len(value)}"
        return None

    def can_rebuild(self, node_id: str) -> bool:
        """Whether ``node_id`` produced a dataset in the last run (in child processes) that can be rebuilt here."""
        if self.session is None or node_id in self.outputs or node_id not in self.session.graph.nodes:
            return False
        node = self.session.graph.nodes[node_id]
        if not any(port.kind in DATA_KINDS for port in node.spec.outputs):
            return False
        part = self.session.graph.upstream(node_id)
        return all(other.type_id.split(".", 1)[0] in DATA_FAMILIES for other in part.nodes.values())

    def rebuild(self, node_id: str) -> bool:
        """Start rebuilding the outputs of ``node_id`` (see `can_rebuild`); `ready` follows when it is still the
        node asked for last. True while it is being rebuilt; False when it cannot be."""
        self.wanted = node_id
        if node_id in self.building or not self.can_rebuild(node_id):
            return node_id in self.building
        assert self.session is not None
        part, session = self.session.upstream(node_id), self.session
        self.building.add(node_id)
        holder: dict[str, RunResult] = {}
        thread = threading.Thread(target=lambda: holder.setdefault("result", part.run_here()),
                                  name="mif-data-outputs", daemon=True)
        thread.start()
        collector().watch(thread, lambda: self._rebuilt(node_id, session, holder.get("result")))
        return True

    def _rebuilt(self, node_id: str, session: RunSession, result: RunResult | None) -> None:
        self.building.discard(node_id)
        if session is not self.session or result is None or result.status != RunStatus.DONE:
            return  # another run came meanwhile, or the data could not be built here: no sample
        for other, outputs in result.outputs.items():
            self.outputs.setdefault(other, outputs)
        if node_id == self.wanted:
            self.ready.emit(node_id)
