"""Checkpoint files: names, safe loading (``weights_only=True``), model-state matching, and finding ``last``.

Writing lives in `checkpoint_writer`, what goes into a file in `checkpoint_state`, when to save in
`checkpoint_policy`, and the ``mif inspect`` text in `checkpoint_inspect`.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT_VERSION = 1
REQUIRED_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "loss", "epoch_losses")
BEST_NAME = "best_model.pt"
FINAL_NAME = "final_model.pt"
PERIODIC_PATTERN = re.compile(r"^checkpoint_epoch_(\d+)\.pt$")
TEMP_SUFFIX = ".tmp"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(Exception):
    """A checkpoint file cannot be used; the message names the file and the cause."""


def periodic_name(epoch: int) -> str:
    """The file name of the periodic checkpoint after ``epoch`` (1-based)."""
    return f"checkpoint_epoch_{epoch}.pt"


def is_temp_file(name: str) -> bool:
    """Whether ``name`` is an in-progress (or stale) temp file of the checkpoint writer."""
    return name.startswith(".") and ".pt." in name and name.endswith(TEMP_SUFFIX)


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: Any = None,
) -> dict[str, Any]:
    """Load a checkpoint safely and optionally restore a model and optimizer from it.

    Loading always uses ``torch.load(..., weights_only=True)``: a file that holds pickled code is refused.

    Args:
        path: the checkpoint file.
        model: when given, its weights are replaced (a DDP/compile wrapper is looked through); a model
            whose parameter names or shapes differ raises a `CheckpointError` naming the keys.
        optimizer: when given, its state is restored from ``optimizer_state_dict``.
        map_location: passed to ``torch.load`` (e.g. ``"cpu"`` for a CUDA checkpoint on a CPU machine).

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: missing, truncated or damaged file, not a checkpoint, untrusted content,
            or a model/optimizer that does not match.
    """
    checkpoint = read_checkpoint(path, map_location=map_location)
    if model is not None:
        apply_model_state(model, checkpoint["model_state_dict"], source=str(path))
    if optimizer is not None:
        try:
            optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"{path}: the optimizer state does not fit this optimizer: {error}") from None
    return checkpoint


def read_checkpoint(path: str | os.PathLike[str], map_location: Any = None) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` and checks that the result is a checkpoint dict.

    Args:
        path: the checkpoint file.
        map_location: passed to ``torch.load``.

    Raises:
        CheckpointError: with the file and cause in the message.
    """
    data = _torch_load(Path(path), map_location)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a checkpoint (it holds a {type(data).__name__}, not a dict)")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise CheckpointError(f"{path}: not a checkpoint of this framework (missing: {', '.join(missing)})")
    if not isinstance(data["model_state_dict"], Mapping):
        raise CheckpointError(f"{path}: 'model_state_dict' is not a dict of tensors")
    return data


def _torch_load(path: Path, map_location: Any) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (an interrupted copy or save?)")
    if zipfile.is_zipfile(path):
        verify_archive(path)  # torch.load does not check the records' CRCs: a flipped bit would load silently
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        # torch names the refused global or class; plain damage fails with other unpickling errors
        untrusted = any(marker in text.lower() for marker in ("unsupported global", "unsupported class"))
        if untrusted:
            raise CheckpointError(
                f"{path}: refused: the file holds pickled Python objects besides tensors, numbers, strings, "
                "lists and dicts, which could run code when loaded. Only if you trust its source, load it "
                "yourself with torch.load(path, weights_only=False)."
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint, or damaged ({_first_line(text)})") from None
    except Exception as error:  # torch raises many types for a damaged file; all mean "cannot be read"
        if isinstance(error, PermissionError):
            raise CheckpointError(f"{path}: permission denied") from None
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint (no zip archive inside), or truncated or damaged"
            ) from None
        raise CheckpointError(
            f"{path}: truncated or damaged; the file cannot be read ({_first_line(str(error))})"
        ) from None


