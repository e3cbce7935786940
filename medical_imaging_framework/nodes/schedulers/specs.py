"""Learning-rate scheduler nodes. A scheduler needs the optimizer, which exists only in the Trainer,
so these nodes output a factory that the Trainer calls with its optimizer. The Trainer steps the
scheduler once per epoch (``ReduceLROnPlateau`` with the monitored loss) and saves its state in
checkpoints. torch is imported when a node runs, so the specs load without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    import torch

LRScheduler = Any  # torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau


@dataclass(frozen=True)
class SchedulerFactory:
    """Builds ``scheduler_class(optimizer, **options)``."""

    scheduler_class: type
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        return self.scheduler_class(optimizer, **self.options)


def run_cosine(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    options = {"T_max": config["t_max"], "eta_min": config["min_lr"]}
    return {"scheduler": SchedulerFactory(torch.optim.lr_scheduler.CosineAnnealingLR, options)}


def run_step(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    options = {"step_size": config["step_size"], "gamma": config["gamma"]}
    return {"scheduler": SchedulerFactory(torch.optim.lr_scheduler.StepLR, options)}


def run_plateau(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    options = {"mode": "min", "factor": config["factor"], "patience": config["patience"], "min_lr": config["min_lr"]}
    return {"scheduler": SchedulerFactory(torch.optim.lr_scheduler.ReduceLROnPlateau, options)}


PLATEAU_MAX_FACTOR = 0.99  # torch's ReduceLROnPlateau refuses factor >= 1 when it is built, inside the Trainer
MIN_LR = Param("min_lr", ParamKind.FLOAT, 0.0, "Minimum LR", "The learning rate never goes below this.", minimum=0.0)
OUTPUT = (Port("scheduler", PortKind.SCHEDULER),)

SPECS = [
    NodeSpec(
        type_id="schedulers.CosineAnnealing",
        title="Cosine Annealing LR",
        category="Schedulers",
        run=run_cosine,
        outputs=OUTPUT,
        params=(
            Param("t_max", ParamKind.INT, 20, "Period (epochs)", "Epochs from the start LR down to the minimum.",
                  minimum=1),
            MIN_LR,
        ),
        description="Lowers the learning rate along a cosine curve, once per epoch.",
    ),
    NodeSpec(
        type_id="schedulers.StepLR",
        title="Step LR",
        category="Schedulers",
        run=run_step,
        outputs=OUTPUT,
        params=(
            Param("step_size", ParamKind.INT, 10, "Step (epochs)", "Epochs between two reductions.", minimum=1),
            Param("gamma", ParamKind.FLOAT, 0.1, "Factor", "Multiplies the LR at each step.", minimum=0.0,
                  maximum=1.0),
        ),
        description="Multiplies the learning rate by a factor every few epochs.",
    ),
    NodeSpec(
        type_id="schedulers.ReduceOnPlateau",
        title="Reduce LR on Plateau",
        category="Schedulers",
        run=run_plateau,
        outputs=OUTPUT,
        params=(
            Param("factor", ParamKind.FLOAT, 0.5, "Factor",
                  "Multiplies the LR when the loss stalls; must be below 1 (1 would never lower it).",
                  minimum=0.0, maximum=PLATEAU_MAX_FACTOR),
            Param("patience", ParamKind.INT, 3, "Patience (epochs)", "Epochs without improvement before lowering.",
                  minimum=0),
            MIN_LR,
        ),
        description="Lowers the learning rate when the monitored (validation) loss stops improving.",
    ),
]
