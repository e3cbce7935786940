"""The classes in the training labels held against the model's outputs, before epoch 1.

A 1-channel model is binary (sigmoid: classes 0..1); a model with C > 1 output channels takes classes
0..C-1 (softmax, the label one-hot encoded). A label holding a class the model cannot output would train
for the whole run and fail only in evaluation (1 channel), or end in the loss's one-hot encoding with a
raw ``index 2 is out of bounds`` (C channels). The classes come from the readers, which find them when
they check each label's values on the first read (``label_classes`` of `nodes.io.image_dataset`), so no
label is read twice. Datasets that do not state their classes (e.g. plugins) are not checked here.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.transforms.item_checks import LabelClasses
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

MAX_DEPTH = 64  # wrappers followed from a loader to its reader; a cycle of user wrappers must not loop forever


def labels_read(dataset: Any) -> list[LabelClasses] | None:
    """The classes of each label a loader's items come from, or None when the source does not state them.

    Follows loaders, subsets (their indices), transformed datasets (in memory: ``data``; on disk: ``source``)
    and wrappers with a ``dataset`` attribute down to a reader with ``label_classes`` (index -> classes).

    Args:
        dataset: a data loader or dataset.
    """
    indices: list[int] | None = None
    for _ in range(MAX_DEPTH):
        found = getattr(dataset, "label_classes", None)
        if isinstance(found, dict):
            chosen = sorted(found) if indices is None else indices
            return [found[index] for index in chosen if index in found]
        subset = getattr(dataset, "indices", None)
        if subset is not None and hasattr(dataset, "dataset"):  # torch Subset
            indices = list(subset) if indices is None else [list(subset)[index] for index in indices]
        nested = next((getattr(dataset, name) for name in ("dataset", "source", "data")
                       if getattr(dataset, name, None) is not None), None)
        if nested is None or isinstance(nested, (list, tuple, dict)):
            return None
        dataset = nested
    return None


def upstream(pipeline: dict[str, Any], node_id: str, port: str) -> dict[str, Any] | None:
    """The node (as saved in ``pipeline``) whose output is linked to ``node_id``'s input ``port``.

    Args:
        pipeline: the JSON-ready pipeline being run.
        node_id: the receiving node.
        port: its input port.
    """
    target = f"{node_id}.{port}"
    source = next((link.get("from", "") for link in pipeline.get("links", []) if link.get("to") == target), "")
    source_id = source.rpartition(".")[0]
    return next((node for node in pipeline.get("nodes", []) if node.get("id") == source_id), None)


def model_node(pipeline: dict[str, Any], node_id: str, model: Any = None) -> tuple[str, int] | None:
    """The node setting the model's ``out_channels`` and its value, following model links upstream.

    Args:
        pipeline: the JSON-ready pipeline being run.
        node_id: the Trainer.
        model: the network, whose ``out_channels`` (MONAI UNet, AttentionUnet) is used when the pipeline does
            not state it.
    """
    node, first = upstream(pipeline, node_id, "model"), None
    for _ in range(MAX_DEPTH):
        if node is None:
            break
        first = first or str(node.get("id"))
        params = node.get("params", node.get("config", {}))
        if "out_channels" in params:
            try:
                return str(node["id"]), int(params["out_channels"])
            except (TypeError, ValueError):
                break
        node = upstream(pipeline, str(node.get("id")), "model")
    channels = getattr(model, "out_channels", None)
    return (first or "model", channels) if isinstance(channels, int) and channels > 0 else None


def loss_advice(pipeline: dict[str, Any], node_id: str) -> str:
    """What to change on the loss node for a multi-class model (empty when it follows the model by itself).

    Args:
        pipeline: the JSON-ready pipeline being run.
        node_id: the Trainer.
    """
    node = upstream(pipeline, node_id, "loss")
    if node is None:
        return ""
    params, loss_id = node.get("params", node.get("config", {})), node.get("id")
    if "softmax" in params and not params["softmax"]:
        return f" and {loss_id}.softmax to true ({loss_id}.sigmoid to false)"
    if params.get("mode") == "sigmoid":
        return f" and {loss_id}.mode to auto or softmax"
    return ""


def class_problem(found: list[LabelClasses], model_id: str, out_channels: int, advice: str) -> str:
    """Why labels holding ``found`` cannot train a model with ``out_channels``; empty when they can.

    Args:
        found: the classes of each label.
        model_id: the node setting ``out_channels``.
        out_channels: the model's output channels.
        advice: what to change on the loss as well (see `loss_advice`).
    """
    highest = 1 if out_channels == 1 else out_channels - 1
    beyond = [label for label in found if label.classes and label.classes[-1] > highest]
    if not beyond:
        return ""
    worst = max(beyond, key=lambda label: label.classes[-1])
    needed = worst.classes[-1] + 1
    others = f" (and {len(beyond) - 1} more label file(s) hold classes above {highest})" if len(beyond) > 1 else ""
    kind = "binary, " if out_channels == 1 else ""
    return printable(
        f"labels in '{worst.file}' hold classes {', '.join(str(c) for c in worst.classes)}{others} but the model "
        f"'{model_id}' has out_channels={out_channels} ({kind}classes 0..{highest}): set {model_id}.out_channels "
        f"to {needed}{advice}"
    )


def check_label_classes(ctx: NodeContext, inputs: dict[str, Any]) -> None:
    """Raise `NodeError` when a training or validation label holds a class the model cannot output.

    Args:
        ctx: the Trainer's context (its pipeline names the model and loss nodes).
        inputs: the Trainer's inputs (``train_data``, optional ``val_data``).
    """
    model = model_node(ctx.pipeline, ctx.node_id, inputs.get("model"))
    if model is None:
        return
    found: list[LabelClasses] = []
    for port in ("train_data", "val_data"):
        found += labels_read(inputs.get(port)) or []
    problem = class_problem(found, model[0], model[1], loss_advice(ctx.pipeline, ctx.node_id))
    if problem:
        raise NodeError(problem)
