"""`mif export`, `mif report` and `mif make-demo-data`. Imported only once one of them runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medical_imaging_framework.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from medical_imaging_framework.core import Graph, NodeRegistry, PipelineFileError, load_pipeline
from medical_imaging_framework.core.examples import resolve_pipeline_path
from medical_imaging_framework.core.params import ParamError
from medical_imaging_framework.run.control import NodeError


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise UsageError(f"{option} {text!r}: expected whole numbers >= 1 separated by commas, e.g. 128 or 96,96,64")
    return values


def _pipeline_graph(args: argparse.Namespace, checkpoint: dict[str, Any]) -> Graph:
    from medical_imaging_framework.core.pipeline_file import graph_from_dict

    registry = NodeRegistry()
    if args.model_from:
        try:
            return load_pipeline(resolve_pipeline_path(args.model_from), registry)
        except PipelineFileError as error:
            raise UsageError(str(error)) from None
    stored = checkpoint.get("pipeline")
    if not stored:
        raise UsageError(f"{args.checkpoint} stores no pipeline: name the one it was trained with, --model-from FILE")
    try:
        return graph_from_dict(stored, registry, source=f"{args.checkpoint} (stored pipeline)")
    except PipelineFileError as error:
        raise UsageError(f"{error} (give the pipeline with --model-from FILE)") from None


def export_command(args: argparse.Namespace) -> int:
    """`mif export CHECKPOINT [--model-from PIPELINE] --format onnx|torchscript -o FILE`.

    Args:
        args: the parsed arguments.
    """
    from medical_imaging_framework.checkpoints.files import (
        CheckpointError,
        apply_model_state,
        check_model_fits,
        read_checkpoint,
    )
    from medical_imaging_framework.core.checks import input_size_problem
    from medical_imaging_framework.nodes.io.deploy_config import deploy_config, write_deploy_config
    from medical_imaging_framework.tools.export import ExportError, export_model, sample_input
    from medical_imaging_framework.tools.model_builder import build_model, model_facts

    size = _int_list(args.input_size, "--input-size")
    try:
        checkpoint = read_checkpoint(args.checkpoint, map_location="cpu")
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    graph = _pipeline_graph(args, checkpoint)
    try:
        weights, source = checkpoint["model_state_dict"], str(args.checkpoint)
        # the pipeline's network is checked against the stored shapes before it is built (it may be any size)
        node_id, model = build_model(graph, args.node, check=lambda shapes: check_model_fits(shapes, weights, source))
        problem = input_size_problem(size, model_facts(graph, node_id))
        if problem:  # before the sample runs: a UNet given 100 fails deep inside with "Sizes of tensors must match"
            raise UsageError(f"--input-size {args.input_size}: {problem}")
        apply_model_state(model, weights, source=source)
        result = export_model(model, args.output, args.format, sample_input(model, size))
    except CheckpointError as error:
        raise UsageError(str(error)) from None
    except NodeError as error:
        raise UsageError(f"{args.checkpoint}: {error}") from None
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Exported '{node_id}' (epoch {checkpoint.get('epoch', '?')}) as {result.format}: {result.path}")
    print(f"Input {list(result.input_shape)} (batch axis dynamic); max abs difference from PyTorch "
          f"{result.max_abs_diff:.2g}")
    try:
        settings = deploy_config(graph, node_id, model_file=result.path, fmt=result.format,
                                 input_shape=result.input_shape, output_channels=result.output_channels)
        written = write_deploy_config(settings, result.path)
    except ParamError as error:
        raise UsageError(f"{args.checkpoint}: its pipeline's preprocessing cannot be read: {error}") from None
    except OSError as error:
        print(f"error: cannot write the preprocessing file beside '{result.path}': {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Preprocessing, inference settings and classes: {written}")
    return EXIT_OK


def report_command(args: argparse.Namespace) -> int:
    """`mif report CHECKPOINT_DIR [-o report.html]`; a section left out is one ``warning:`` line on stderr.

    Args:
        args: the parsed arguments.
    """
    from medical_imaging_framework.tools.report import ReportError, write_report

    def warn(line: str) -> None:
        print(f"warning: {line}", file=sys.stderr, flush=True)

    try:
        path = write_report(args.folder, args.output or None, warn=warn)
    except ReportError as error:
        raise UsageError(str(error)) from None
    print(f"Report written: {path}")
    return EXIT_OK


def demo_data_command(args: argparse.Namespace) -> int:
    """`mif make-demo-data DIR`: phantoms as NIfTI in the Decathlon layout.

    Args:
        args: the parsed arguments.
    """
    from medical_imaging_framework.nodes.data.demo_data import write_demo_data

    if args.count < 2 or not 16 <= args.size <= 512:
        raise UsageError("make-demo-data: --count must be >= 2 and --size between 16 and 512")
    path = write_demo_data(Path(args.folder), count=args.count, size=args.size, spatial_dims=args.spatial_dims)
    print(f"Wrote {args.count} labelled and 4 test phantoms ({args.size}^{args.spatial_dims}) as NIfTI: {path}")
    hint = "" if path == Path("demo_data/dataset.json") else (
        f" --set datalist_train.path={path} --set datalist_val.path={path}"
    )
    print(f"Train on them: mif run decathlon_train.json{hint}")
    return EXIT_OK
