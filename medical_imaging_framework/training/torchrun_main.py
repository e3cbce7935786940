"""torchrun for `mif run --nproc`: ``torch.distributed.run`` itself, quiet about a stop the user asked for.

On Ctrl-C (or SIGTERM) torchrun's agent logs that it received a death signal and is closing its workers, then
lets ``SignalException`` out of its main function, which prints a traceback of torchrun's internals. The
workers stop after their current batch and say so themselves; that traceback and those log lines tell the user
nothing. Here the exception ends the process with 128 + the signal's number, and the agent's shutdown lines
after a death signal are left out; every other line and failure (a rank that failed, with torchrun's summary)
is torchrun's own. Kept by hand: torchrun has no option for it.
"""

from __future__ import annotations

import logging
import sys

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.run import main as torchrun

AGENT_LOGGERS = ("torch.distributed.elastic.agent.server.api", "torch.distributed.elastic.multiprocessing.api")


class StopNoise(logging.Filter):
    """Leaves out the agent's "death signal" line and the "closing signal" lines that follow it."""

    def __init__(self) -> None:
        super().__init__()
        self.stopping = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "death signal" in message:
            self.stopping = True
            return False
        return not (self.stopping and "closing signal" in message)


def main(argv: list[str] | None = None) -> int:
    """Run torchrun with ``argv`` (the command line when None); returns its exit code.

    Args:
        argv: torchrun's arguments.
    """
    noise = StopNoise()
    for name in AGENT_LOGGERS:
        logging.getLogger(name).addFilter(noise)
    # run as `python -m torch.distributed.run`, its lines (the OMP_NUM_THREADS notice) went to Python's last-resort
    # handler as bare text; imported, they would take torch's log prefix: keep them as they were
    launcher_log = logging.getLogger("torch.distributed.run")
    launcher_log.handlers.clear()
    launcher_log.propagate = False
    try:
        torchrun(argv)
    except SignalException as stop:  # the user stopped the run: the workers said so
        return 128 + int(stop.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
