"""torchrun's standard error, passed on line by line, without torchrun's own noise once the user stopped the run.

On Ctrl-C torchrun's agent logs that it received a death signal and is closing its workers, then raises
``SignalException`` out of its main function, which prints a traceback of torchrun's internals. The workers
stop after their current batch and say so themselves; those agent lines and that traceback tell the user
nothing. Before a stop every line passes unchanged (a worker's warning, torchrun's own failure summary).
Kept by hand: torchrun has no option to leave them out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from medical_imaging_framework.run.control import StopEscalation

AGENT_LOG = re.compile(r"^[DIWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S*torch/distributed/elastic/")
TRACEBACK = "Traceback (most recent call last):"
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


class TorchrunStderr:
    """Feeds torchrun's stderr lines to ``write``, leaving out its agent's log and its ``SignalException``
    traceback once ``stops`` counts a stop request.

    Args:
        stops: the launch's stop escalation (its ``count`` says whether the user asked for a stop).
        write: where the kept lines go (each ends with its newline).
    """

    def __init__(self, stops: StopEscalation, write: Callable[[str], None]) -> None:
        self.stops = stops
        self.write = write
        self.held: list[str] = []  # a traceback being read after a stop: dropped if it is torchrun's signal

    def feed(self, line: str) -> None:
        """Pass on (or leave out) one line.

        Args:
            line: a line of torchrun's stderr, with its newline.
        """
        if self.held:
            self.held.append(line)
            text = line.rstrip("\n")
            if text and not text[0].isspace() and not text.startswith((TRACEBACK, *CHAINED)):
                block, self.held = self.held, []
                if "SignalException" not in text:  # another failure: the user needs it
                    for kept in block:
                        self.write(kept)
            return
        if not self.stops.count:
            self.write(line)
        elif line.startswith(TRACEBACK):
            self.held = [line]
        elif not AGENT_LOG.match(line):
            self.write(line)

    def close(self) -> None:
        """Pass on a traceback cut short (torchrun ended in the middle of one)."""
        block, self.held = self.held, []
        for line in block:
            self.write(line)
