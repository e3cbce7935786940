"""Checkpoint files: names, safe loading (``weights_only=True``), model-state matching, and finding ``last``.

Writing lives in `checkpoint_writer`, what goes into a file in `checkpoint_state`, when to save in
`checkpoint_policy`, and the ``mif inspect`` text in `checkpoint_inspect` (which imports this module, never
the reverse). Every file is loaded the same way: declared sizes checked before anything is inflated
(`checkpoint_archive`), CRCs, ``torch.load(weights_only=True)``, then every field against the schema
(`checkpoint_schema`).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from medical_imaging_framework.checkpoints.archive import check_declared_sizes, verify_archive
from medical_imaging_framework.checkpoints.errors import CheckpointError, field_error, shown
from medical_imaging_framework.checkpoints.schema import REQUIRED_KEYS, validate_checkpoint
from medical_imaging_framework.core.atomic_file import TEMP_SUFFIX
from medical_imaging_framework.core.text import printable

FORMAT_VERSION = 1
BEST_NAME = "best_model.pt"
FINAL_NAME = "final_model.pt"
PERIODIC_PATTERN = re.compile(r"\Acheckpoint_epoch_(\d+)\.pt\Z")  # \Z, not $: "$" also matches before a final "\n"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


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
    allow_non_finite: bool = False,
) -> dict[str, Any]:
    """Load a checkpoint safely and optionally restore a model and optimizer from it.

    Loading always uses ``torch.load(..., weights_only=True)``: a file that holds pickled code is refused.
    Every field is checked against the schema, and NaN or infinite weights are refused.

    Args:
        path: the checkpoint file.
        model: when given, its weights are replaced (a DDP/compile wrapper is looked through); a model
            whose parameter names or shapes differ raises a `CheckpointError` naming the keys.
        optimizer: when given, its state is restored from ``optimizer_state_dict``.
        map_location: passed to ``torch.load`` (e.g. ``"cpu"`` for a CUDA checkpoint on a CPU machine).
        allow_non_finite: load NaN/infinite weights and losses anyway (for debugging a diverged run).

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: missing, truncated or damaged file, not a checkpoint, untrusted content, a field
            of the wrong type or range, non-finite weights, or a model/optimizer that does not match.
    """
    checkpoint = read_checkpoint(path, map_location=map_location, allow_non_finite=allow_non_finite)
    if model is not None:
        apply_model_state(model, checkpoint["model_state_dict"], source=str(path))
    if optimizer is not None:
        load_optimizer_state(optimizer, checkpoint["optimizer_state_dict"], source=str(path))
    return checkpoint


def load_optimizer_state(optimizer: Any, state: Any, source: str) -> None:
    """``optimizer.load_state_dict(state)``; any failure is a `CheckpointError` naming the file and field.

    Args:
        optimizer: the target optimizer.
        state: the checkpoint's ``optimizer_state_dict``.
        source: names the file in the message.
    """
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError, IndexError) as error:
        raise field_error(
            source, "optimizer_state_dict",
            f"the optimizer state does not fit this optimizer: {printable(_first_line(str(error)))}",
        ) from None


def read_checkpoint(
    path: str | os.PathLike[str], map_location: Any = None, allow_non_finite: bool = False
) -> dict[str, Any]:
    """Load a checkpoint file safely and check every field against the schema (`checkpoint_schema`).

    Args:
        path: the checkpoint file.
        map_location: passed to ``torch.load``.
        allow_non_finite: accept NaN/infinite weights and losses (for debugging a diverged run).

    Raises:
        CheckpointError: with the file, the field (where one is at fault) and the cause in the message.
    """
    data = _torch_load(Path(path), map_location)
    return validate_checkpoint(data, path, allow_non_finite=allow_non_finite)


def _torch_load(path: Path, map_location: Any) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (an interrupted copy or save?)")
    if zipfile.is_zipfile(path):
        # sizes first (nothing inflated), then CRCs: torch.load checks neither, a flipped bit would load silently
        verify_archive(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files: not for users
            warnings.simplefilter("ignore")
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
        raise CheckpointError(f"{path}: not a PyTorch checkpoint, or damaged ({_torch_detail(text)})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: not a checkpoint: its data is nested too deeply to read") from None
    except MemoryError:
        raise CheckpointError(f"{path}: not a checkpoint: reading it needs more memory than there is") from None
    except Exception as error:  # torch raises many types for a damaged file; all mean "cannot be read"
        if isinstance(error, PermissionError):
            raise CheckpointError(f"{path}: permission denied") from None
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint (no zip archive inside), or truncated or damaged"
            ) from None
        raise CheckpointError(
            f"{path}: truncated or damaged; the file cannot be read ({_torch_detail(str(error))})"
        ) from None


def _torch_detail(text: str) -> str:
    """The cause in torch's message, without its advice to retry with ``weights_only=False``.

    That advice is for files one trusts; for a damaged or foreign file it would only invite running its code.
    """
    _, marker, rest = text.partition("WeightsUnpickler error:")
    detail = _first_line(rest if marker else text)
    if "weights_only" in detail or "Weights only load failed" in detail:
        return "the file's data is not a pickle that PyTorch writes"
    return printable(detail[:200])


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
    weights = check_model_fits(target, state_dict, source)
    try:
        target.load_state_dict(weights, strict=True)
    except (RuntimeError, TypeError, ValueError) as error:  # e.g. a complex tensor for a real parameter
        detail = printable(_first_line(str(error).replace("Error(s) in loading state_dict for", "")))
        raise field_error(source, "model_state_dict", f"cannot be loaded into this model: {detail}") from None


def check_model_fits(model: nn.Module, state_dict: Mapping[str, Any], source: str = "checkpoint") -> dict[str, Any]:
    """Check that ``state_dict`` has exactly ``model``'s parameter names and shapes; returns it without prefixes.

    Nothing is loaded, so ``model`` may live on the ``meta`` device (shapes without memory): `mif export`
    checks the architecture a pipeline describes this way before building it.

    Args:
        model: the target (wrappers are looked through).
        state_dict: weights, with or without wrapper prefixes.
        source: names the file in the message.

    Raises:
        CheckpointError: naming the missing and unexpected keys and the shapes that differ.
    """
    target = unwrap_model(model)
    if not isinstance(state_dict, Mapping) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state_dict.items()
    ):
        raise field_error(source, "model_state_dict", f"must map names to tensors (got {shown(state_dict)})")
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
    return weights


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


class Peek(NamedTuple):
    """What `peek_checkpoint` read from a file: its ``epoch`` and ``run_id`` (None where the file holds none)."""

    epoch: int | None
    run_id: str | None


def peek_checkpoint(path: str | os.PathLike[str]) -> Peek | None:
    """The epoch and run id stored in checkpoint ``path``, read without loading its tensors; None when the
    file cannot be read or is refused.

    The sizes its zip records declare are checked first (`check_declared_sizes`: nothing is inflated), so a
    hostile file (a decompression bomb, a record that lies about its size) is refused before ``torch.load``
    sees it; then the file is loaded memory-mapped (``weights_only=True``), which reads the small pickled
    structure but leaves the tensor data on disk. A file that is not a zip archive is not read at all.
    No checksum or schema check is made: use `read_checkpoint` to use a file.

    Args:
        path: the file.
    """
    try:
        if not zipfile.is_zipfile(path):
            return None
        check_declared_sizes(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # any unreadable or refused file simply tells nothing
        return None
    if not isinstance(data, dict):
        return Peek(None, None)
    epoch, run_id = data.get("epoch"), data.get("run_id")
    return Peek(epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
                run_id if isinstance(run_id, str) and run_id else None)


def find_last_checkpoint(directory: str | os.PathLike[str], run_id: str | None = None) -> Path | None:
    """The newest complete checkpoint in ``directory``: highest epoch first, skipping unreadable files.

    Temp files (an interrupted save) are never considered. At equal epochs ``final_model.pt`` is preferred,
    then the periodic file, then ``best_model.pt`` (they hold the same state).

    Args:
        directory: the checkpoint directory.
        run_id: only files of this run (their ``run_id``); None: any file.
    """
    rank = {FINAL_NAME: 2, BEST_NAME: 0}
    candidates = []
    for path in checkpoint_files(directory):
        match = PERIODIC_PATTERN.match(path.name)
        peek = None if match and run_id is None else peek_checkpoint(path)
        if run_id is not None and (peek is None or peek.run_id != run_id):
            continue
        epoch = int(match.group(1)) if match else peek.epoch if peek else None
        if epoch is not None:
            candidates.append((epoch, rank.get(path.name, 1), path))
    for _, _, path in sorted(candidates, reverse=True):
        try:
            read_checkpoint(path, map_location="cpu")
        except CheckpointError:
            continue
        return path
    return None


__all__ = [
    "BEST_NAME",
    "FINAL_NAME",
    "FORMAT_VERSION",
    "REQUIRED_KEYS",
    "CheckpointError",
    "apply_model_state",
    "check_model_fits",
    "find_last_checkpoint",
    "load_checkpoint",
    "load_optimizer_state",
    "peek_checkpoint",
    "periodic_name",
    "read_checkpoint",
    "strip_wrapper_prefixes",
    "unwrap_model",
    "verify_archive",
]
