"""The checkpoint folder lock: one run at a time writes into a checkpoint folder.

A run holds an OS file lock (``fcntl.flock``, exclusive) on ``.mif-run.lock`` inside its checkpoint folder
from before it reads or writes any file there (the resume, the checkpoints, ``metrics.csv``) until it ends.
The OS drops the lock when the process ends, however it ends (an exception, Ctrl-C, SIGKILL, a power cut),
so there is never a stale lock to clear by hand. The file holds the holder's pid, run id, host and start
time as JSON, so a second run is refused with them. A run that ends removes the file (while still holding
it), and the folder too when the lock created it and the run failed before training (a failed resume leaves
nothing behind); a file left by a killed process holds no lock and is taken over by the next run.

The lock is advisory: it stops a second ``mif`` run (of any version with this module), not another program.
Under several processes rank 0 holds it (the only rank that writes). Windows has no ``flock``: there the
record is written but nothing is locked (``msvcrt.locking`` locks byte ranges against reading too, so the
record could not be read back by the run it refuses).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: see the module docstring
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".mif-run.lock"
_RECORD_MAX = 4096  # a record is ~150 bytes; more is not ours and is not read


@dataclass(frozen=True)
class LockRecord:
    """Who holds (or last held) a checkpoint folder.

    Args:
        pid: the process id.
        run_id: the training run's id (the ``run_id`` of every checkpoint it writes).
        host: the machine's name.
        started: when it took the folder (local time, ``YYYY-MM-DD HH:MM:SS``).
    """

    pid: int | None
    run_id: str
    host: str = ""
    started: str = ""

    def describe(self) -> str:
        """``pid 4242, run 3fa1c2d9e0b1, on host since 2025-01-01 12:00:00`` (the parts known)."""
        parts = [f"pid {self.pid}" if self.pid is not None else "pid unknown", f"run {self.run_id or 'unknown'}"]
        where = f"on {self.host}" if self.host else ""
        when = f"since {self.started}" if self.started else ""
        return ", ".join(parts) + (f", {' '.join(part for part in (where, when) if part)}" if where or when else "")


class CheckpointFolderBusy(OSError):
    """Another run holds the checkpoint folder.

    Args:
        folder: the folder as shown to the user.
        holder: what the lock file says about the holder (None: not written yet, or unreadable).
    """

    def __init__(self, folder: str, holder: LockRecord | None) -> None:
        self.folder = folder
        self.holder = holder
        who = holder.describe() if holder is not None else "its pid and run id are not written yet"
        super().__init__(f"checkpoint folder '{folder}' is in use by another run ({who})")

    def __str__(self) -> str:
        return str(self.args[0])


class FolderLock:
    """A held checkpoint folder; `release` (or the end of the process) lets the next run in.

    Args:
        path: the lock file.
        handle: its open file descriptor, holding the lock.
        created_folder: the folder did not exist before (removed on release when still empty).
    """

    def __init__(self, path: Path, handle: int, created_folder: bool = False) -> None:
        self.path = path
        self.created_folder = created_folder
        self._handle: int | None = handle

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._handle is not None

    def keep_folder(self) -> None:
        """Keep the folder on release even when empty (training started: the run announced it)."""
        self.created_folder = False

    def record(self, run_id: str) -> None:
        """Write this process's record (pid, ``run_id``, host, time) into the lock file.

        Args:
            run_id: the run writing into the folder (after a resume: the resumed run's id).
        """
        if self._handle is None:
            return
        record = LockRecord(os.getpid(), run_id, socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S"))
        data = json.dumps(record.__dict__).encode("utf-8")
        os.ftruncate(self._handle, 0)
        os.lseek(self._handle, 0, os.SEEK_SET)
        os.write(self._handle, data)

    def release(self) -> None:
        """Remove the lock file (and the folder, when this run made it and left it empty), then let go."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            # unlinked while still held: a run opening the name from now on makes a new file, and one that
            # opened this file before sees that it is gone once it holds it (`acquire` checks)
            with contextlib.suppress(OSError):
                if _still_named(handle, self.path):  # not when the folder was deleted and another run's is there
                    os.unlink(self.path)
                if self.created_folder:
                    os.rmdir(self.path.parent)  # fails, as it should, when the run wrote anything there
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)


def acquire(folder: str | os.PathLike[str], run_id: str, shown: str = "") -> FolderLock:
    """Take the folder for this run (created when missing) and record it; never waits.

    Args:
        folder: the checkpoint folder on disk.
        run_id: the run about to write there.
        shown: the folder as the user typed it (for the message; default: ``folder``).

    Raises:
        CheckpointFolderBusy: another run holds it (the message names its pid and run id).
        OSError: the folder or the lock file cannot be created, or the file system offers no locks.
    """
    directory = Path(folder)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    while True:
        # O_CLOEXEC: a program started by the run (exec) does not keep the folder locked after the run ends
        handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise CheckpointFolderBusy(shown or str(folder), _read(handle)) from None
            if _still_named(handle, path):
                lock = FolderLock(path, handle, created)
                lock.record(run_id)
                return lock
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)  # the run before removed this file after we opened it: lock the one at the name now


def _still_named(handle: int, path: Path) -> bool:
    """Whether the open file ``handle`` is still the file at ``path``."""
    try:
        return os.path.samestat(os.fstat(handle), os.stat(path))
    except FileNotFoundError:
        return False


def holder(folder: str | os.PathLike[str]) -> LockRecord | None:
    """The run holding ``folder`` now (its record), or None when no run holds it.

    A lock held by this very process (another run in the editor) counts too. Creates nothing.

    Args:
        folder: the checkpoint folder on disk.
    """
    if fcntl is None:
        return None
    try:
        handle = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None  # no lock file (or no folder): nobody holds it
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle) or LockRecord(None, "")
        except OSError:
            return None  # no locks on this file system: nothing to tell
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None
    finally:
        os.close(handle)


def _read(handle: int) -> LockRecord | None:
    """The record in an open lock file; None when it is empty, half-written or not ours."""
    try:
        os.lseek(handle, 0, os.SEEK_SET)
        data = json.loads(os.read(handle, _RECORD_MAX).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        return None
    pid = data.get("pid")
    return LockRecord(
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        data["run_id"],
        str(data.get("host") or ""),
        str(data.get("started") or ""),
    )
