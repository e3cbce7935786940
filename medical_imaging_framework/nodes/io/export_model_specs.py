"""The ExportModel node: writes the trained network as ONNX or TorchScript for deployment, and beside it
the preprocessing, inference settings and classes it needs (`deploy_config`, ``<file>.json``).

The spec is plain data; `tools.export` (torch) is imported when the node runs.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core import (
    Graph,
    NodeRegistry,
    NodeSpec,
    Param,
    ParamKind,
    PipelineFileError,
    Port,
    PortKind,
)
from medical_imaging_framework.core.checks import CheckContext, Fact, input_size_problem
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.core.option_values import EXPORT_FORMATS
from medical_imaging_framework.core.pipeline_file import graph_from_dict
from medical_imaging_framework.nodes.io.deploy_config import deploy_config, model_node_of, write_deploy_config
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext


def run_export(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Export the linked model, check the file against it on a sample (see `tools.export`), and write the
    pipeline's preprocessing beside it (see `deploy_config`).

    Args:
        ctx: the node's context.
        inputs: ``model``, the trained network.
        config: ``path``, ``format``, ``input_size``.
    """
    from medical_imaging_framework.tools.export import ExportError, export_model, sample_input

    model = inputs["model"]
    try:
        example = sample_input(model, config["input_size"])
        result = export_model(model, config["path"], config["format"], example)
    except ExportError as error:
        raise NodeError(str(error)) from None
    ctx.log(
        f"Exported {result.format} model to {result.path} (input {list(result.input_shape)}, batch dynamic; "
        f"max abs difference from PyTorch {result.max_abs_diff:.2g})"
    )
    try:
        graph = graph_from_dict(ctx.pipeline, NodeRegistry(), source="the running pipeline")
    except PipelineFileError:
        graph = Graph()  # run outside a pipeline (no document): the Predictor's defaults are written
    model_id = model_node_of(graph, ctx.node_id) if ctx.node_id in graph.nodes else None
    settings = deploy_config(graph, model_id, model_file=result.path, fmt=result.format,
                             input_shape=result.input_shape, output_channels=result.output_channels)
    try:
        written = write_deploy_config(settings, result.path)
    except OSError as error:
        raise NodeError(f"cannot write the preprocessing file beside '{result.path}': {error}") from None
    ctx.log(f"Preprocessing, inference settings and classes: {written}")
    return {}


def check_export(ctx: CheckContext) -> None:
    """``input_size`` must suit the linked model: one value or one per axis, dividing by its strides' product."""
    model = ctx.inputs.get("model", {})
    problem = input_size_problem(list(ctx.config["input_size"]), model)
    if problem:
        ctx.conflict("input_size", problem, model.get(Fact.SIZE_MULTIPLE))


SPECS = [
    NodeSpec(
        type_id="io.ExportModel",
        title="Export Model",
        category="Inference",
        run=run_export,
        inputs=(Port("model", PortKind.TRAINED_MODEL),),
        params=(
            Param("path", ParamKind.PATH, "exported/model.onnx", "Output file",
                  "The file to write (its folder is created).", allow_empty=False),
            Param("format", ParamKind.CHOICE, "onnx", "Format",
                  "onnx (run with onnxruntime; batch axis dynamic) or torchscript (torch.jit.load).",
                  choices=EXPORT_FORMATS),
            Param("input_size", ParamKind.INT_LIST, [128], "Input size",
                  "Spatial size of the exported input: one value for every axis, or one per axis.", minimum=1),
        ),
        description="Writes the trained model as ONNX or TorchScript and checks it reproduces the model's output.",
        check=check_export,
        cache=CachePolicy(products=lambda config: [config["path"]]),  # runs again when its file is gone
    ),
]
