"""What differs between two pipelines in their file form: changed parameters, added/removed nodes and links.

Positions on the canvas, notes and groups are not compared: they do not change what a run computes. The
parameters that only say where a run writes (`OUTPUT_PARAMS`: every run has its own checkpoint folder) are
changes of kind ``output``, listed after the others, so that "what differs" reads as what was computed
differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """One difference from pipeline ``a`` to pipeline ``b``.

    Args:
        kind: ``param`` (a parameter's value), ``output`` (a parameter of `OUTPUT_PARAMS`), ``node added``,
            ``node removed``, ``node type``, ``link added``, ``link removed``.
        node: the node id ("" for a link).
        field: the parameter ("" unless ``param``); for a link, ``FROM -> TO``.
        old: the value in ``a`` (None when absent).
        new: the value in ``b`` (None when absent).
    """

    kind: str
    node: str
    field: str = ""
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        """One line: ``adam.lr: 0.001 -> 0.01``, ``+ node dice_2 (losses.DiceLoss)``, ``- link a.x -> b.y``."""
        if self.kind in ("param", "output"):
            return f"{self.node}.{self.field}: {_shown(self.old)} -> {_shown(self.new)}"
        if self.kind == "node type":
            return f"{self.node}: type {self.old} -> {self.new}"
        sign = "+" if self.kind.endswith("added") else "-"
        if self.kind.startswith("link"):
            return f"{sign} link {self.field}"
        return f"{sign} node {self.node} ({self.new if sign == '+' else self.old})"


_MISSING = object()
OUTPUT_PARAMS = frozenset({"checkpoint_dir", "output_dir", "tensorboard_dir", "mlflow_tracking_uri"})


def _shown(value: Any) -> str:
    return "(absent)" if value is None else repr(value)


def _nodes(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(node.get("id")): node for node in pipeline.get("nodes", []) if isinstance(node, dict)}


def _links(pipeline: dict[str, Any]) -> list[str]:
    return [f"{link.get('from')} -> {link.get('to')}" for link in pipeline.get("links", []) if isinstance(link, dict)]


def diff_pipelines(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """The changes from pipeline ``a`` to ``b`` (file form, as in a run record), in node order.

    A parameter absent from one side (a file written before the parameter existed) counts as changed only
    when the other side has a value.

    Args:
        a: the first pipeline (e.g. the older run's).
        b: the second pipeline.
    """
    nodes_a, nodes_b = _nodes(a), _nodes(b)
    changes: list[Change] = []
    outputs: list[Change] = []
    for node_id, node in nodes_a.items():
        if node_id not in nodes_b:
            changes.append(Change("node removed", node_id, old=node.get("type")))
            continue
        other = nodes_b[node_id]
        if node.get("type") != other.get("type"):
            changes.append(Change("node type", node_id, old=node.get("type"), new=other.get("type")))
            continue
        params_a, params_b = dict(node.get("params") or {}), dict(other.get("params") or {})
        for name in [*params_a, *(name for name in params_b if name not in params_a)]:
            old, new = params_a.get(name, _MISSING), params_b.get(name, _MISSING)
            if old != new:
                kind, into = ("output", outputs) if name in OUTPUT_PARAMS else ("param", changes)
                into.append(Change(kind, node_id, name, None if old is _MISSING else old,
                                   None if new is _MISSING else new))
    changes += [Change("node added", node_id, new=node.get("type")) for node_id, node in nodes_b.items()
                if node_id not in nodes_a]
    links_a, links_b = _links(a), _links(b)
    changes += [Change("link removed", "", link) for link in links_a if link not in links_b]
    changes += [Change("link added", "", link) for link in links_b if link not in links_a]
    return changes + outputs


__all__ = ["OUTPUT_PARAMS", "Change", "diff_pipelines"]
