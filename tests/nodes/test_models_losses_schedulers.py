"""New models, losses (binary and multi-class convention), AdamW and learning-rate schedulers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints.files import read_checkpoint
from medical_imaging_framework.core import Graph, NodeRegistry, Param, ParamError, ParamKind
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.nodes.inference.specs import to_classes
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import Executor, NodeContext
from tests.support.pipelines import make_tiny_graph


def _run(registry: NodeRegistry, type_id: str, **config: Any) -> dict[str, Any]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    return spec.run(NodeContext(node_id="n", emit=lambda e: None, cancel=CancelToken()), {}, settings)


@pytest.mark.parametrize(("type_id", "config", "size"), [
    ("models.SegResNet", {"init_filters": 8, "blocks_down": [1, 1, 1]}, 16),
    ("models.AttentionUnet", {"channels": [4, 8, 16], "strides": [2, 2]}, 16),
])
@pytest.mark.parametrize("dims", ["2", "3"])
def test_new_models_segment_2d_and_3d(registry: NodeRegistry, type_id: str, config: dict, size: int,
                                      dims: str) -> None:
    model = _run(registry, type_id, spatial_dims=dims, out_channels=3, **config)["model"]
    again = _run(registry, type_id, spatial_dims=dims, out_channels=3, **config)["model"]
    image = torch.rand(2, 1, *([size] * int(dims)))
    with torch.no_grad():
        output = model(image)
        assert output.shape == (2, 3, *([size] * int(dims)))
        torch.testing.assert_close(output, again(image), msg="the same seed gives the same weights")


def test_model_parameter_errors(registry: NodeRegistry) -> None:
    with pytest.raises(NodeError, match="init_filters must be a multiple of 8"):
        _run(registry, "models.SegResNet", init_filters=12)
    with pytest.raises(NodeError, match="strides needs 2 values for 3 channels, got 1"):
        _run(registry, "models.AttentionUnet", channels=[4, 8, 16], strides=[2])


@pytest.mark.parametrize("type_id", ["losses.DiceCELoss", "losses.FocalLoss", "losses.CrossEntropy"])
def test_losses_follow_the_class_convention(registry: NodeRegistry, type_id: str) -> None:
    loss = _run(registry, type_id)["loss"]
    label = torch.zeros(1, 1, 8, 8)
    label[..., 2:5, 2:5] = 1
    label[..., 5:, 5:] = 2
    # multi-class: 3-channel logits, integer label map; a confident correct prediction beats a wrong one
    good = torch.nn.functional.one_hot(label[:, 0].long(), 3).permute(0, 3, 1, 2).float() * 20 - 10
    bad = good.roll(1, dims=1)
    assert loss(good, label) < loss(bad, label)
    assert to_classes(good, 0.5).equal(label.to(torch.uint8)), "prediction argmax recovers the same classes"
    # binary: 1-channel logits, 0/1 label
    mask = (label > 0).float()
    assert loss(mask * 20 - 10, mask) < loss(10 - mask * 20, mask)
    assert to_classes(mask * 20 - 10, 0.5).equal(mask.to(torch.uint8))


def test_loss_mode_softmax_refuses_one_channel(registry: NodeRegistry) -> None:
    loss = _run(registry, "losses.DiceCELoss", mode="softmax")["loss"]
    with pytest.raises(ValueError, match="softmax needs a model with at least 2 output channels"):
        loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_adamw_factory(registry: NodeRegistry) -> None:
    factory = _run(registry, "optim.AdamW", lr=0.01, weight_decay=0.1)["optimizer"]
    optimizer = factory(torch.nn.Linear(2, 2).parameters())
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["lr"] == 0.01 and optimizer.defaults["weight_decay"] == 0.1


@pytest.mark.parametrize(("type_id", "config", "expected"), [
    ("schedulers.StepLR", {"step_size": 2, "gamma": 0.5}, [1.0, 0.5, 0.5, 0.25]),
    ("schedulers.CosineAnnealing", {"t_max": 4, "min_lr": 0.0}, [0.8535534, 0.5, 0.1464466, 0.0]),
])
def test_schedulers_change_the_learning_rate_per_epoch(registry: NodeRegistry, type_id: str, config: dict,
                                                       expected: list[float]) -> None:
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler = _run(registry, type_id, **config)["scheduler"](optimizer)
    rates = []
    for _ in range(4):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx(expected)


def test_plateau_lowers_the_rate_when_the_loss_stalls(registry: NodeRegistry) -> None:
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler = _run(registry, "schedulers.ReduceOnPlateau", factor=0.5, patience=1)["scheduler"](optimizer)
    for loss in (1.0, 0.9, 0.9, 0.9):
        scheduler.step(loss)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_scheduler_state_is_saved_in_checkpoints(registry: NodeRegistry, tmp_path: Path) -> None:
    graph: Graph = make_tiny_graph(registry, tmp_path / "ckpt", num_epochs=2, save_every_n_epochs=1)
    graph.add_node(registry.create("schedulers.StepLR", "step_lr", step_size=1, gamma=0.5))
    graph.links.append(Link("step_lr", "scheduler", "trainer", "scheduler"))
    result = Executor(graph).run()
    assert result.status == "done", result.error
    checkpoint = read_checkpoint(tmp_path / "ckpt" / "checkpoint_epoch_2.pt")
    assert checkpoint["scheduler_state_dict"]["last_epoch"] == 2
    assert checkpoint["scheduler_state_dict"]["_last_lr"] == pytest.approx([0.005 * 0.25])


def _edge_values(param: Param) -> list[float]:
    """The extreme values a numeric parameter accepts (a large one where there is no maximum)."""
    low = param.minimum if param.minimum is not None else -1e6
    high = param.maximum if param.maximum is not None else 1e6
    return [low, high]


@pytest.mark.parametrize("type_id", ["schedulers.StepLR", "schedulers.CosineAnnealing", "schedulers.ReduceOnPlateau",
                                     "optim.Adam", "optim.AdamW", "optim.SGD"])
def test_every_accepted_value_builds_and_steps(registry: NodeRegistry, type_id: str) -> None:
    """A value the dialog/CLI accepts must not fail later inside the Trainer (torch checks at build time)."""
    spec = registry.get(type_id)
    numeric = [p for p in spec.params if p.kind in (ParamKind.INT, ParamKind.FLOAT)]
    assert numeric
    for param in numeric:
        for value in _edge_values(param):
            if param.kind is ParamKind.INT:
                value = int(value)
            try:
                accepted = param.parse(value)
            except ParamError:
                continue  # refused up front: fine
            model = torch.nn.Linear(1, 1)
            if type_id.startswith("optim."):
                optimizer = _run(registry, type_id, **{param.name: accepted})["optimizer"](model.parameters())
                model(torch.ones(1, 1)).sum().backward()
                optimizer.step()
                continue
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
            scheduler = _run(registry, type_id, **{param.name: accepted})["scheduler"](optimizer)
            optimizer.step()
            scheduler.step(1.0) if type_id.endswith("Plateau") else scheduler.step()


@pytest.mark.parametrize("value", ["1", "1.0", "1.5"])
def test_plateau_factor_of_one_or_more_is_refused_when_validated(registry: NodeRegistry, value: str) -> None:
    factor = registry.get("schedulers.ReduceOnPlateau").param("factor")
    with pytest.raises(ParamError, match=r"field 'factor': must be a number between 0 and 0\.99"):
        factor.parse(value, node_id="plateau")
