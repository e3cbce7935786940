"""The training loop. It knows nothing about files: checkpointing and other side effects are
callbacks fed each epoch's results (as MONAI handlers and Lightning callbacks are)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from medical_imaging_framework.run.control import Cancelled, CancelToken, NodeError
from medical_imaging_framework.run.events import EpochEnded, EventSink, Progress, TrainingStopped
from medical_imaging_framework.training.shapes import indivisible_input_problem, output_size_problem
from medical_imaging_framework.training.thread_tuner import ThreadTuner


@dataclass
class TrainingState:
    """Everything that changes while training, and all a checkpoint must restore.

    Args:
        model: the network (unwrapped; on the training device).
        optimizer: its optimizer.
        scheduler: optional learning-rate scheduler, stepped once per epoch.
        scaler: optional ``torch.amp.GradScaler`` for mixed precision.
        epoch: the last completed epoch (0 before training).
        epoch_losses: mean training loss of each completed epoch.
        val_losses: validation loss of each completed epoch (empty without validation).
        best_loss: lowest monitored loss so far (inf before the first epoch).
        run_id: identifies the run in every checkpoint it writes (kept when a run is resumed).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any = None
    scaler: Any = None
    epoch: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    best_loss: float = float("inf")
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass(frozen=True)
class EpochResult:
    """One finished epoch. ``monitored`` is the validation loss when there is one, else training loss."""

    epoch: int
    num_epochs: int
    train_loss: float
    val_loss: float | None
    seconds: float

    @property
    def monitored(self) -> float:
        return self.val_loss if self.val_loss is not None else self.train_loss


class Callback:
    """No-op base for training callbacks."""

    def on_train_start(self, state: TrainingState) -> None:
        """Called once before the first epoch to run."""

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Called after each epoch, with ``state.epoch`` already advanced."""

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Called once at the end; ``completed`` is False when the run was stopped."""


class NonFiniteLossError(NodeError):
    """The training or validation loss of an epoch is NaN or infinite; the run stops before that epoch's
    state reaches any callback (no checkpoint holds it)."""


def check_finite_losses(epoch: int, train_loss: float, val_loss: float | None) -> None:
    """Raise `NonFiniteLossError` naming ``epoch`` when a loss of that epoch is NaN or infinite.

    Args:
        epoch: the epoch just trained (1-based).
        train_loss: its mean training loss.
        val_loss: its validation loss, or None.
    """
    if math.isfinite(train_loss):
        if val_loss is None or math.isfinite(val_loss):
            return
        what = f"the validation loss is {val_loss} (training loss {train_loss:.4f})"
    else:
        what = f"the loss is {train_loss}" + ("" if val_loss is None else f" (validation loss {val_loss:.4f})")
    raise NonFiniteLossError(
        f"Training stopped at epoch {epoch}: {what}. The weights of this epoch are not "
        "usable, so no checkpoint was saved for it; earlier checkpoints and best_model.pt are kept. Lower the "
        "learning rate, check the data for NaN/inf values, or resume from an earlier checkpoint."
    )


LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def split_batch(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, label) on ``device`` from a dict batch (``image``/``label``) or a pair."""
    if isinstance(batch, Mapping):
        if "label" not in batch:  # e.g. a Datalist's 'test' list or a CSV without a 'label' column
            raise NodeError(f"the batches carry no 'label' (their keys: {', '.join(map(str, batch))}): training "
                            "needs labelled data (a Datalist reads labels from its 'label' column or entries)")
        image, label = batch["image"], batch["label"]
    elif isinstance(batch, Sequence) and len(batch) >= 2:
        image, label = batch[0], batch[1]
    else:
        raise TypeError("a training batch must be a dict with 'image' and 'label' or an (image, label) pair")
    # plain tensors: MONAI MetaTensors carry meta the loss does not need, at ~20% of a small model's step time
    image, label = image.as_subclass(torch.Tensor), label.as_subclass(torch.Tensor)
    return image.to(device, non_blocking=True), label.to(device, non_blocking=True)


@dataclass
class Trainer:
    """Runs epochs over a loader, computes validation loss, and notifies callbacks.

    Args:
        loss_fn: ``loss_fn(prediction, label) -> scalar``.
        train_loader: iterable of training batches.
        val_loader: optional iterable of validation batches.
        num_epochs: last epoch to run (1-based, inclusive).
        device: where to train.
        cancel: checked after every batch.
        emit: event sink (EpochEnded, Progress, TrainingStopped).
        node_id: the node named in events.
        callbacks: notified in order.
        autocast_dtype: autocast to this dtype in forward passes (None: full precision, unless a scaler).
        all_reduce: sums a list of numbers over every rank (several processes); None in one process.
        threads: times each training step and sets the intra-op thread count; None leaves torch's.
    """

    loss_fn: LossFunction
    train_loader: Iterable[Any]
    val_loader: Iterable[Any] | None
    num_epochs: int
    device: torch.device
    cancel: CancelToken
    emit: EventSink
    node_id: str = "trainer"
    callbacks: list[Callback] = field(default_factory=list)
    autocast_dtype: torch.dtype | None = None  # bf16/fp16 mixed precision (see core.precision); None = fp32
    all_reduce: Callable[[Sequence[float]], list[float]] | None = None
    threads: ThreadTuner | None = None

    def fit(self, state: TrainingState) -> TrainingState:
        """Train from ``state.epoch + 1`` to ``num_epochs``; raises `Cancelled` after a stop."""
        for callback in self.callbacks:
            callback.on_train_start(state)
        try:
            for epoch in range(state.epoch + 1, self.num_epochs + 1):
                self._run_epoch(state, epoch)
        except Cancelled:
            self.emit(TrainingStopped(node_id=self.node_id, epoch=state.epoch + 1))
            for callback in self.callbacks:
                callback.on_train_end(state, completed=False)
            raise
        for callback in self.callbacks:
            callback.on_train_end(state, completed=True)
        return state

    def _run_epoch(self, state: TrainingState, epoch: int) -> None:
        started = time.perf_counter()
        train_loss = self._train_one_epoch(state, epoch)
        val_loss = self._validate(state) if self.val_loader is not None else None
        check_finite_losses(epoch, train_loss, val_loss)
        result = EpochResult(epoch, self.num_epochs, train_loss, val_loss, time.perf_counter() - started)
        if state.scheduler is not None:
            _step_scheduler(state.scheduler, result.monitored)
        state.epoch = epoch
        state.epoch_losses.append(train_loss)
        if val_loss is not None:
            state.val_losses.append(val_loss)
        self.emit(
            EpochEnded(self.node_id, epoch, self.num_epochs, train_loss, val_loss, result.seconds)
        )
        for callback in self.callbacks:
            callback.on_epoch_end(state, result)
        state.best_loss = min(state.best_loss, result.monitored)

    def _train_one_epoch(self, state: TrainingState, epoch: int) -> float:
        state.model.train()
        # summed on the device in float64 (the same arithmetic as Python floats): no GPU sync per batch
        total, count = torch.zeros((), dtype=torch.float64, device=self.device), 0
        num_batches = _length(self.train_loader)
        if self.threads is not None:
            self.threads.begin()
        for index, batch in enumerate(self.train_loader, start=1):
            image, label = split_batch(batch, self.device)
            state.optimizer.zero_grad(set_to_none=True)
            loss = self._forward_loss(state, image, label, batch=batch)
            if state.scaler is not None:
                state.scaler.scale(loss).backward()
                state.scaler.step(state.optimizer)
                state.scaler.update()
            else:
                loss.backward()
                state.optimizer.step()
            total += loss.detach().double() * image.shape[0]
            count += image.shape[0]
            if self.threads is not None:
                self.threads.step_done()
            self.emit(Progress(self.node_id, epoch, self.num_epochs, index, num_batches))
            self.cancel.raise_if_cancelled()
        return self._mean(total.item(), count, "training")

    def _forward_loss(
        self, state: TrainingState, image: torch.Tensor, label: torch.Tensor, model: nn.Module | None = None,
        batch: Any = None,
    ) -> torch.Tensor:
        model = state.model if model is None else model
        if state.scaler is None and self.autocast_dtype is None:
            return self._loss(model, image, label, batch)
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
            return self._loss(model, image, label, batch)

    def _loss(self, model: nn.Module, image: torch.Tensor, label: torch.Tensor, batch: Any) -> torch.Tensor:
        try:
            prediction = model(image)
        except RuntimeError as error:  # a skip connection that cannot meet its decoder level: name the fix
            problem = indivisible_input_problem(image, batch, model)
            if problem:
                raise NodeError(problem) from error
            raise
        problem = output_size_problem(prediction, label, batch, model)  # shapes only: no device sync
        if problem:
            raise NodeError(problem)
        return self.loss_fn(prediction, label)

    @torch.no_grad()
    def _validate(self, state: TrainingState) -> float:
        state.model.eval()
        # summed on the device like the training loss (no GPU sync per batch); the module inside DDP: its
        # forward syncs buffers, and validation shards may differ by a batch
        model = state.model.module if isinstance(state.model, nn.parallel.DistributedDataParallel) else state.model
        total, count = torch.zeros((), dtype=torch.float64, device=self.device), 0
        for batch in self.val_loader or ():
            image, label = split_batch(batch, self.device)
            total += self._forward_loss(state, image, label, model, batch).detach().double() * image.shape[0]
            count += image.shape[0]
            self.cancel.raise_if_cancelled()
        return self._mean(total.item(), count, "validation")

    def _mean(self, total: float, count: int, what: str) -> float:
        """``total / count``, both summed over every rank first when several processes train."""
        if self.all_reduce is not None:
            total, summed_count = self.all_reduce([total, count])
            count = round(summed_count)
        if count == 0:
            raise ValueError(f"the {what} data loader yielded no batches")
        return total / count


def _step_scheduler(scheduler: Any, monitored: float) -> None:
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()


def _length(loader: Iterable[Any]) -> int:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return 0


def resolve_device(choice: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without CUDA raises a clear error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA device (use 'auto' or 'cpu')")
    return torch.device(choice)