def verify_archive(path: str | os.PathLike[str]) -> int:
    """Check every record's CRC in the checkpoint's zip archive; returns the number of records.

    Args:
        path: the checkpoint file.

    Raises:
        CheckpointError: the file is not a zip archive, is truncated, or a record fails its CRC.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            count = len(archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointError(f"{path}: truncated or damaged (not a complete zip archive: {error})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: damaged: record '{bad}' fails its checksum (CRC)")
    return count


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no detail"


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside DDP/DataParallel (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def strip_wrapper_prefixes(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Remove ``module.`` / ``_orig_mod.`` prefixes that every key shares (DDP and compile wrappers).

    Args:
        state_dict: a model state dict.
    """
    result = dict(state_dict)
    changed = True
    while changed and result:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(key.startswith(prefix) for key in result):
                result = {key[len(prefix):]: value for key, value in result.items()}
                changed = True
    return result


def apply_model_state(model: nn.Module, state_dict: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Load ``state_dict`` into ``model`` exactly; a mismatch raises a `CheckpointError` naming the keys.

    Args:
        model: the target (wrappers are looked through).
        state_dict: weights, with or without wrapper prefixes.
        source: names the file in the message.
    """
    target = unwrap_model(model)
    weights = strip_wrapper_prefixes(state_dict)
    expected = target.state_dict()
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected]
    wrong_shape = [
        f"{key} (checkpoint {tuple(weights[key].shape)}, model {tuple(value.shape)})"
        for key, value in expected.items()
        if key in weights and isinstance(weights[key], torch.Tensor) and weights[key].shape != value.shape
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing keys: {_key_list(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_key_list(unexpected)}")
        if wrong_shape:
            parts.append(f"size mismatch: {_key_list(wrong_shape)}")
        raise CheckpointError(
            f"{source}: the checkpoint's weights do not fit this model (a different architecture?); "
            + "; ".join(parts)
        )
    target.load_state_dict(weights, strict=True)


def _key_list(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def checkpoint_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The complete checkpoint files (periodic, best, final) in ``directory``; temp files never count."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    names = [
        entry.name
        for entry in os.scandir(folder)
        if entry.is_file() and (PERIODIC_PATTERN.match(entry.name) or entry.name in (BEST_NAME, FINAL_NAME))
    ]
    return [folder / name for name in sorted(names)]


def periodic_files(directory: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every ``checkpoint_epoch_N.pt`` in ``directory``, by epoch."""
    found = []
    for path in checkpoint_files(directory):
        match = PERIODIC_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def find_last_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint in ``directory``: highest epoch first, skipping unreadable files.

    Temp files (an interrupted save) are never considered. At equal epochs ``final_model.pt`` is preferred,
    then the periodic file, then ``best_model.pt`` (they hold the same state).

    Args:
        directory: the checkpoint directory.
    """
    rank = {FINAL_NAME: 2, BEST_NAME: 0}
    candidates = []
    for path in checkpoint_files(directory):
        match = PERIODIC_PATTERN.match(path.name)
        epoch = int(match.group(1)) if match else _stored_epoch(path)
        if epoch is not None:
            candidates.append((epoch, rank.get(path.name, 1), path))
    for _, _, path in sorted(candidates, reverse=True):
        try:
            read_checkpoint(path, map_location="cpu")
        except CheckpointError:
            continue
        return path
    return None


def _stored_epoch(path: Path) -> int | None:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # any unreadable file is simply not a candidate
        return None
    epoch = data.get("epoch") if isinstance(data, dict) else None
    return epoch if isinstance(epoch, int) else None


def describe_checkpoint(path: str | os.PathLike[str]) -> str:
    """The ``mif inspect`` summary of a checkpoint (see `checkpoint_inspect.describe`).

    Args:
        path: the checkpoint file.

    Raises:
        CheckpointError: when the file cannot be read or is damaged.
    """
    from medical_imaging_framework.core.checkpoint_inspect import describe

    return describe(path)


__all__ = [
    "BEST_NAME",
    "FINAL_NAME",
    "FORMAT_VERSION",
    "CheckpointError",
    "apply_model_state",
    "describe_checkpoint",
    "find_last_checkpoint",
    "load_checkpoint",
    "periodic_name",
    "read_checkpoint",
    "strip_wrapper_prefixes",
    "unwrap_model",
    "verify_archive",
]
