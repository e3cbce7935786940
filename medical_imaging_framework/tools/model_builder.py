"""Build a pipeline's network on its own: the model node a checkpoint's weights belong to.

`mif export` and `mif report` need the architecture without running the whole pipeline (no data, no
training): the model node is a node with a ``Model`` output and no inputs, run alone.
"""

from __future__ import annotations

from typing import Any

from torch import nn

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


def build_model(graph: Graph, node_id: str = "") -> tuple[str, nn.Module]:
    """Run the pipeline's model node alone and return ``(node id, freshly initialised network)``.

    Args:
        graph: the pipeline.
        node_id: which model node (needed only when the pipeline has several).

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
    node = graph.nodes[node_id]
    problems = [problem for problem in graph.validate() if problem.node_id == node_id]
    if problems:
        raise NodeError("; ".join(str(problem) for problem in problems))
    context = NodeContext(node_id=node_id, emit=_ignore, cancel=CancelToken())
    outputs = node.spec.run(context, {}, node.parsed_config())
    port = next(port.name for port in node.spec.outputs if port.kind == PortKind.MODEL)
    return node_id, outputs[port]


def _names(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "none"


def _ignore(event: Any) -> None:
    return None
