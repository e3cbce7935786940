"""`mif run`'s options beyond one plain process (``--events jsonl``, ``--nproc N``) and its event sinks.

The launching itself is the run session's (`run.launch`, `run.session`); this module only maps arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from medical_imaging_framework.run.launch_env import NO_CACHE_FLAG, VALIDATED_FLAG, launched_by_torchrun

if TYPE_CHECKING:  # run.cache imports the document model: not for `mif --help`
    from medical_imaging_framework.run.cache import ResultCache

EVENT_FORMATS = ("text", "jsonl")


def add_run_options(run: argparse.ArgumentParser) -> None:
    """Add ``--events`` and ``--nproc`` to the ``mif run`` parser.

    Args:
        run: the ``run`` sub-command's parser.
    """
    run.add_argument(
        "--events", choices=EVENT_FORMATS, default="text",
        help="jsonl: one JSON object per event on stdout (docs/events.md); log lines go to stderr",
    )
    run.add_argument(
        "--nproc", type=_whole_number(1), default=1, metavar="N",
        help="train/infer with N processes on this machine (starts torchrun; docs/training/DISTRIBUTED.md)",
    )
    run.add_argument(
        NO_CACHE_FLAG, dest="no_cache", action="store_true",
        help="run every node again; by default a node whose parameters, inputs and files did not change since an "
             "earlier run is reused, e.g. a finished training (docs/gui/RUNS.md)",
    )
    # set by a launching `mif` (torchrun, the editor) that validated the pipeline already: validation once per launch
    run.add_argument(VALIDATED_FLAG, action="store_true", help=argparse.SUPPRESS)
    run.add_argument(
        "--max-restarts", type=_whole_number(0), default=0, metavar="K",
        help="with --nproc: restart all processes up to K times when one fails (resumes from the newest checkpoint)",
    )


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value

    return parse


def result_cache(args: argparse.Namespace) -> ResultCache | None:
    """The cache ``mif run`` reuses results from: None with ``--no-cache`` and under torchrun (every rank would
    decide alone; docs/gui/RUNS.md), else the working folder's ``.mif/cache``.

    Args:
        args: the parsed ``mif run`` arguments.
    """
    if getattr(args, "no_cache", False) or launched_by_torchrun() or getattr(args, "nproc", 1) > 1:
        return None
    from medical_imaging_framework.run.cache import ResultCache

    return ResultCache()


def wants_launcher(args: argparse.Namespace) -> bool:
    """Whether ``mif run`` should start torchrun (``--nproc`` > 1, and not already under torchrun)."""
    return getattr(args, "nproc", 1) > 1 and not launched_by_torchrun()


def record_mode(args: argparse.Namespace) -> str:
    """How this ``mif run`` runs, as its run record says: ``torchrun, N processes``, ``separate process`` (the
    editor's child: ``--events jsonl --validated``) or ``mif run``.

    Args:
        args: the parsed ``mif run`` arguments.
    """
    if launched_by_torchrun():
        return f"torchrun, {os.environ.get('WORLD_SIZE', '?')} processes"
    if getattr(args, "validated", False) and args.events == "jsonl":
        return "separate process"
    return "mif run"


def launch_command(args: argparse.Namespace) -> list[str]:
    """The torchrun command line that runs the same ``mif run`` in ``args.nproc`` processes.

    Args:
        args: the parsed ``mif run`` arguments.
    """
    from medical_imaging_framework.run.launch import torchrun_command  # subprocess, ctypes: not for `mif --help`

    return torchrun_command(args.pipeline, args.nproc, getattr(args, "max_restarts", 0), args.events, args.overrides,
                            getattr(args, "debug", False))


class RankFilter:
    """Passes events to ``sink`` on rank 0; other ranks print only their failures, on stderr.

    Args:
        sink: the printer of rank 0.
        rank: this process's rank.
        stream: where other ranks' failures go.
    """

    def __init__(self, sink: Callable[[Any], None], rank: int, stream: TextIO) -> None:
        self.sink = sink
        self.rank = rank
        self.stream = stream

    def __call__(self, event: Any) -> None:
        from medical_imaging_framework.run.events import NodeFailed, format_event

        if self.rank == 0:
            self.sink(event)
        elif isinstance(event, NodeFailed):
            print(f"[rank {self.rank}] {format_event(event)}", file=self.stream, flush=True)


class ReaderGone:
    """``mif run ... | head``: when the reader of stdout goes away (EPIPE), training goes on and stdout goes quiet.

    The standard output's file descriptor is pointed at ``/dev/null``, so neither a later line nor the interpreter's
    last flush meets the closed pipe again; lines on stderr keep coming, and the exit code is the run's.
    Kept by hand: Python turns a closed pipe into ``BrokenPipeError`` wherever the next write happens to be.

    Args:
        sink: the event sink that writes to ``stdout``.
        stdout: the standard output.
    """

    def __init__(self, sink: Callable[[Any], None], stdout: TextIO) -> None:
        self.sink = sink
        self.stdout = stdout

    def __call__(self, event: Any) -> None:
        try:
            self.sink(event)
        except BrokenPipeError:
            self._quiet()

    def _quiet(self) -> None:
        point_at_devnull(self.stdout)


def point_at_devnull(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at ``/dev/null`` (its reader is gone): later writes, and the
    interpreter's last flush, go nowhere instead of raising ``BrokenPipeError``.

    Args:
        stream: the standard output (a stream with no file descriptor, a test's buffer, is left alone).
    """
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test's buffer): nothing to point elsewhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


def make_sink(args: argparse.Namespace, printer_type: Callable[..., Any], stdout: TextIO) -> Callable[[Any], None]:
    """The event sink of ``mif run``: text lines on stdout, or JSON lines on stdout and text on stderr.

    Under several processes only rank 0 writes (other ranks report their failures on stderr).

    Args:
        args: the parsed arguments (``events``, ``debug``).
        printer_type: the text printer class (`cli_commands.ConsolePrinter`).
        stdout: the real standard output (JSON lines go there).
    """
    from medical_imaging_framework.run.event_stream import JsonLinesWriter
    from medical_imaging_framework.training.distributed import rank

    if getattr(args, "events", "text") == "jsonl":
        writer, printer = JsonLinesWriter(stdout), printer_type(sys.stderr, debug=args.debug)

        def both(event: Any) -> None:
            writer(event)
            printer(event)

        sink: Callable[[Any], None] = both
    else:
        sink = printer_type(stdout, debug=args.debug)
    return RankFilter(ReaderGone(sink, stdout), rank(), sys.stderr)


def stdout_for_events(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """In ``--events jsonl`` mode, send stray prints to stderr so stdout holds only JSON lines.

    Args:
        args: the parsed arguments.
    """
    if getattr(args, "events", "text") == "jsonl":
        return contextlib.redirect_stdout(sys.stderr)
    return contextlib.nullcontext()
