"""What an exported model needs besides its weights, read from its pipeline: ``<model file>.json``.

An exported network expects its input exactly as the pipeline prepared it (intensity window or
normalisation, size, padding) and gives logits that the Predictor turned into classes. This module reads
those from the pipeline and writes them beside the model as plain JSON:

- ``preprocessing``: MONAI dictionary transforms by name with their arguments (``LoadImaged`` first, then
  the deterministic steps of the chain that fed the Predictor, or the Trainer's validation data), the
  same descriptions the transform nodes build their steps from (`nodes.transforms.steps`);
- ``inference``: whole image or sliding window (``roi_size``, ``sw_batch_size``, ``overlap``, ``mode``), and
  ``tta_flips`` when the Predictor averages over flips;
- ``output``: ``sigmoid`` + ``threshold`` (one channel) or ``softmax`` + ``argmax``;
- ``classes`` (names from a Decathlon ``dataset.json`` when the pipeline reads one) and the label mapping.

`docs/deploy.md` shows how to apply it with MONAI alone. Kept by hand: MONAI bundles describe a whole
training workspace; a deployment needs only this. Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.nodes.transforms.steps import step_description

FORMAT, VERSION = "mif-deploy", 1
LOAD_IMAGE = {"transform": "LoadImaged", "keys": ["image"], "image_only": True, "ensure_channel_first": True,
              "dtype": "float32"}
# the Predictor's own defaults, for a pipeline without one
PREDICTOR_DEFAULTS = {"sliding_window": "auto", "roi_size": [64, 64, 64], "sw_batch_size": 4, "overlap": 0.25,
                      "threshold": 0.5, "blend_mode": "gaussian", "tta_flips": False}


def config_path(model_file: str | Path) -> Path:
    """The deployment file beside ``model_file``: ``model.onnx`` -> ``model.onnx.json``.

    Args:
        model_file: the exported model.
    """
    path = Path(model_file)
    return path.with_name(path.name + ".json")


def model_node_of(graph: Graph, node_id: str, port: str = "model") -> str | None:
    """The architecture node (``models.*``) behind ``node_id``'s input ``port``, through Trainers and loaders.

    Args:
        graph: the pipeline.
        node_id: e.g. an Export Model or Predictor node.
        port: its model input.
    """
    seen: set[str] = set()
    link = graph.inputs_of(node_id).get(port)
    while link is not None and link.source not in seen:
        seen.add(link.source)
        if graph.nodes[link.source].type_id.startswith("models."):
            return link.source
        link = graph.inputs_of(link.source).get("model")
    return None


def deploy_config(graph: Graph, model_id: str | None, *, model_file: str | Path, fmt: str,
                  input_shape: tuple[int, ...], output_channels: int) -> dict[str, Any]:
    """The deployment description of the model ``model_id`` of ``graph`` (see the module).

    Args:
        graph: the pipeline the model was trained (or predicted) with.
        model_id: its architecture node; None when unknown (defaults are written).
        model_file: the exported file (its name is recorded).
        fmt: ``onnx`` or ``torchscript``.
        input_shape: the export's sample input, ``(batch, channels, *spatial)``.
        output_channels: channels of the model's output.
    """
    predictor = _predictor(graph, model_id)
    settings = dict(PREDICTOR_DEFAULTS)
    if predictor is not None:
        settings.update(graph.nodes[predictor].parsed_config())
    loader = _loader(graph, predictor, model_id)
    steps, training_only, source = _chain(graph, loader)
    spatial_dims = len(input_shape) - 2
    choice = settings["sliding_window"]
    sliding = choice == "on" or (choice == "auto" and spatial_dims == 3)
    inference: dict[str, Any] = {"sliding_window": sliding}
    if sliding:
        inference.update(roi_size=list(settings["roi_size"]), sw_batch_size=settings["sw_batch_size"],
                         overlap=settings["overlap"], mode=settings["blend_mode"])
    if settings["tta_flips"]:  # only when on: files of pipelines without it stay as they were
        inference["tta_flips"] = True
    if output_channels == 1:
        output: dict[str, Any] = {"channels": 1, "activation": "sigmoid", "threshold": settings["threshold"]}
    else:
        output = {"channels": output_channels, "activation": "softmax", "argmax": True}
    model: dict[str, Any] = {"file": Path(model_file).name, "format": fmt, "node": model_id or ""}
    if fmt == "onnx":
        model.update(input_name="image", output_name="logits")
    return {
        "format": FORMAT, "version": VERSION, "model": model,
        "input": {"channels": input_shape[1], "spatial_dims": spatial_dims, "exported_size": list(input_shape[2:])},
        "preprocessing": [dict(LOAD_IMAGE), *steps],
        "training_only": training_only,
        "inference": inference,
        "output": output,
        "classes": _classes(graph, source, max(2, output_channels)),
        "label_mapping": _label_mapping(graph, source),
        "predictor": predictor or "",
    }


def write_deploy_config(config: dict[str, Any], model_file: str | Path) -> Path:
    """Write ``config`` beside ``model_file`` (`config_path`), atomically; returns the path.

    Args:
        config: from `deploy_config`.
        model_file: the exported model.
    """
    path = config_path(model_file)
    write_atomically(path, json.dumps(config, indent=2) + "\n")
    return path


def _predictor(graph: Graph, model_id: str | None) -> str | None:
    predictors = [node.id for node in graph.nodes.values() if node.type_id == "inference.Predictor"]
    same_model = [node_id for node_id in predictors if model_node_of(graph, node_id) == model_id]
    return (same_model or predictors or [None])[0]


def _loader(graph: Graph, predictor: str | None, model_id: str | None) -> str | None:
    """The loader of the data the model predicts: the Predictor's, else a Trainer's validation/training data."""
    if predictor is not None and "data" in graph.inputs_of(predictor):
        return graph.inputs_of(predictor)["data"].source
    for node in graph.nodes.values():
        if node.type_id == "training.Trainer" and model_node_of(graph, node.id) in (model_id, None):
            links = graph.inputs_of(node.id)
            link = links.get("val_data") or links.get("train_data")
            if link is not None:
                return link.source
    return None


def _chain(graph: Graph, loader: str | None) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """(deterministic step descriptions in order, random nodes left out, the data node under the transforms)."""
    if loader is None or "dataset" not in graph.inputs_of(loader):
        return [], [], None
    link = graph.inputs_of(loader)["dataset"]
    source: str | None = link.source
    nodes: list[str] = []
    if source is not None and graph.nodes[source].type_id == "transforms.Apply":
        apply_inputs = graph.inputs_of(source)
        data = apply_inputs.get(link.source_port) or apply_inputs.get("val") or apply_inputs.get("train")
        step = apply_inputs.get("transform")
        while step is not None and step.source not in nodes:
            nodes.insert(0, step.source)
            step = graph.inputs_of(step.source).get("transform")
        source = data.source if data is not None else None
    steps, training_only = [], []
    for node_id in nodes:
        node = graph.nodes[node_id]
        description = step_description(node.type_id, node.parsed_config(), ["image"])
        if description is None:
            training_only.append(f"{node_id} ({node.type_id})")
        else:
            steps.append(description)
    return steps, training_only, _data_node(graph, source)


def _data_node(graph: Graph, node_id: str | None) -> str | None:
    """The node that reads the items (through splits): the one with a ``label_mapping`` or no dataset input."""
    seen: set[str] = set()
    while node_id is not None and node_id not in seen:
        seen.add(node_id)
        link = graph.inputs_of(node_id).get("dataset")
        if link is None:
            return node_id
        node_id = link.source
    return node_id


def _label_mapping(graph: Graph, source: str | None) -> str:
    if source is None:
        return "none"
    return str(graph.nodes[source].config.get("label_mapping", "none"))


def _classes(graph: Graph, source: str | None, count: int) -> dict[str, str]:
    """Class index -> name: from the Decathlon ``dataset.json`` a Datalist reads (when readable), else generic."""
    names = {"0": "background", **{str(index): f"class {index}" for index in range(1, count)}}
    if source is None or graph.nodes[source].type_id != "io.Datalist":
        return names
    try:
        labels = json.loads(Path(str(graph.nodes[source].config.get("path", ""))).expanduser().read_text("utf-8"))
        labels = labels.get("labels") if isinstance(labels, dict) else None
    except (OSError, ValueError):
        return names  # a CSV datalist, or a file not on this machine: the generic names
    if isinstance(labels, dict):
        names.update({str(key): str(value) for key, value in labels.items() if str(key) in names})
    return names
