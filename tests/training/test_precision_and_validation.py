"""Trainer precision (bf16 CPU autocast, fp16 fallback, the old flag) and a validation loss summed on the device."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.training.loop import Trainer, TrainingState
from medical_imaging_framework.training.precision import plan_precision, requested_precision


class DtypeRecorder(nn.Module):
    """A linear layer that records the dtype its output is computed in."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.seen: list[torch.dtype] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        self.seen.append(out.dtype)
        return out


def batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(3, 4, generator=generator), torch.randn(3, 1, generator=generator)) for _ in range(count)]


def make_trainer(val: Any, dtype: torch.dtype | None = None) -> Trainer:
    return Trainer(loss_fn=lambda p, t: ((p.float() - t) ** 2).mean(), train_loader=batches(2), val_loader=val,
                   num_epochs=1, device=torch.device("cpu"), cancel=CancelToken(), emit=lambda e: None,
                   autocast_dtype=dtype)


def test_bf16_mixed_autocasts_on_cpu_and_32_does_not() -> None:
    for dtype, expected in ((torch.bfloat16, torch.bfloat16), (None, torch.float32)):
        model = DtypeRecorder()
        state = TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        make_trainer(batches(2), dtype).fit(state)
        assert set(model.seen) == {expected}, "train and validation forward passes"
        assert model.linear.weight.dtype == torch.float32, "weights stay in float32"


def test_precision_plans_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert plan_precision("32", cpu) == plan_precision("32", cpu, mixed_precision=False)
    assert plan_precision("32", cpu).autocast_dtype is None
    bf16 = plan_precision("bf16-mixed", cpu)
    assert (bf16.precision, bf16.autocast_dtype, bf16.scaler, bf16.warning) == ("bf16-mixed", torch.bfloat16, None, "")
    fp16 = plan_precision("fp16-mixed", cpu)
    assert (fp16.precision, fp16.autocast_dtype, fp16.scaler) == ("32", None, None)
    assert fp16.warning == "fp16-mixed needs a CUDA device; training in full precision on cpu"
    old = plan_precision("32", cpu, mixed_precision=True)
    assert old.warning == "mixed_precision needs a CUDA device; training in full precision on cpu"
    assert requested_precision("32", mixed_precision=True) == "fp16-mixed"
    assert requested_precision("bf16-mixed", mixed_precision=True) == "bf16-mixed", "the new parameter wins"
    with pytest.raises(ValueError, match="precision must be one of 32, bf16-mixed, fp16-mixed"):
        requested_precision("fp8")


def test_validation_loss_is_summed_on_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    state = TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    val = batches(5)
    trainer = make_trainer(val)
    with torch.no_grad():
        expected = sum(float(((model(x) - y) ** 2).mean()) * x.shape[0] for x, y in val) / 15
    calls = []
    real_item = torch.Tensor.item

    def counting_item(self: torch.Tensor) -> Any:
        calls.append(1)
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    with torch.no_grad():
        loss = trainer._validate(state)
    assert len(calls) == 1, "one host sync for the whole validation pass, not one per batch"
    assert loss == pytest.approx(expected, rel=1e-6)
