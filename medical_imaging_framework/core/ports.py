"""Ports: the typed inputs and outputs of a node. A link is legal only between equal kinds."""

from __future__ import annotations

from dataclasses import dataclass


class PortKind:
    """The data kinds that flow along links (plain strings, so plugins can add their own)."""

    DATASET = "Dataset"
    DATALOADER = "DataLoader"
    TRANSFORM = "Transform"
    MODEL = "Model"
    LOSS = "Loss"
    OPTIMIZER = "Optimizer"
    SCHEDULER = "Scheduler"
    TRAINED_MODEL = "TrainedModel"
    PREDICTIONS = "Predictions"
    METRICS = "Metrics"


@dataclass(frozen=True)
class Port:
    """One input or output of a node type.

    Args:
        name: port name, unique among the node's inputs (or outputs).
        kind: the data kind, e.g. ``PortKind.DATALOADER``.
        required: for inputs, whether the node cannot run without a link here.
        help: one sentence shown as a tooltip.
    """

    name: str
    kind: str
    required: bool = True
    help: str = ""
