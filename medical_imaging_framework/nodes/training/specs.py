"""The Trainer node: wires model, loss, optimizer and loaders into the core training loop.

The spec and its check are plain data and torch-free; what the node does when it runs lives in
`nodes.trainer_run`, imported then.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact, check_labels, check_model_on_data
from medical_imaging_framework.core.node_spec import REFERENCE, CachePolicy
from medical_imaging_framework.core.option_values import ASYNC_CHOICES, checkpoints_enabled
from medical_imaging_framework.core.params import MAX_SEED, path_problem
from medical_imaging_framework.nodes.training.num_threads import parse_num_threads
from medical_imaging_framework.nodes.training.resume_file import resume_file_problem
from medical_imaging_framework.nodes.training.reuse import reference, restore, watched_files
from medical_imaging_framework.nodes.training.tracking import TRACKING_PARAMS, tensorboard_dir_problem
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training.devices import cuda_available
from medical_imaging_framework.training.precision import PRECISIONS


def run_trainer(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume training) with the checkpoint policy; outputs the trained model (see `trainer_run.train`).

    Args:
        ctx: the running node's context.
        inputs: model, loss, optimizer factory, loaders and optional scheduler factory.
        config: the Trainer's parsed parameters.
    """
    from medical_imaging_framework.nodes.training.run import train

    return train(ctx, inputs, config)


def check_trainer(ctx: CheckContext) -> None:
    """Folder and resume settings, device, and that model, loss and data fit together."""
    config = ctx.config
    problem = path_problem(config["checkpoint_dir"].strip())
    if problem:
        ctx.problem("checkpoint_dir", problem)
    problem = tensorboard_dir_problem(str(config.get("tensorboard_dir", "")))
    if problem:
        ctx.problem("tensorboard_dir", problem)
    if config["resume_from"].strip() == "last" and not checkpoints_enabled(config["checkpoint_dir"]):
        ctx.problem("resume_from", "'last' looks in checkpoint_dir, which is empty: set checkpoint_dir")
    resume_problem = resume_file_problem(config["resume_from"].strip())
    if resume_problem:
        ctx.problem("resume_from", resume_problem)  # a Problem's text is escaped when shown
    try:
        parse_num_threads(config.get("num_threads", "auto"))
    except ValueError as error:
        ctx.problem("num_threads", f"{error} (got '{config.get('num_threads')}')")
    if config["device"] == "cuda" and not cuda_available():
        ctx.problem("device", "'cuda' was asked for, but PyTorch sees no CUDA device (use 'auto' or 'cpu')")
    for port in ("train_data", "val_data"):
        if port in ctx.inputs:
            check_model_on_data(ctx, "model", port)
            check_labels(ctx, port, "training")
    out, loss = ctx.fact("model", Fact.OUT_CHANNELS), ctx.fact("loss", Fact.LOSS_CHANNELS)
    if out is not None and loss is not None:
        if loss.value == "one" and out.value != 1:
            ctx.conflict("", f"the loss needs a 1-channel (binary) model but the model outputs {out.value} channels",
                         loss, out)
        elif loss.value == "many" and out.value < 2:
            ctx.conflict("", "the loss (softmax) needs a model with 2 or more output channels, one per class",
                         loss, out)
    ctx.outputs["model"] = dict(ctx.inputs.get("model", {}))


SPECS = [
    NodeSpec(
        type_id="training.Trainer",
        title="Trainer",
        category="Training",
        run=run_trainer,
        inputs=(
            Port("model", PortKind.MODEL),
            Port("loss", PortKind.LOSS),
            Port("optimizer", PortKind.OPTIMIZER),
            Port("train_data", PortKind.DATALOADER),
            Port("val_data", PortKind.DATALOADER, required=False, help="Enables a validation loss each epoch."),
            Port("scheduler", PortKind.SCHEDULER, required=False),
        ),
        outputs=(Port("model", PortKind.TRAINED_MODEL),),
        params=(
            Param("num_epochs", ParamKind.INT, 20, "Epochs", "Number of epochs to train.", minimum=1),
            Param("device", ParamKind.CHOICE, "auto", "Device", "auto uses CUDA when available.",
                  choices=("auto", "cpu", "cuda")),
            Param("seed", ParamKind.INT, 0, "Seed", "Seeds Python, NumPy and torch at the start.", minimum=0,
                  maximum=MAX_SEED),
            Param("checkpoint_dir", ParamKind.PATH, "checkpoints", "Checkpoint Directory",
                  "Folder for checkpoint files (created when missing); empty disables saving."),
            Param("save_every_n_epochs", ParamKind.INT, 5, "Save Every N Epochs",
                  "Write checkpoint_epoch_N.pt every N epochs.", minimum=1),
            Param("resume_from", ParamKind.PATH, "", "Resume From",
                  "A checkpoint file to continue from, 'last' for the newest one in the checkpoint directory, "
                  "or 'auto': the newest one if there is any, else start fresh (elastic restarts use it)."),
            Param("keep_last_n", ParamKind.INT, 0, "Keep Last N",
                  "Periodic checkpoints to keep (0 keeps all); best and final are never deleted.", minimum=0),
            Param("stop_on_checkpoint_error", ParamKind.BOOL, False, "Stop On Checkpoint Error",
                  "Stop training when a checkpoint cannot be saved (by default training goes on)."),
            Param("mixed_precision", ParamKind.BOOL, False, "Mixed Precision",
                  "Automatic mixed precision with a gradient scaler (CUDA only; ignored on CPU). "
                  "The same as precision fp16-mixed."),
            Param("precision", ParamKind.CHOICE, "32", "Precision",
                  "32: full precision. bf16-mixed: bfloat16 autocast (CUDA, or CPU autocast). fp16-mixed: "
                  "float16 autocast with a gradient scaler (CUDA only; full precision on a CPU).",
                  choices=PRECISIONS),
            Param("async_checkpoint", ParamKind.CHOICE, "auto", "Async Checkpoint",
                  "Write checkpoints on a background thread; training waits only for a copy to CPU memory. "
                  "auto: on when training on CUDA.", choices=ASYNC_CHOICES),
            Param("output_weights", ParamKind.CHOICE, "best", "Output Weights",
                  "The weights the 'model' output carries to a Predictor: best (this run's best_model.pt, "
                  "the epoch with the lowest validation loss; the final weights when there is none, e.g. "
                  "checkpoints off) or final (the last epoch's).", choices=("best", "final")),
            Param("num_threads", ParamKind.STR, "auto", "Threads",
                  "Intra-op torch threads. auto: time 1, the cores this process may use (shared among "
                  "ranks, less DataLoader workers) and one between over the first steps, keep the fastest, "
                  "and time them again when the step time drifts; a number fixes the count.",
                  allow_empty=False),
            *TRACKING_PARAMS,
        ),
        description="Trains the model; saves periodic, best and final checkpoints; can resume.",
        check=check_trainer,
        cache=CachePolicy(mode=REFERENCE, watch=watched_files, reference=reference, restore=restore),
    ),
]
