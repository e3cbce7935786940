"""What the Trainer node does when it runs: seeds, device, precision, resume, callbacks, the core loop.

Kept apart from the Trainer's spec (`nodes.training`) so that the spec loads without torch.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medical_imaging_framework.checkpoints.background import BackgroundWriter, async_checkpoint_enabled
from medical_imaging_framework.checkpoints.files import CheckpointError, read_checkpoint
from medical_imaging_framework.checkpoints.folder import choose_resume
from medical_imaging_framework.checkpoints.lock import CheckpointFolderBusy, FolderLock, acquire
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy, checkpoints_enabled
from medical_imaging_framework.checkpoints.ranks import RankRngStates, prepare, restore_rank_rng
from medical_imaging_framework.checkpoints.state import restore_training_state
from medical_imaging_framework.checkpoints.writer import CheckpointWriter
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.training.label_classes import check_label_classes
from medical_imaging_framework.nodes.training.num_threads import parse_num_threads
from medical_imaging_framework.nodes.training.output_weights import pass_on_weights
from medical_imaging_framework.nodes.training.resume_file import resume_file_problem
from medical_imaging_framework.nodes.training.tracking import tracking_callbacks
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import LogLine, TrainingResumed
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training.devices import device_line
from medical_imaging_framework.training.distributed import (
    SharedCancelToken,
    all_reduce_sum,
    broadcast_object,
    ensure_process_group,
    is_active,
    is_main,
    rank_device,
    restart_count,
    run_on_main,
)
from medical_imaging_framework.training.loop import Callback, Trainer, TrainingState, resolve_device
from medical_imaging_framework.training.precision import PrecisionPlan, plan_precision
from medical_imaging_framework.training.threads import measured_threads, torch_threads_restored


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_callbacks(
    ctx: NodeContext, config: dict[str, Any], device: torch.device | None = None, resumed_from: Path | None = None
) -> list[Callback]:
    """The Trainer's callbacks: the checkpoint policy (it also reports the end of training).

    Args:
        ctx: the running node's context (events, pipeline JSON).
        config: the Trainer's parsed parameters.
        device: the training device (``async_checkpoint`` auto = background writes on CUDA).
        resumed_from: the checkpoint the run resumed from, if any (used to repair a stale best_model.pt).
    """
    # Under several processes the policy (every rank's random state in each file) writes on rank 0 while the
    # others wait, so background writes are for one process only.
    background = async_checkpoint_enabled(config.get("async_checkpoint", "auto"), device) and not is_active()
    writer = (BackgroundWriter(pin_memory=device is not None and device.type == "cuda") if background
              else CheckpointWriter())
    return [
        CheckpointPolicy(
            directory=config["checkpoint_dir"],
            every=config["save_every_n_epochs"],
            emit=ctx.emit,
            node_id=ctx.node_id,
            config=config,
            pipeline=ctx.pipeline,
            keep_last_n=config["keep_last_n"],
            stop_on_error=config["stop_on_checkpoint_error"],
            resumed_from=str(resumed_from) if resumed_from is not None else "",
            writer=writer,
            extra=RankRngStates(),
        )
    ]


def resume_path(ctx: NodeContext, config: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from (``resume_from``; ``last``/``auto`` = newest complete one), or None.

    ``auto`` starts fresh when there is no checkpoint (or no checkpoint_dir); after torchrun restarted
    the workers (an elastic restart) `elastic_resume_choice` applies ``auto``.

    Args:
        ctx: the running node's context.
        config: the Trainer's parsed parameters.

    Raises:
        NodeError: ``last`` without a checkpoint_dir, or a named file that does not exist.
    """
    choice = elastic_resume_choice(ctx, config)
    if not choice:
        return None
    if choice == "auto" and not checkpoints_enabled(config["checkpoint_dir"]):
        ctx.log("resume_from 'auto': no checkpoint_dir to look in; training starts at epoch 1")
        return None
    if choice in ("last", "auto"):
        if not checkpoints_enabled(config["checkpoint_dir"]):
            raise NodeError("resume_from 'last' looks in checkpoint_dir, which is empty: set checkpoint_dir")
        found = newest_checkpoint(config["checkpoint_dir"], ctx)
        if found is None:
            ctx.log(f"No complete checkpoint in {config['checkpoint_dir'].strip()} yet: training starts at epoch 1")
        return found
    path = Path(os.path.expanduser(choice))
    if not path.is_file():  # validate refuses this too; the file may have gone since
        raise NodeError(printable(f"resume_from: {resume_file_problem(choice) or f'{choice!r} is not a file'}"))
    return path


