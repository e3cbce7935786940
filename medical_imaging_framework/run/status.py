"""How a run ended, and the one map between that status and a process's exit code.

`mif run` exits with the code of its run's status; the editor reads a child process's exit code back
into the same status. Nowhere else spells 130 or 2.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """The outcome of a run (a `str`, so it compares equal to ``"done"`` and serialises as one)."""

    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INVALID = "invalid"


EXIT_CODES: dict[RunStatus, int] = {
    RunStatus.DONE: 0,
    RunStatus.FAILED: 1,
    RunStatus.INVALID: 2,
    RunStatus.CANCELLED: 130,  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)
}


def exit_code(status: str) -> int:
    """The exit code of a run that ended with ``status``.

    Args:
        status: a `RunStatus` (or its string).
    """
    return EXIT_CODES[RunStatus(status)]


def status_of_exit_code(code: int) -> RunStatus | None:
    """The status a child process's exit ``code`` stands for; None for a code no run gives (a crash).

    Args:
        code: the exit code.
    """
    return next((status for status, value in EXIT_CODES.items() if value == code), None)


__all__ = ["EXIT_CODES", "RunStatus", "exit_code", "status_of_exit_code"]
