"""CUDA checkpoints: mixed precision saves the scaler, the CUDA RNG state is saved, files open on the CPU.
(bench/gpu_check.py runs a longer version, including bit-identical resume on the GPU.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (PyTorch sees none)"),
]


def test_cuda_checkpoint_holds_scaler_and_cuda_rng_and_loads_on_cpu(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = make_tiny_graph(registry, tmp_path, num_epochs=2, device="cuda", mixed_precision=True)
    result = Executor(graph).run()
    assert result.status == "done", result.error
    checkpoint = torch.load(tmp_path / "final_model.pt", map_location="cpu")
    assert "scale" in checkpoint["scaler_state_dict"]
    assert len(checkpoint["rng_state"]["cuda"]) == torch.cuda.device_count()
    model = result.outputs["trainer"]["model"].to("cpu")
    loaded = load_checkpoint(tmp_path / "final_model.pt", model=model, map_location="cpu")
    assert all(tensor.device.type == "cpu" for tensor in loaded["model_state_dict"].values())
