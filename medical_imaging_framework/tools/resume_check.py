"""Would ``resume_from`` accept this checkpoint's optimizer state? Asked by ``mif inspect`` without training.

``resume_from`` builds the Trainer's network and optimizer from the pipeline, then loads the file's
``optimizer_state_dict`` into that optimizer; torch refuses a state whose parameter groups differ in number
or size. The file's schema cannot tell (the state of 25 parameters is well formed; the network has 26), so
this builds the network of the pipeline the file stores on the ``meta`` device (shapes, no memory), the
optimizer over it, and loads the state exactly as a resume does (`checkpoints.files.load_optimizer_state`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from medical_imaging_framework.checkpoints.files import load_optimizer_state
from medical_imaging_framework.core import NodeRegistry, PipelineFileError
from medical_imaging_framework.core.graph import Graph
from medical_imaging_framework.core.ports import PortKind
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.tools.model_builder import build_on_meta, model_nodes, run_alone


def check_optimizer_resumes(checkpoint: Mapping[str, Any], source: str) -> bool:
    """Load the file's optimizer state into the optimizer its stored pipeline builds, as ``resume_from`` does.

    Returns False when that cannot be asked: no stored pipeline, not exactly one node taking a model and
    an optimizer (the Trainer), a model or optimizer node with inputs, or a network that cannot be built on
    the ``meta`` device.

    Args:
        checkpoint: a checkpoint that passed the schema (`checkpoints.files.read_checkpoint`).
        source: the file, named in the message.

    Raises:
        CheckpointError: ``field 'optimizer_state_dict': the optimizer state does not fit this optimizer: ...``,
            the message ``resume_from`` gives for the same file.
    """
    found = _model_and_optimizer(checkpoint.get("pipeline"), source)
    if found is None:
        return False
    graph, model_id, optimizer_id = found
    try:
        model = build_on_meta(graph, model_id)
        factory = run_alone(graph, optimizer_id, PortKind.OPTIMIZER) if model is not None else None
        optimizer = factory(model.parameters()) if model is not None and callable(factory) else None
    except Exception:  # the stored pipeline is read, not trusted: what it cannot build, it cannot answer
        return False
    if optimizer is None:
        return False
    load_optimizer_state(optimizer, copy.deepcopy(checkpoint["optimizer_state_dict"]), source)
    return True


def _model_and_optimizer(pipeline: Any, source: str) -> tuple[Graph, str, str] | None:
    """The stored graph, its trainer's model node and optimizer node; None when there is not exactly one."""
    if not isinstance(pipeline, dict) or not pipeline.get("nodes"):
        return None
    from medical_imaging_framework.core.pipeline_file import graph_from_dict

    try:
        graph = graph_from_dict(pipeline, NodeRegistry(), source=f"{source} (stored pipeline)")
    except (PipelineFileError, NodeError):
        return None
    trainers = []
    for node_id, node in graph.nodes.items():
        kinds = {port.name: port.kind for port in node.spec.inputs}
        links = {kinds.get(port): link.source for port, link in graph.inputs_of(node_id).items()}
        if PortKind.MODEL in links and PortKind.OPTIMIZER in links:
            trainers.append((links[PortKind.MODEL], links[PortKind.OPTIMIZER]))
    if len(trainers) != 1:
        return None
    model_id, optimizer_id = trainers[0]
    if model_id not in model_nodes(graph) or graph.nodes[optimizer_id].spec.inputs:
        return None
    return graph, model_id, optimizer_id
