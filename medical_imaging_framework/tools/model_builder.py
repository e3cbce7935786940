"""Build a pipeline's network on its own: the model node a checkpoint's weights belong to.

`mif export` and `mif report` need the architecture without running the whole pipeline (no data, no
training): the model node is a node with a ``Model`` output and no inputs, run alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from medical_imaging_framework.core.checks import CheckContext, Facts
from medical_imaging_framework.core.graph import Graph
from medical_imaging_framework.core.ports import PortKind
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import NodeContext


def model_nodes(graph: Graph) -> list[str]:
    """Ids of the nodes that output a ``Model`` from no input (the architecture nodes).

    Args:
        graph: the pipeline.
    """
    return [
        node_id
        for node_id, node in graph.nodes.items()
        if not node.spec.inputs and any(port.kind == PortKind.MODEL for port in node.spec.outputs)
    ]


def model_facts(graph: Graph, node_id: str) -> Facts:
    """What the model node's check states about its network (dims, channels, size multiple), as validation sees it.

    Args:
        graph: the pipeline.
        node_id: a model node (no inputs), whose parameters are valid.
    """
    node = graph.nodes[node_id]
    context = CheckContext(node_id=node_id, config=node.parsed_config())
    if node.spec.check is not None:
        node.spec.check(context)
    return context.outputs.get("model", {})


def build_model(
    graph: Graph, node_id: str = "", check: Callable[[nn.Module], None] | None = None
) -> tuple[str, nn.Module]:
    """Run the pipeline's model node alone and return ``(node id, freshly initialised network)``.

    With ``check``, the network is first built on the ``meta`` device (shapes, no memory) and given to it:
    a pipeline may describe any size of network (a UNet of 65,536 channels takes 154 GB), so `mif export`
    compares the shapes with the checkpoint's weights before a byte is allocated, and the real network is
    then no larger than those weights. A node whose network cannot be built on ``meta`` (a plugin's, say)
    is built as it is.

    Args:
        graph: the pipeline.
        node_id: which model node (needed only when the pipeline has several).
        check: raises when the (meta) network must not be built, e.g. `checkpoints.files.check_model_fits`.

    Raises:
        NodeError: no model node, several without ``node_id``, an unknown id, or bad parameters.
    """
    candidates = model_nodes(graph)
    if node_id:
        if node_id not in candidates:
            raise NodeError(f"'{node_id}' is not a model node of this pipeline (model nodes: {_names(candidates)})")
    elif len(candidates) == 1:
        node_id = candidates[0]
    elif not candidates:
        raise NodeError("the pipeline has no model node (a node with a Model output, e.g. models.UNet)")
    else:
        raise NodeError(f"the pipeline has several model nodes ({_names(candidates)}): name one with --node")
    problems = [problem for problem in graph.validate() if problem.node_id == node_id]
    if problems:
        raise NodeError("; ".join(str(problem) for problem in problems))
    if check is not None:
        shapes = build_on_meta(graph, node_id)
        if shapes is not None:
            check(shapes)
    return node_id, run_alone(graph, node_id, PortKind.MODEL)


def run_alone(graph: Graph, node_id: str, kind: str) -> Any:
    """Run node ``node_id`` (one without inputs) alone and return its output of port kind ``kind``.

    Args:
        graph: the pipeline.
        node_id: the node.
        kind: a `PortKind`, e.g. ``PortKind.MODEL``.
    """
    node = graph.nodes[node_id]
    port = next(port.name for port in node.spec.outputs if port.kind == kind)
    context = NodeContext(node_id=node_id, emit=_ignore, cancel=CancelToken())
    return node.spec.run(context, {}, node.parsed_config())[port]


def build_on_meta(graph: Graph, node_id: str) -> nn.Module | None:
    """Model node ``node_id``'s network with every tensor on the ``meta`` device (shapes, no memory); None
    when the network cannot be built there.

    Args:
        graph: the pipeline.
        node_id: a model node (`model_nodes`).

    Raises:
        NodeError: the node's parameters are refused by its own run.
    """
    try:
        with torch.device("meta"):
            model = run_alone(graph, node_id, PortKind.MODEL)
    except NodeError:
        raise
    except Exception:  # e.g. a network whose __init__ reads a value (.item()) that meta tensors lack
        return None
    return model if all(value.is_meta for value in model.state_dict().values()) else None


def _names(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "none"


def _ignore(event: Any) -> None:
    return None
