"""Placeholders for nodes of a type no installed plugin provides, so a pipeline file that uses one still opens.

As ComfyUI does for a missing custom node, the node keeps its type id, parameters, position and links (Save
writes them back unchanged) and `Graph.validate` refuses to run it, naming the node, its type and the plugin
that would provide it. Its ports are the ones the file links: a placeholder knows no others.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core.node_spec import NodeSpec
from medical_imaging_framework.core.ports import Port

MISSING_CATEGORY = "Missing"
UNKNOWN_KIND = "Unknown"  # the kind of a port linked only to other placeholders


def plugin_of(type_id: str) -> str:
    """The plugin family a type id names (``acme.Denoiser`` -> ``acme``): its module name, as built-in nodes'.

    Args:
        type_id: the node type.
    """
    return type_id.partition(".")[0] or type_id


def missing_message(type_id: str) -> str:
    """Why a placeholder cannot run, for `Graph.validate` and the node's tooltip.

    Args:
        type_id: the unknown node type.
    """
    return (f"node type '{type_id}' is not installed: its plugin ('{plugin_of(type_id)}' nodes) is missing or "
            "failed to load; install it, or delete this node")


def _not_runnable(*_: Any) -> dict[str, Any]:
    raise RuntimeError("a placeholder node never runs (Graph.validate refuses it)")


def missing_spec(type_id: str, inputs: dict[str, str], outputs: dict[str, str]) -> NodeSpec:
    """The spec of a placeholder for a node of the unknown type ``type_id``.

    Args:
        type_id: the type the file names (kept, so Save writes it back).
        inputs: its linked input ports, name -> kind (the kind of the port at the other end).
        outputs: its linked output ports, name -> kind.
    """
    return NodeSpec(
        type_id=type_id,
        title=f"Missing: {type_id}",
        category=MISSING_CATEGORY,
        run=_not_runnable,
        inputs=tuple(Port(name, kind, required=False) for name, kind in inputs.items()),
        outputs=tuple(Port(name, kind) for name, kind in outputs.items()),
        description=missing_message(type_id),
        placeholder=True,
    )
