"""What a checkpoint holds, built from a `TrainingState`, and how a resumed run restores it.

Everything here is plain data (tensors, numbers, strings, lists, dicts) so that a file loads under
``torch.load(path)``'s default ``weights_only=True``.
"""

from __future__ import annotations

import copy
import functools
import math
import platform
import random
from collections import Counter
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np
import torch

from medical_imaging_framework import __version__
from medical_imaging_framework.checkpoints.files import (
    FORMAT_VERSION,
    CheckpointError,
    apply_model_state,
    load_optimizer_state,
    strip_wrapper_prefixes,
    unwrap_model,
)
from medical_imaging_framework.training.loop import TrainingState


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA generator states, as plain lists/ints/tensors."""
    version, internal, gauss_next = random.getstate()
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(rng: Mapping[str, Any]) -> list[str]:
    """Restore what `capture_rng_state` saved; returns warnings for parts that could not be restored.

    Args:
        rng: the ``rng_state`` entry of a checkpoint (tensors may be on any device).
    """
    warnings: list[str] = []
    python = rng.get("python")
    if python:
        random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    numpy_state = rng.get("numpy")
    if numpy_state:
        keys = numpy_state["keys"].cpu().numpy().astype(np.uint32)
        np.random.set_state(
            (numpy_state["kind"], keys, numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached_gaussian"])
        )
    if rng.get("torch") is not None:
        torch.set_rng_state(rng["torch"].cpu().to(torch.uint8))
    cuda_states = list(rng.get("cuda") or [])
    if cuda_states:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda_states):
            torch.cuda.set_rng_state_all([state.cpu().to(torch.uint8) for state in cuda_states])
        else:
            warnings.append(
                f"the checkpoint holds the random state of {len(cuda_states)} CUDA device(s), this machine has "
                f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}; CUDA random state not restored"
            )
    return warnings


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    try:
        monai_version = metadata.version("monai")
    except metadata.PackageNotFoundError:
        monai_version = "not installed"
    return (
        ("medical_imaging_framework", __version__),
        ("torch", str(torch.__version__)),
        ("monai", monai_version),
        ("python", platform.python_version()),
    )


def versions() -> dict[str, str]:
    """Versions of this package, torch, monai and Python (for reproducibility notes); looked up once."""
    return dict(_versions())


def build_checkpoint(
    state: TrainingState,
    loss: float,
    val_loss: float | None,
    config: Mapping[str, Any],
    pipeline: Mapping[str, Any],
) -> dict[str, Any]:
    """The dict saved for ``state`` right after epoch ``state.epoch``.

    Args:
        state: the training state (``epoch`` already advanced, ``epoch_losses`` appended).
        loss: the monitored loss of that epoch (validation loss when validating, else training loss).
        val_loss: that epoch's validation loss, or None.
        config: the Trainer's parameters.
        pipeline: the pipeline JSON being run.
    """
    best = min(state.best_loss, loss)
    checkpoint: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "epoch": int(state.epoch),
        "model_state_dict": strip_wrapper_prefixes(unwrap_model(state.model).state_dict()),
        "optimizer_state_dict": state.optimizer.state_dict(),
        "loss": float(loss),
        "epoch_losses": [float(value) for value in state.epoch_losses],
        "best_loss": float(best) if math.isfinite(best) else float(loss),
        "rng_state": capture_rng_state(),
        "config": _plain(dict(config)),
        "pipeline": _plain(dict(pipeline)),
        "versions": _plain(versions()),
        "run_id": str(state.run_id),
    }
    if val_loss is not None or state.val_losses:
        checkpoint["val_loss"] = None if val_loss is None else float(val_loss)
        checkpoint["val_losses"] = [float(value) for value in state.val_losses]
    if state.scheduler is not None:
        checkpoint["scheduler_state_dict"] = _plain(state.scheduler.state_dict())
    if state.scaler is not None:
        checkpoint["scaler_state_dict"] = _plain(state.scaler.state_dict())
    return checkpoint


def _plain(value: Any) -> Any:
    """A copy of ``value`` made of types ``weights_only`` loading accepts (tuples become lists)."""
    if isinstance(value, torch.Tensor) or value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (bool, int, float, str)):  # subclasses (enums, TorchVersion) are not allowed
        for plain in (bool, int, float, str):
            if isinstance(value, plain):
                return plain(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return str(value)


def restore_training_state(state: TrainingState, checkpoint: Mapping[str, Any], source: str) -> list[str]:
    """Put a checkpoint's model, optimizer, scheduler, scaler, losses and RNG states into ``state``.

    Args:
        state: freshly built state (model on its device, optimizer over its parameters).
        checkpoint: a dict from `load_checkpoint` / `read_checkpoint`.
        source: the file, named in errors.

    Returns:
        Warnings (e.g. CUDA random state that could not be restored).

    Raises:
        CheckpointError: when the model, optimizer, scheduler or scaler does not fit.
    """
    warnings: list[str] = []
    apply_model_state(state.model, checkpoint["model_state_dict"], source=source)
    load_optimizer_state(state.optimizer, copy.deepcopy(checkpoint["optimizer_state_dict"]), source)
    for target, key, what in ((state.scheduler, "scheduler_state_dict", "scheduler"),
                              (state.scaler, "scaler_state_dict", "mixed-precision scaler")):
        _restore_optional(target, checkpoint.get(key), what, source, warnings, key)
    state.epoch = int(checkpoint["epoch"])
    state.epoch_losses = [float(value) for value in checkpoint["epoch_losses"]]
    state.val_losses = [float(value) for value in checkpoint.get("val_losses") or []]
    best = checkpoint.get("best_loss")
    state.best_loss = float(best) if best is not None else float(checkpoint["loss"])
    state.run_id = str(checkpoint.get("run_id") or state.run_id)
    if checkpoint.get("rng_state"):
        try:
            warnings.extend(restore_rng_state(checkpoint["rng_state"]))
        except (ValueError, TypeError, KeyError, RuntimeError, OverflowError) as error:
            raise CheckpointError(f"{source}: field 'rng_state': cannot be restored ({error})") from None
    else:
        warnings.append(f"{source} holds no random-number state; the resumed run will not repeat the original")
    return warnings


def _restore_optional(target: Any, saved: Any, what: str, source: str, warnings: list[str], key: str) -> None:
    if target is None:
        if saved is not None:
            warnings.append(f"{source} holds a {what} state, but this run uses no {what}; it is ignored")
        return
    if saved is None:
        warnings.append(f"{source} holds no {what} state; the {what} starts fresh")
        return
    restored = copy.deepcopy(saved)
    if isinstance(restored, dict):
        # Counters (e.g. MultiStepLR milestones) were stored as plain dicts; give them their type back.
        current = target.state_dict()
        for key, value in current.items():
            if isinstance(value, Counter) and isinstance(restored.get(key), Mapping):
                restored[key] = Counter(restored[key])
    try:
        target.load_state_dict(restored)
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError, IndexError) as error:
        raise CheckpointError(f"{source}: field '{key}': the {what} state does not fit: {error}") from None
