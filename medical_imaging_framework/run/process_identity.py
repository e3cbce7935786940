"""What identifies the process that writes a run record, and whether that process is still there.

A run record says ``running`` from the start of its run until its end is written. A run killed by SIGKILL or a
power cut never writes its end, so the record also holds its writer's identity: pid, host name, the process's
start time in clock ticks since boot (``/proc/<pid>/stat`` field 22) and the boot id
(``/proc/sys/kernel/random/boot_id``). A pid alone is not enough: pids are reused, and a reboot starts them
again. `process_gone` compares them with the live system.

Read from ``/proc`` by hand: psutil (``Process.create_time``) would do it, but it is not a dependency of mif and
this is the only place that would use it; where ``/proc`` is missing (macOS, Windows) only the pid is checked.
Torch- and Qt-free.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROC = Path("/proc")
_BOOT_ID = _PROC / "sys" / "kernel" / "random" / "boot_id"
_GONE_STATES = ("Z", "X")  # a zombie has ended: it only waits for its parent to read its exit status


@dataclass(frozen=True)
class ProcessIdentity:
    """One process, told apart from a later one that reuses its pid.

    Args:
        pid: the process id.
        host: the machine's name (``socket.gethostname``).
        start_ticks: its start time in clock ticks since boot (None where ``/proc`` is missing).
        boot_id: the kernel's boot id ("" where ``/proc`` is missing).
    """

    pid: int
    host: str = ""
    start_ticks: int | None = None
    boot_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``run.json`` (``process``)."""
        return {"pid": self.pid, "host": self.host, "start_ticks": self.start_ticks, "boot_id": self.boot_id}

    def describe(self) -> str:
        """``pid 4242 on host``."""
        return f"pid {self.pid}" + (f" on {self.host}" if self.host else "")


def identity_from_dict(data: Any) -> ProcessIdentity | None:
    """The identity in a record's ``process`` field; None when it is missing or malformed (an older record).

    Args:
        data: the parsed ``process`` value.
    """
    if not isinstance(data, dict):
        return None
    pid, ticks = data.get("pid"), data.get("start_ticks")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    return ProcessIdentity(pid=pid, host=str(data.get("host") or ""),
                           start_ticks=ticks if isinstance(ticks, int) and not isinstance(ticks, bool) else None,
                           boot_id=str(data.get("boot_id") or ""))


def _stat(pid: int) -> tuple[str, int] | None:
    """The state letter and start ticks of ``pid`` from ``/proc/<pid>/stat``; None when it cannot be read."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
        fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": the name may hold spaces and ')'
        return fields[0], int(fields[19])  # field 3 (state) and field 22 (starttime)
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def current_process() -> ProcessIdentity:
    """This process's identity."""
    stat = _stat(os.getpid())
    return ProcessIdentity(pid=os.getpid(), host=socket.gethostname(), start_ticks=stat[1] if stat else None,
                           boot_id=_boot_id())


def process_gone(identity: ProcessIdentity) -> bool | None:
    """Whether the process ``identity`` names has ended: True (gone), False (still running) or None (it ran
    on another machine: nothing here can tell).

    Args:
        identity: the identity a record holds.
    """
    if identity.host and identity.host != socket.gethostname():
        return None
    boot_id = _boot_id()
    if identity.boot_id and boot_id and identity.boot_id != boot_id:
        return True  # the machine has restarted since
    stat = _stat(identity.pid)
    if stat is not None:
        state, ticks = stat
        if state in _GONE_STATES:
            return True
        return identity.start_ticks is not None and ticks != identity.start_ticks  # another process, same pid
    if _PROC.joinpath("self").exists():
        return True  # /proc works and has no such pid
    if os.name == "nt":
        return None  # os.kill(pid, 0) would end the process there (TerminateProcess), not ask about it
    try:
        os.kill(identity.pid, 0)  # no /proc: signal 0 only asks whether the pid exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, owned by someone else
    return False


__all__ = ["ProcessIdentity", "current_process", "identity_from_dict", "process_gone"]
