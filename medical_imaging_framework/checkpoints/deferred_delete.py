"""Deleting old checkpoint files (``keep_last_n``) without making training wait for the file system.

Unlinking a file costs time in proportion to its size: about 38 ms for a 200 MB checkpoint on this
machine's ext4, seconds on some network file systems, which the training loop would otherwise wait for
at every save (``bench/checkpoint_bench.py``). So a file is first renamed to a writer temp name in the same
folder (atomic and immediate: it leaves the checkpoint set at once, and `find_last_checkpoint` and loading
ignore temp files), then unlinked on a daemon thread. A temp file left by a crash is removed at the next
training start by `clean_temp_files`, like an interrupted save's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError, describe_os_error
from medical_imaging_framework.checkpoints.files import TEMP_SUFFIX


class DeferredDeleter:
    """Moves files aside at once and unlinks them in the background; `wait` joins the unlinking."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def delete(self, path: Path) -> None:
        """Take ``path`` out of its folder now (a missing file is fine) and free its space in the background.

        Args:
            path: the file.

        Raises:
            CheckpointWriteError: it cannot be moved aside (e.g. a read-only folder); it stays as it was.
        """
        aside = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return
        except OSError as error:
            raise CheckpointWriteError(path, f"could not delete: {describe_os_error(error, path)}") from None
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        thread = threading.Thread(target=_unlink_quietly, args=(aside,), name="mif-checkpoint-delete", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait(self) -> None:
        """Return once every file handed to `delete` so far is unlinked (or its unlinking failed)."""
        for thread in self._threads:
            thread.join()
        self._threads.clear()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # a temp file that stays is harmless: the next training start removes it
        path.unlink(missing_ok=True)