def newest_checkpoint(directory: str, ctx: NodeContext | None = None) -> Path | None:
    """The newest complete checkpoint of the run that wrote into the folder last (`choose_resume`), or None.

    When the folder holds the files of several runs and a newer file of another run is passed over, a
    warning naming both runs goes to ``ctx``.

    Args:
        directory: the Trainer's ``checkpoint_dir`` as typed (``~`` allowed).
        ctx: where the warning goes (None: nowhere).

    Raises:
        NodeError: the folder exists but cannot be listed (e.g. no read permission).
    """
    folder = Path(os.path.expanduser(directory.strip()))
    try:
        choice = choose_resume(folder)
    except OSError as error:
        reason = error.strerror or str(error)
        raise NodeError(f"checkpoint_dir '{directory.strip()}' cannot be searched for a checkpoint to resume "
                        f"from: {reason}") from None
    if choice.passed_over and choice.newest is not None and choice.path is not None and ctx is not None:
        ctx.emit(LogLine(
            f"warning: checkpoint_dir '{directory.strip()}' holds the files of two runs: the newest, "
            f"{choice.newest.name}, is of run {choice.newest_run_id}, but run {choice.run_id} wrote here last; "
            f"resuming run {choice.run_id} from {choice.path.name} (name a file in resume_from to continue "
            "the other)", ctx.node_id, "warning"))
    return choice.path


def elastic_resume_choice(ctx: NodeContext, config: dict[str, Any]) -> str:
    """``resume_from``, or ``auto`` after an elastic restart (torchrun restarted the worker group).

    After a restart the newest checkpoint in checkpoint_dir wins over an empty ``resume_from`` and over a
    named file (which is used only while the directory holds no checkpoint yet).

    Args:
        ctx: the running node's context (the restart is logged).
        config: the Trainer's parsed parameters.
    """
    choice = config["resume_from"].strip()
    if restart_count() == 0 or choice in ("last", "auto"):
        return choice
    directory = config["checkpoint_dir"].strip()
    if choice and (not directory or newest_checkpoint(directory) is None):
        return choice
    ctx.log(f"Restart {restart_count()} of the worker group: resuming from the newest checkpoint")
    return "auto"


def lock_folder(ctx: NodeContext, config: dict[str, Any], run_id: str) -> FolderLock | None:
    """Hold ``checkpoint_dir`` for this run (`checkpoints.lock`), before any file there is read or written.

    Args:
        ctx: the running node's context.
        config: the Trainer's parsed parameters.
        run_id: the run's id, recorded in the lock file.

    Returns:
        The held lock, or None: no checkpoint_dir, or one that cannot be created (the checkpoint policy
        reports that when training starts) or locked (a warning says so).

    Raises:
        NodeError: another run holds the folder (its pid and run id are named).
    """
    directory = config["checkpoint_dir"]
    if not checkpoints_enabled(directory):
        return None
    try:
        return acquire(Path(os.path.expanduser(directory.strip())), run_id, directory.strip())
    except CheckpointFolderBusy as busy:
        raise NodeError(f"checkpoint_dir: {busy}; two runs writing into one folder would mix their checkpoints "
                        "and metrics.csv. Wait for that run to end, or set another checkpoint_dir") from None
    except OSError as error:
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            ctx.emit(LogLine(f"warning: checkpoint_dir '{directory.strip()}' cannot be locked "
                             f"({error.strerror or error}): a second run into it would not be stopped",
                             ctx.node_id, "warning"))
        return None


def make_precision(ctx: NodeContext, config: dict[str, Any], device: torch.device) -> PrecisionPlan:
    """The autocast dtype and ``GradScaler`` for ``precision`` (or the old ``mixed_precision`` flag).

    Args:
        ctx: the running node's context (a fallback warning goes to its log).
        config: the Trainer's parsed parameters.
        device: the training device.
    """
    try:
        plan = plan_precision(config.get("precision", "32"), device, bool(config.get("mixed_precision")))
    except ValueError as error:
        raise NodeError(str(error)) from None
    if plan.warning:
        ctx.emit(LogLine(plan.warning, ctx.node_id, "warning"))
    return plan


