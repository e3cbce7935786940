"""``--busy N``: N processes spinning ``while True`` for as long as a benchmark runs (a loaded machine).

The issue's targets are stated at a load average of about 4 on 2 cores; other work on a shared machine adds to
it, so the benchmarks print the load average they saw (`load_average`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator


def add_busy_option(parser: argparse.ArgumentParser) -> None:
    """``--busy N`` (default 0).

    Args:
        parser: the benchmark's argument parser.
    """
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="start N `while True` processes for the benchmark's duration (default 0)")


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Keep ``count`` CPU-spinning processes running inside the block; they are killed and reaped after it.

    Args:
        count: how many (0: none).
    """
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, count))]
    try:
        yield spinners
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def load_average() -> str:
    """The 1-minute load average as text (``?`` where the platform has none)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):
        return "?"
