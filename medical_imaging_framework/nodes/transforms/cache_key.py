"""The user's secret key that signs on-disk cache entries (`cache_entries`), kept outside every cache folder.

``$XDG_CONFIG_HOME/medical-imaging-framework/cache-key`` (``~/.config/...`` without the variable; the folder
the editor keeps its settings in): 32 random bytes, made on first use, readable by the user only. A cache
folder can be copied, shared and synced; the key is not in it, so nobody else can write an entry that this
user's runs accept. Who holds the key file can: to share a cache within a team, share the key too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from medical_imaging_framework.core.atomic_file import fsync_directory, temp_path

KEY_BYTES = 32
CONFIG_FOLDER = "medical-imaging-framework"
KEY_NAME = "cache-key"


def key_path() -> Path:
    """Where the key lives: the user's configuration folder (``$XDG_CONFIG_HOME`` or ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".config") / CONFIG_FOLDER / KEY_NAME


def user_cache_key(log: Callable[[str], None]) -> bytes:
    """The user's cache key, made on first use; a key for this run only when the file cannot be read or made.

    Args:
        log: told, in one line naming the file, when the key cannot be kept (later runs then recompute).
    """
    path = key_path()
    try:
        key = _read(path)
        if key is None:
            _create(path)
            key = _read(path)
        if key is None:
            raise OSError("it is not a key of 32 bytes")
        return key
    except OSError as error:
        log(f"cache key '{path}': {error.strerror or error}; this run signs its cache entries with a key of "
            "its own, so later runs recompute them")
        return secrets.token_bytes(KEY_BYTES)


def _read(path: Path) -> bytes | None:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(key) != KEY_BYTES:  # damaged (e.g. emptied by a sync tool): replaced; its entries are recomputed
        path.unlink()
        return None
    return key


def _create(path: Path) -> None:
    """Write a new key unless another process got there first (a hard link never replaces a file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = temp_path(path)
    # not core.atomic_file.write_atomically: it replaces an existing file, and two ranks of one torchrun
    # starting together must end up with one key, so the new file is linked in only where none exists yet
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(KEY_BYTES))
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
        fsync_directory(path.parent)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
