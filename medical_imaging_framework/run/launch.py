"""Launching a run on several processes with torchrun, and knowing when this process is one of them.

Torch-free: the parent of a torchrun launch needs no torch; each rank imports it when its nodes run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from medical_imaging_framework.run.control import StopEscalation
from medical_imaging_framework.run.launch_env import (
    TORCHRUN_VARIABLES,
    VALIDATED_FLAG,
    launched_by_torchrun,
    restart_count,
)
from medical_imaging_framework.run.process_tree import kill_tree, parent_death_signal
from medical_imaging_framework.run.status import RunStatus, exit_code

# torchrun, quiet about a stop the user asked for (`training/torchrun_main.py`); named, not imported (no torch)
TORCHRUN_MODULE = "medical_imaging_framework.training.torchrun_main"


def torchrun_command(
    pipeline: str,
    processes: int,
    max_restarts: int = 0,
    events: str = "text",
    overrides: Sequence[str] = (),
    debug: bool = False,
) -> list[str]:
    """The torchrun command line that runs ``mif run PIPELINE`` in ``processes`` processes on this machine.

    The ranks skip validation: the launching process validated the pipeline once (``--validated``).

    Args:
        pipeline: the pipeline file (or bundled example name) as given to ``mif run``.
        processes: processes to start.
        max_restarts: elastic restarts of the whole group when one process fails.
        events: ``text`` or ``jsonl`` (``mif run --events``).
        overrides: the ``--set`` overrides, repeated to every rank.
        debug: pass ``--debug`` on.
    """
    command = [
        sys.executable, "-m", TORCHRUN_MODULE, "--standalone", f"--nproc-per-node={processes}",
        f"--max-restarts={max_restarts}",
        "-m", "medical_imaging_framework", "run", pipeline, "--events", events, VALIDATED_FLAG,
    ]
    for override in overrides:
        command += ["--set", override]
    if debug:
        command.append("--debug")
    return command


def launch_torchrun(command: Sequence[str], stops: StopEscalation | None = None) -> int:
    """Run torchrun as a child and wait; Ctrl-C/SIGTERM are passed on, a second one kills it and its workers.

    When this process dies (SIGKILL, SIGHUP) torchrun gets SIGTERM and stops its ranks after the current batch.

    Returns the child's exit code, or the code of a cancelled run when it ended after a stop was asked for.

    Args:
        command: see `torchrun_command`.
        stops: the stop escalation to count requests with (a new one when omitted).
    """
    stops = stops or StopEscalation()
    started: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if stops.request() == "graceful":
            print("\nStopping every process after the current batch (again to abort now)...",
                  file=sys.stderr, flush=True)
            if started:
                started[0].send_signal(signum)
        elif started:
            kill_tree(started[0].pid)

    # the handlers first: a Ctrl-C from the moment torchrun exists is passed on, never a KeyboardInterrupt here
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # its own session: Ctrl-C reaches this process only, which passes it on; SIGTERM when this process dies
        # (killed, or a closed terminal's SIGHUP), which torchrun passes to its ranks; each rank also stops with
        # torchrun
        child = subprocess.Popen(list(command), start_new_session=True, preexec_fn=parent_death_signal(signal.SIGTERM))
        started.append(child)
        if stops.count:  # Ctrl-C while it was being started
            child.send_signal(signal.SIGINT)
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stops.count and code != 0:
        return exit_code(RunStatus.CANCELLED)
    return code


__all__ = [
    "TORCHRUN_VARIABLES", "VALIDATED_FLAG", "launch_torchrun", "launched_by_torchrun", "restart_count",
    "torchrun_command",
]
