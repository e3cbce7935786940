"""Replacing a file atomically and durably: the one way the framework writes a whole file.

The content goes to a temp file in the same folder (``.NAME.PID-XXXX.tmp``), which is flushed and fsynced,
renamed onto the final name with ``os.replace``, and the folder is fsynced. A crash at any point leaves
either the old file or the new one under the final name, never a mix; on any failure the temp file is
removed and the old file is left as it was. The new file keeps an existing file's permission bits; a new
name gets ``0o666`` less the process umask, as ``open(path, "w")`` gives. Used for pipeline files,
``metrics.csv``, checkpoints (`checkpoints.atomic` adds its free-space check and messages), the report and the
on-disk cache's entries.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"

Content = bytes | str | Callable[[BinaryIO], object]
_TEMP_NAME = re.compile(r"\A\..+\.\d+-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")  # \Z: "$" allows a final "\n"


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh temp file name next to ``path``: ``.NAME.PID-XXXXXXXX.tmp``.

    Args:
        path: the final file.
    """
    target = Path(path)
    return target.with_name(f".{target.name}.{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temp file of `write_atomically` (in progress, or left by a crash).

    Args:
        name: a file name.
    """
    return bool(_TEMP_NAME.fullmatch(name))


def write_atomically(path: str | os.PathLike[str], content: Content, encoding: str = "utf-8") -> int:
    """Replace ``path`` with ``content`` atomically and durably; returns the new file's size in bytes.

    Args:
        path: the final file; its folder must exist.
        content: bytes, text (encoded with ``encoding``), or a function that writes to the binary stream it
            is given (e.g. ``lambda stream: torch.save(data, stream)``).
        encoding: the encoding of text content.

    Raises:
        OSError: or whatever ``content`` raised, unchanged; the temp file is removed and an older ``path``
            stays intact.
    """
    target = Path(path)
    mode = _existing_mode(target)
    temp = temp_path(target)
    try:
        # 0o666: the kernel takes the umask off, as for any new file
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(handle, "wb") as stream:
            if mode is not None:
                _set_mode(stream.fileno(), temp, mode)
            if callable(content):
                content(stream)
            else:
                stream.write(content.encode(encoding) if isinstance(content, str) else content)
            stream.flush()
            os.fsync(stream.fileno())
            size = stream.tell()
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
    return size


def _existing_mode(target: Path) -> int | None:
    """The permission bits of the file being replaced (None: there is none)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return None


def _set_mode(handle: int, temp: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # a file system without permission bits (FAT, some shares) keeps its own
        if hasattr(os, "fchmod"):
            os.fchmod(handle, mode)
        else:
            os.chmod(temp, mode)


def fsync_directory(folder: str | os.PathLike[str]) -> None:
    """Make a rename inside ``folder`` durable (no-op where folders cannot be opened, e.g. Windows).

    Args:
        folder: the directory to sync.
    """
    if os.name == "nt":
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data file itself is already synced
    finally:
        os.close(handle)
