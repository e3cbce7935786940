"""Optimizer nodes. An optimizer needs the model's parameters, which exist only in the Trainer,
so these nodes output a factory that the Trainer calls with ``model.parameters()``. torch is imported
when a node runs, so the specs load without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class OptimizerFactory:
    """Builds ``optimizer_class(parameters, **options)``."""

    optimizer_class: type[torch.optim.Optimizer]
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, parameters: Any) -> torch.optim.Optimizer:
        return self.optimizer_class(parameters, **self.options)


LR = "lr"


def _lr(default: float) -> Param:
    return Param(LR, ParamKind.FLOAT, default, "Learning rate", "Step size.", minimum=0.0)


WEIGHT_DECAY = Param("weight_decay", ParamKind.FLOAT, 0.0, "Weight decay", "L2 penalty.", minimum=0.0)


def run_adam(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {"optimizer": OptimizerFactory(torch.optim.Adam, {"lr": config[LR], "weight_decay": config["weight_decay"]})}


def run_adamw(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    options = {"lr": config[LR], "weight_decay": config["weight_decay"]}
    return {"optimizer": OptimizerFactory(torch.optim.AdamW, options)}


def run_sgd(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    options = {
        "lr": config[LR],
        "momentum": config["momentum"],
        "weight_decay": config["weight_decay"],
        "nesterov": config["nesterov"] and config["momentum"] > 0,
    }
    return {"optimizer": OptimizerFactory(torch.optim.SGD, options)}


SPECS = [
    NodeSpec(
        type_id="optim.Adam",
        title="Adam",
        category="Optimizers",
        run=run_adam,
        outputs=(Port("optimizer", PortKind.OPTIMIZER),),
        params=(_lr(1e-3), WEIGHT_DECAY),
        description="Adam optimizer.",
    ),
    NodeSpec(
        type_id="optim.AdamW",
        title="AdamW",
        category="Optimizers",
        run=run_adamw,
        outputs=(Port("optimizer", PortKind.OPTIMIZER),),
        params=(
            _lr(1e-3),
            Param("weight_decay", ParamKind.FLOAT, 0.01, "Weight decay", "Decoupled weight decay.", minimum=0.0),
        ),
        description="Adam with decoupled weight decay (Loshchilov & Hutter).",
    ),
    NodeSpec(
        type_id="optim.SGD",
        title="SGD",
        category="Optimizers",
        run=run_sgd,
        outputs=(Port("optimizer", PortKind.OPTIMIZER),),
        params=(
            _lr(1e-2),
            Param("momentum", ParamKind.FLOAT, 0.9, "Momentum", "Momentum factor.", minimum=0.0),
            WEIGHT_DECAY,
            Param("nesterov", ParamKind.BOOL, False, "Nesterov", "Use Nesterov momentum."),
        ),
        description="Stochastic gradient descent with momentum.",
    ),
]