def resume(ctx: NodeContext, state: TrainingState, path: Path, num_epochs: int, device: torch.device) -> None:
    """Restore ``state`` from checkpoint ``path`` and report it; raises `NodeError` with the cause.

    Args:
        ctx: the running node's context.
        state: the freshly built training state.
        path: the checkpoint file.
        num_epochs: the last epoch to train.
        device: where tensors are loaded.
    """
    try:
        checkpoint = read_checkpoint(path, map_location=device)
        warnings = restore_training_state(state, checkpoint, source=str(path))
    except CheckpointError as error:
        raise NodeError(f"resume_from: {error}") from None
    warnings += restore_rank_rng(checkpoint)
    for warning in warnings:
        ctx.emit(LogLine(f"warning: {warning}", ctx.node_id, "warning"))
    if state.epoch >= num_epochs:
        ctx.log(f"{path} already holds epoch {state.epoch} of num_epochs {num_epochs}: no epoch left to train")
    else:
        ctx.emit(TrainingResumed(ctx.node_id, str(path), state.epoch, num_epochs))


def train(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume training) with the checkpoint policy; outputs the trained model.

    The checkpoint folder is held (`lock_folder`, on rank 0) from before the resume until training ends,
    fails or is stopped.

    Args:
        ctx: the running node's context.
        inputs: model, loss, optimizer factory, loaders and optional scheduler factory.
        config: the Trainer's parsed parameters.
    """
    check_label_classes(ctx, inputs)  # before any folder, process group or epoch: a wrong class count ends here
    ensure_process_group()
    device = rank_device(resolve_device(config["device"]))
    ctx.log(device_line(device))
    seed_everything(config["seed"])
    model = inputs["model"].to(device)
    optimizer = inputs["optimizer"](model.parameters())
    scheduler = inputs["scheduler"](optimizer) if inputs.get("scheduler") else None
    precision = make_precision(ctx, config, device)
    state = TrainingState(model=model, optimizer=optimizer, scheduler=scheduler, scaler=precision.scaler)
    lock = run_on_main(lambda: lock_folder(ctx, config, state.run_id))  # refused on rank 0: every rank fails
    try:
        checkpoint = broadcast_object(resume_path(ctx, config))  # every rank resumes from rank 0's
        if checkpoint is not None:
            resume(ctx, state, checkpoint, config["num_epochs"], device)
            if lock is not None:
                lock.record(state.run_id)  # the resumed run's id
        if lock is not None:
            lock.keep_folder()  # training starts: the folder stays, as the checkpoint policy announces it
        fit(ctx, inputs, config, state, device, precision, checkpoint)
    finally:
        if lock is not None:
            lock.release()
    pass_on_weights(ctx, config, state, model, device)
    model.eval()
    return {"model": model}


def fit(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any], state: TrainingState,
        device: torch.device, precision: PrecisionPlan, checkpoint: Path | None) -> None:
    """Build the callbacks and the loop, and train ``state`` to ``num_epochs``.

    Args:
        ctx: the running node's context.
        inputs: the Trainer's inputs.
        config: the Trainer's parsed parameters.
        state: the (resumed) training state.
        device: the training device.
        precision: autocast dtype and gradient scaler.
        checkpoint: the file the run resumed from, if any.
    """
    callbacks = build_callbacks(ctx, config, device, resumed_from=checkpoint)
    if is_main():  # metrics.csv, TensorBoard and MLflow are written once, by rank 0
        callbacks += tracking_callbacks(ctx, config, inputs)
    ranks = prepare(state, device, inputs["train_data"], inputs.get("val_data"), callbacks, config["seed"])
    trainer = Trainer(
        loss_fn=inputs["loss"],
        train_loader=ranks.train_loader,
        val_loader=ranks.val_loader,
        num_epochs=config["num_epochs"],
        device=device,
        cancel=SharedCancelToken(ctx.cancel) if ranks.active else ctx.cancel,
        emit=ctx.emit,
        node_id=ctx.node_id,
        callbacks=ranks.callbacks,
        all_reduce=all_reduce_sum if ranks.active else None,
        autocast_dtype=precision.autocast_dtype,
    )
    with torch_threads_restored():  # one policy in every way to run (training/threads.py)
        trainer.threads = measured_threads(device, parse_num_threads(config.get("num_threads", "auto")),
                                           getattr(ranks.train_loader, "num_workers", 0) or 0,
                                           lambda text: ctx.log(text) if is_main() else None)  # rank 0 says it
        trainer.fit(state)
