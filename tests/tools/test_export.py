"""Model export: ONNX (onnxruntime, dynamic batch) and TorchScript files reproduce the PyTorch model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.networks.nets import UNet

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.io.export_model_specs import run_export
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import Executor, NodeContext
from medical_imaging_framework.tools.export import (
    TOLERANCE,
    ExportError,
    export_model,
    run_onnx,
    run_torchscript,
    sample_input,
)
from tests.support.pipelines import make_tiny_graph


def tiny_unet(spatial_dims: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,),
                num_res_units=1).eval()


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_onnx_and_torchscript_match_the_model(tmp_path: Path, spatial_dims: int) -> None:
    model = tiny_unet(spatial_dims)
    example = sample_input(model, [16])
    assert example.shape == (2, 1, *[16] * spatial_dims)
    onnx_result = export_model(model, tmp_path / "model.onnx", "onnx", example)
    script_result = export_model(model, tmp_path / "model.ts", "torchscript", example)
    assert onnx_result.max_abs_diff <= TOLERANCE and script_result.max_abs_diff <= TOLERANCE
    # a new input with another batch size: the batch axis is dynamic in both files
    other = torch.rand((3, 1, *[16] * spatial_dims), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(other).numpy()
    assert np.abs(run_onnx(tmp_path / "model.onnx", other.numpy()) - expected).max() <= TOLERANCE
    assert np.abs(run_torchscript(tmp_path / "model.ts", other).numpy() - expected).max() <= TOLERANCE
    loaded = torch.jit.load(str(tmp_path / "model.ts"))  # the plain loader a deployment uses
    assert loaded(other).shape == expected.shape


def test_bad_format_and_size_are_refused(tmp_path: Path) -> None:
    model = tiny_unet(2)
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_model(model, tmp_path / "m", "tflite", sample_input(model, [16]))
    with pytest.raises(ExportError, match=r"input size \[16, 16, 16\] has 3 values but the model is 2D"):
        sample_input(model, [16, 16, 16])


def test_export_node_writes_a_checked_file(tmp_path: Path) -> None:
    lines: list[str] = []
    ctx = NodeContext("export", lambda event: lines.append(getattr(event, "text", "")), CancelToken())
    target = tmp_path / "out" / "model.ts"
    run_export(ctx, {"model": tiny_unet(2)}, {"path": str(target), "format": "torchscript", "input_size": [16]})
    assert target.is_file()
    assert lines[-2].startswith(f"Exported torchscript model to {target} (input [2, 1, 16, 16]")
    assert lines[-1] == f"Preprocessing, inference settings and classes: {target}.json"  # outside a pipeline
    written = json.loads(Path(f"{target}.json").read_text(encoding="utf-8"))
    assert written["preprocessing"][0]["transform"] == "LoadImaged"
    with pytest.raises(NodeError, match="has 2 values but the model is 3D"):
        run_export(ctx, {"model": tiny_unet(3)}, {"path": str(target), "format": "onnx", "input_size": [16, 16]})


def test_mif_export_cli_uses_the_checkpoints_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = make_tiny_graph(NodeRegistry(), tmp_path / "ckpt", num_epochs=1)
    assert Executor(graph).run().status == "done"
    checkpoint = tmp_path / "ckpt" / "final_model.pt"
    output = tmp_path / "model.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "-o", str(output), "--input-size", "32"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Exported 'unet' (epoch 1) as onnx: {output}"
    assert out[1].startswith("Input [2, 1, 32, 32] (batch axis dynamic); max abs difference from PyTorch ")
    # the file reproduces the trained weights, not a fresh initialisation
    from medical_imaging_framework.checkpoints.files import load_checkpoint
    from medical_imaging_framework.tools.model_builder import build_model

    _, model = build_model(graph)
    load_checkpoint(checkpoint, model=model)
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        expected = model.eval()(image).numpy()
    assert np.abs(run_onnx(output, image.numpy()) - expected).max() <= TOLERANCE
    # a pipeline with another architecture: a clear error naming the checkpoint, exit 2
    assert main(["export", str(checkpoint), "--model-from", "segmentation_train.json", "-o", str(output)]) == 2
    assert "the checkpoint's weights do not fit this model" in capsys.readouterr().err


def test_deploy_doc_snippets_run_on_exported_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")
    snippets = re.findall(r"^```python\n(.*?)^```", doc, flags=re.S | re.M)
    snippets = [snippet for snippet in snippets if "masks" in snippet]  # the preprocessing one: test_deploy_config
    assert len(snippets) == 2
    torch.manual_seed(0)
    model = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(4, 8), strides=(2,)).eval()
    monkeypatch.chdir(tmp_path)
    export_model(model, "model.onnx", "onnx", sample_input(model, [128]))
    export_model(model, "model.ts", "torchscript", sample_input(model, [128]))
    for snippet in snippets:
        namespace: dict[str, object] = {}
        exec(compile(snippet, "deploy.md", "exec"), namespace)
        masks = namespace["masks"]
        assert tuple(masks.shape) == (4, 1, 128, 128)
    shown = re.search(r"^```text\n(.*?)^```", doc, flags=re.S | re.M)
    assert shown is not None
    first, second, third = shown[1].splitlines()
    assert third == "Preprocessing, inference settings and classes: model.onnx.json"
    assert re.fullmatch(r"Exported 'unet' \(epoch \d+\) as onnx: model\.onnx", first)
    assert re.fullmatch(r"Input \[2, 1, 128, 128\] \(batch axis dynamic\); max abs difference from PyTorch \S+", second)


def _offset_file(monkeypatch: pytest.MonkeyPatch, offset: float) -> None:
    """The written TorchScript file answers the model's output plus ``offset`` (float rounding, made exact)."""
    import medical_imaging_framework.tools.export as export

    def answer(path: Path, example: torch.Tensor) -> torch.Tensor:
        return torch.jit.load(str(path))(example) + offset

    monkeypatch.setattr(export, "run_torchscript", answer)


def _scaled_model(bias: float) -> torch.nn.Module:
    model = torch.nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        model.weight.fill_(0.5)
        model.bias.fill_(bias)
    return model.eval()


def test_the_allowed_difference_scales_with_the_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logits near 10 (a trained 3D UNet's, exported at 100³, differ by ~1.0e-4 in ONNX Runtime): an error of
    5e-4 there is float rounding (5e-5 of the outputs), not an unfaithful file."""
    _offset_file(monkeypatch, 5e-4)
    example = torch.rand((2, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    result = export_model(_scaled_model(10.0), tmp_path / "model.ts", "torchscript", example)
    assert result.max_abs_diff == pytest.approx(5e-4, rel=1e-2)


def test_an_unfaithful_export_names_the_difference_and_the_allowance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offset_file(monkeypatch, 1.04e-4)  # just above the allowance of outputs below 1: the two must not read alike
    example = torch.rand((2, 1, 8, 8), generator=torch.Generator().manual_seed(0)) * 0.1
    with pytest.raises(ExportError) as caught:
        export_model(_scaled_model(0.0), tmp_path / "model.ts", "torchscript", example)
    assert str(caught.value) == (
        f"torchscript file '{tmp_path / 'model.ts'}' gives outputs up to 1.04e-04 away from the PyTorch model's "
        "(allowed 1.00e-04: 1e-04 of its largest output, 0.05, and at least 1e-04): the export is not faithful")
