"""`validate_checkpoint`: every documented field's type and range, each refusal naming the file and the field."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from medical_imaging_framework.checkpoints.files import CheckpointError
from medical_imaging_framework.checkpoints.schema import validate_checkpoint
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.training.loop import TrainingState


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    model = nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    state = TrainingState(model, optimizer, epoch=2, epoch_losses=[0.6, 0.5], val_losses=[0.7, 0.4])
    return build_checkpoint(state, 0.4, 0.4, {"seed": 0, "channels": [4, 8]}, {"nodes": [{"id": "unet"}]})


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = [int(key) if key.isdigit() else key for key in dotted.split(".")]
    for key in parents:
        data = data[key]
    data[last] = value


CASES = {  # dotted field -> (bad value, expected message after "FILE: ")
    "format_version": (0, r"field 'format_version': must be a whole number >= 1 \(got 0\)"),
    "epoch": (True, r"field 'epoch': must be a whole number >= 0 \(got True\)"),
    "loss": (float("nan"), r"field 'loss': is nan: training had diverged .*allow_non_finite"),
    "best_loss": ("low", r"field 'best_loss': must be a number \(got 'low'\)"),
    "epoch_losses": ([0.5] * 3, r"field 'epoch_losses': holds 3 values, more than the 2 epochs"),
    "val_losses": ("x", r"field 'val_losses': must be a list of numbers"),
    "model_state_dict": ({}, r"field 'model_state_dict': holds no tensors"),
    "optimizer_state_dict.param_groups": (
        [{"params": ["a"]}], r"field 'optimizer_state_dict.param_groups\[0\].params': must be a list of whole"
    ),
    "optimizer_state_dict.state": ([], r"field 'optimizer_state_dict.state': must be a dict"),
    "optimizer_state_dict": ([], r"field 'optimizer_state_dict': must be a dict with 'state' and 'param_groups'"),
    "optimizer_state_dict.param_groups.0.lr": (
        torch.ones(3), r"field 'optimizer_state_dict.param_groups\[0\].lr': must be a number \(got a Tensor\)"
    ),
    "rng_state.cuda": (5, r"field 'rng_state.cuda': must be a list of tensors \(got 5\)"),
    "rng_state.torch": ([1, 2], r"field 'rng_state.torch': must be a tensor of bytes"),
    "rng_state.numpy.keys": (torch.zeros(3), r"field 'rng_state.numpy': must be NumPy's random state"),
    "config.seed": (10**5000, r"field 'config.seed': must hold only numbers, strings, lists and dicts \(got a huge"),
    "config.channels": (torch.ones(2), r"field 'config.channels': must hold only numbers, strings, lists and dicts"),
    "versions.torch": (2, r"field 'versions.torch': must be a string \(got 2\)"),
    "scheduler_state_dict": ("x", r"field 'scheduler_state_dict': must be a dict \(got 'x'\)"),
}


@pytest.mark.parametrize("field", sorted(CASES))
def test_each_rule_names_the_file_and_field(good: dict[str, Any], field: str) -> None:
    data = copy.deepcopy(good)
    value, expected = CASES[field]
    set_path(data, field, value)
    with pytest.raises(CheckpointError, match=r"^ck\.pt: " + expected):
        validate_checkpoint(data, "ck.pt")


def test_a_checkpoint_the_trainer_writes_is_valid(good: dict[str, Any]) -> None:
    assert validate_checkpoint(good, "ck.pt") is good


def test_non_finite_values_pass_only_when_allowed(good: dict[str, Any]) -> None:
    data = copy.deepcopy(good)
    data["model_state_dict"]["bias"].fill_(math.inf)
    data["epoch_losses"][0] = math.nan
    with pytest.raises(CheckpointError, match=r"field 'epoch_losses\[0\]': is nan"):
        validate_checkpoint(data, "ck.pt")
    data["epoch_losses"][0] = 0.6
    with pytest.raises(CheckpointError, match=r"field 'model_state_dict': 1 of 2 weight tensors .* \('bias'\)"):
        validate_checkpoint(data, "ck.pt")
    assert validate_checkpoint(data, "ck.pt", allow_non_finite=True) is data


@pytest.mark.parametrize("run_id", [torch.tensor([1, 2]), 7, ["a"], "r" * 257])
def test_a_run_id_that_is_not_short_text_is_refused_by_name(tmp_path: Path, run_id: object,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`mif inspect` on such a file ended with exit 1 and a bare RuntimeError about a tensor's truth value."""
    from medical_imaging_framework.checkpoints.atomic import write_checkpoint
    from medical_imaging_framework.cli.main import main

    model = torch.nn.Linear(2, 1)
    checkpoint = build_checkpoint(TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1)), 0.5, None,
                                  {}, {"nodes": []})
    checkpoint["run_id"] = run_id
    with pytest.raises(CheckpointError, match="field 'run_id': must be text"):
        validate_checkpoint(checkpoint, "ck.pt")
    write_checkpoint(checkpoint, tmp_path / "ck.pt")
    assert main(["inspect", str(tmp_path / "ck.pt")]) == 2
    assert "field 'run_id': must be text" in capsys.readouterr().err
