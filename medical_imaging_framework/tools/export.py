"""Model export for deployment: ONNX (run with onnxruntime) and TorchScript (run with ``torch.jit.load``).

Each export is checked before it is reported done: the written file is loaded back with its own runtime,
run on a sample input, and its output compared with the PyTorch model's (max abs difference
<= `TOLERANCE` times the largest output, at least `TOLERANCE`). ``onnx``/``onnxruntime`` are imported only
when ONNX is asked for.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medical_imaging_framework.core.option_values import EXPORT_FORMATS as FORMATS  # torch-free home

TOLERANCE = 1e-4
ONNX_OPSET = 18


class ExportError(Exception):
    """An export that failed or whose file does not reproduce the model; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    """A written and checked export.

    Args:
        path: the file written.
        format: ``onnx`` or ``torchscript``.
        input_shape: the sample input's shape (batch first).
        max_abs_diff: largest difference between the file's and the model's output on the sample.
        output_channels: channels of the model's output (1: binary, sigmoid; C: classes, softmax).
    """

    path: Path
    format: str
    input_shape: tuple[int, ...]
    max_abs_diff: float
    output_channels: int = 0


def input_layout(model: nn.Module) -> tuple[int, int]:
    """``(spatial_dims, in_channels)`` of a convolutional model, read from its first convolution.

    Args:
        model: the network.

    Raises:
        ExportError: the model has no Conv1d/2d/3d layer to read them from.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return module.weight.ndim - 2, int(module.in_channels)
    raise ExportError("the model has no convolution to read its input channels and dimensionality from")


def sample_input(model: nn.Module, size: list[int] | tuple[int, ...], batch: int = 2) -> torch.Tensor:
    """A seeded random input ``(batch, in_channels, *spatial)`` that fits ``model``.

    Args:
        model: the network (its first convolution gives dimensionality and channels).
        size: edge length(s): one value for every axis, or one per spatial axis.
        batch: batch size of the sample.
    """
    spatial_dims, channels = input_layout(model)
    sizes = list(size) * spatial_dims if len(size) == 1 else list(size)
    if len(sizes) != spatial_dims:
        raise ExportError(f"input size {list(size)} has {len(size)} values but the model is {spatial_dims}D")
    generator = torch.Generator().manual_seed(0)
    return torch.rand((batch, channels, *sizes), generator=generator)


def export_model(
    model: nn.Module, path: str | os.PathLike[str], fmt: str, example: torch.Tensor
) -> ExportResult:
    """Write ``model`` as ONNX or TorchScript, then check the file against the model on ``example``.

    The ONNX graph has a dynamic batch axis (``batch``); input ``image``, output ``logits``.

    Args:
        model: the trained network (moved to the CPU and put in eval mode).
        path: the file to write (its folder is created).
        fmt: ``onnx`` or ``torchscript``.
        example: a sample input, batch first.

    Raises:
        ExportError: unknown format, export failure, or outputs that differ by more than `TOLERANCE`
            (times the largest output, if above 1).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (use {' or '.join(FORMATS)})")
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = example.cpu().float()
    try:
        with torch.no_grad():
            expected = model(example)
    except Exception as error:  # e.g. a size the network cannot halve: "Sizes of tensors must match ..."
        raise ExportError(f"the model does not run on a sample input of shape {list(example.shape)} "
                          f"({type(error).__name__}: {_first_line(error)}); choose an input size it takes, e.g. one "
                          "that divides by the product of its strides") from None
    try:
        if fmt == "onnx":
            _write_onnx(model, target, example)
            actual = run_onnx(target, example.numpy())
        else:
            _write_torchscript(model, target, example)
            actual = run_torchscript(target, example)
    except ExportError:
        raise
    except Exception as error:  # exporters raise many types; the user needs the cause in one line
        raise ExportError(f"{fmt} export to '{target}' failed: {type(error).__name__}: {_first_line(error)}") from None
    difference = float((torch.as_tensor(actual) - expected).abs().max())
    # float32 rounding grows with the outputs (ONNX Runtime's 3D UNet logits near 10 at 100³ differ by ~1e-4):
    # the allowance is relative to the largest output, and absolute below 1
    scale = float(expected.abs().max())
    allowed = TOLERANCE * max(1.0, scale)
    if not difference <= allowed:
        raise ExportError(
            f"{fmt} file '{target}' gives outputs up to {difference:.2e} away from the PyTorch model's "
            f"(allowed {allowed:.2e}: {TOLERANCE:.0e} of its largest output, {scale:.2g}, and at least "
            f"{TOLERANCE:.0e}): the export is not faithful"
        )
    return ExportResult(target, fmt, tuple(example.shape), difference, int(expected.shape[1]))


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _write_onnx(model: nn.Module, path: Path, example: torch.Tensor) -> None:
    batch = torch.export.Dim("batch", min=1)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # it lists every torchvision operator it skips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: batch}} if _forward_arg(model) == "x" else ({0: batch},),
            opset_version=ONNX_OPSET,
            dynamo=True,
            verbose=False,
        )
    exporter_log.setLevel(level)
    program.save(str(path))


def _forward_arg(model: nn.Module) -> str:
    import inspect

    parameters = list(inspect.signature(model.forward).parameters)
    return parameters[0] if parameters else "x"


def _write_torchscript(model: nn.Module, path: Path, example: torch.Tensor) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scripted = torch.jit.script(model)
        except Exception:  # not every network is scriptable; tracing records the same convolutions
            scripted = torch.jit.trace(model, example)
        scripted.save(str(path))


def run_onnx(path: str | os.PathLike[str], image: Any) -> Any:
    """Run an exported ONNX file on a float32 array with onnxruntime (CPU); returns the output array.

    Args:
        path: the ``.onnx`` file.
        image: input array ``(batch, channels, *spatial)``.
    """
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(image, dtype=np.float32)})[0]


def run_torchscript(path: str | os.PathLike[str], image: torch.Tensor) -> torch.Tensor:
    """Run a TorchScript file with ``torch.jit.load`` on the CPU; returns the output tensor.

    Args:
        path: the ``.pt``/``.ts`` file.
        image: input tensor ``(batch, channels, *spatial)``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated upstream, still supported
        module = torch.jit.load(str(path), map_location="cpu")
    module.eval()
    with torch.no_grad():
        return module(image)
