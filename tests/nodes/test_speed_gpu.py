"""CUDA: async checkpoints (default there) from pinned buffers, bf16-mixed and fp16-mixed training.
(bench/gpu_check.py runs a longer version, with a bit-identical resume and the GPU benchmarks.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.background import CpuSnapshot
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import format_event
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (PyTorch sees none)"),
]


def test_async_is_the_cuda_default_and_writes_every_file(registry: NodeRegistry, tmp_path: Path) -> None:
    events: list[object] = []
    graph = make_tiny_graph(registry, tmp_path, num_epochs=4, device="cuda", save_every_n_epochs=2)
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt",
                                           "final_model.pt"]
    state = torch.load(tmp_path / "checkpoint_epoch_2.pt", map_location="cpu")["model_state_dict"]
    assert all(tensor.device.type == "cpu" for tensor in state.values())


def test_snapshot_of_cuda_tensors_is_pinned_and_exact() -> None:
    source = {"w": torch.randn(1000, device="cuda")}
    copied = CpuSnapshot(pin_memory=True).copy(source)
    assert copied["w"].is_pinned() and torch.equal(copied["w"], source["w"].cpu())


@pytest.mark.parametrize("precision", ["bf16-mixed", "fp16-mixed"])
def test_mixed_precisions_train_on_cuda(registry: NodeRegistry, tmp_path: Path, precision: str) -> None:
    events: list[object] = []
    graph = make_tiny_graph(registry, tmp_path, num_epochs=2, device="cuda", precision=precision)
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    assert not any("full precision" in (format_event(e) or "") for e in events)  # type: ignore[arg-type]
    final = torch.load(tmp_path / "final_model.pt", map_location="cpu")
    assert ("scaler_state_dict" in final) == (precision == "fp16-mixed")
