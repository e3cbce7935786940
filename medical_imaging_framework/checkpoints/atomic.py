"""Atomic checkpoint writing: the framework's one atomic file writer (`core.atomic_file`: temp file in the
same folder, flush + fsync, ``os.replace``, folder fsync), with what checkpoints add on top.

A crash mid-save leaves at most a temp file (``.NAME.PID-XXXX.tmp``), never a truncated file under a final
name. The folder is created when missing and free space is checked before writing; every OS error becomes a
`CheckpointWriteError` whose message names the path and the cause in words.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.core.atomic_file import is_temp_name, write_atomically

# Room for the zip directory and pickled structure on top of the tensor bytes.
SIZE_OVERHEAD = 256 * 1024


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; ``path`` is the file or folder, ``reason`` the cause in words."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def describe_os_error(error: OSError, path: str | os.PathLike[str]) -> str:
    """A short, plain-words cause for ``error`` met while writing ``path``.

    Args:
        error: the OS error.
        path: the file or folder being written.
    """
    if isinstance(error, CheckpointWriteError):
        return error.reason
    if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied: cannot write in '{Path(path).parent}' (read-only folder or disk?)"
    if error.errno == errno.ENOSPC or error.errno == getattr(errno, "EDQUOT", -1):
        return f"no space left on the disk holding '{Path(path).parent}'"
    if isinstance(error, (NotADirectoryError, FileExistsError)) or error.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(Path(path))
        where = f"'{blocker}'" if blocker else "a part of the path"
        return f"{where} is a file, not a directory"
    if isinstance(error, IsADirectoryError):
        return f"'{path}' is a directory, not a file"
    detail = error.strerror or str(error) or type(error).__name__
    return f"{detail} ({error.filename or path})"


def describe_listing_error(error: OSError, folder: str | os.PathLike[str]) -> str:
    """A short cause for ``error`` met while listing (or checking) the checkpoint folder ``folder``.

    Args:
        error: the OS error.
        folder: the folder being listed.
    """
    detail = error.strerror.lower() if error.strerror else str(error) or type(error).__name__
    return f"cannot list the files in '{folder}' ({detail})"


def _file_in_the_way(path: Path) -> Path | None:
    """The first of ``path`` and its parents that exists and is not a folder; None when there is none or when
    the file system cannot tell (a folder that cannot be searched: the write itself reports that error)."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            continue  # missing, or not searchable (EACCES): not a file in the way
        if not stat.S_ISDIR(mode):
            return parent
    return None


def ensure_directory(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` and its parents when missing.

    Args:
        directory: the checkpoint folder.

    Raises:
        CheckpointWriteError: a file is in the way, permission denied, or another OS error.
    """
    folder = Path(directory)
    blocker = _file_in_the_way(folder)
    if blocker is not None:
        raise CheckpointWriteError(folder, f"'{blocker}' is a file, not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointWriteError(folder, describe_os_error(error, folder / "x")) from None
    return folder


def estimate_size(value: Any) -> int:
    """Bytes ``torch.save`` will need for ``value``, about: its tensors' storages plus a margin.

    Args:
        value: a checkpoint dict (nested dicts/lists of tensors and plain values).
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            total += item.element_size() * item.numel()  # views are counted in full: a safe over-estimate
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
            total += 16 * len(item)
            stack.extend(element for element in item if not isinstance(element, (int, float)))
        else:
            total += 16
    return total + SIZE_OVERHEAD


def check_free_space(directory: str | os.PathLike[str], needed: int) -> None:
    """Raise `CheckpointWriteError` when the disk holding ``directory`` has fewer than ``needed`` bytes free.

    Args:
        directory: an existing folder.
        needed: bytes about to be written.
    """
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return  # the space cannot be read here (some network file systems): let the write itself decide
    if free < needed:
        raise CheckpointWriteError(
            directory,
            f"not enough free disk space: the checkpoint needs about {_megabytes(needed)}, "
            f"only {_megabytes(free)} free",
        )


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def write_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> int:
    """Write ``checkpoint`` to ``path`` atomically and durably; returns the file size in bytes.

    Args:
        checkpoint: the dict to save.
        path: the final file name; its folder is created when missing.

    Raises:
        CheckpointWriteError: on any OS error (the temp file is removed, an older ``path`` stays intact).
    """
    target = Path(path)
    folder = ensure_directory(target.parent)
    check_free_space(folder, estimate_size(checkpoint))
    try:
        return write_atomically(target, lambda stream: torch.save(dict(checkpoint), stream))
    except BaseException as error:  # the temp file is gone and an older file intact: say why in words
        cause = _os_error_in(error) or error
        if isinstance(cause, OSError):
            raise CheckpointWriteError(target, describe_os_error(cause, target)) from None
        if isinstance(cause, Exception):  # torch's zip writer raises RuntimeError for what went wrong below it
            first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
            raise CheckpointWriteError(target, f"writing failed: {first_line}") from None
        raise


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind ``error``: torch's zip writer turns a failed write into a RuntimeError whose
    ``__context__`` holds the real cause (e.g. ENOSPC)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def clean_temp_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete stale temp files that an interrupted write left in ``directory`` (a checkpoint's, ``metrics.csv``'s,
    the report's); returns those removed.

    Args:
        directory: the checkpoint folder (missing is fine).

    Raises:
        CheckpointWriteError: the folder exists but cannot be listed (e.g. permission denied).
    """
    folder = Path(directory)
    try:
        if not folder.is_dir():
            return []
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if is_temp_name(entry.name)]  # metrics.csv's too
    except OSError as error:
        raise CheckpointWriteError(folder, describe_listing_error(error, folder)) from None
    removed = []
    for name in names:
        path = folder / name
        try:
            if not path.is_file():
                continue
            path.unlink()
        except OSError:
            continue  # a stale temp file that stays is harmless: `last` and loading ignore it
        removed.append(path)
    return sorted(removed)

