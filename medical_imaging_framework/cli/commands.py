"""The `mif` sub-commands. Imported only once a command runs (torch and the node library load here)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TextIO

from medical_imaging_framework.cli import run_options as cli_run
from medical_imaging_framework.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, UsageError
from medical_imaging_framework.cli.start_collections import StartCollections, full_collections_put_off
from medical_imaging_framework.cli.stray_threads import daemon_threads_finished
from medical_imaging_framework.core import (
    Graph,
    NodeRegistry,
    Param,
    ParamError,
    ParamKind,
    PipelineFileError,
    Problem,
    load_pipeline,
)
from medical_imaging_framework.core.examples import resolve_pipeline_path
from medical_imaging_framework.core.params import shown_value
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.cache import reused_nodes
from medical_imaging_framework.run.events import Event, NodeFailed, Progress, format_event
from medical_imaging_framework.run.launch import launch_torchrun
from medical_imaging_framework.run.process_tree import end_if_still_running, orphaned
from medical_imaging_framework.run.session import RunSession
from medical_imaging_framework.run.status import RunStatus, exit_code

PLUGIN_WARNINGS_SHOWN = "MIF_PLUGIN_WARNINGS_SHOWN"  # pid of the command that printed them; its children stay quiet


def warn_plugin_errors(registry: NodeRegistry) -> None:
    """Print each node plugin that failed to load as a ``warning:`` line on stderr, once per command.

    The processes a command starts (the torchrun ranks of ``mif run --nproc``) inherit a mark and print nothing.

    Args:
        registry: the command's node types (its plugins are loaded here if they were not yet).
    """
    errors = registry.load_plugins()
    if not errors or os.environ.get(PLUGIN_WARNINGS_SHOWN, str(os.getpid())) != str(os.getpid()):
        return
    for message in errors:
        print(f"warning: {printable(message, keep_newlines=True)}", file=sys.stderr, flush=True)
    os.environ[PLUGIN_WARNINGS_SHOWN] = str(os.getpid())


def load_with_overrides(pipeline: str, overrides: list[str]) -> tuple[Path, Graph]:
    """Load a pipeline file and apply ``NODE_ID.PARAM=VALUE`` overrides; raises `UsageError`."""
    registry = NodeRegistry()
    warn_plugin_errors(registry)
    path = resolve_pipeline_path(pipeline)
    try:
        graph = load_pipeline(path, registry)
    except PipelineFileError as error:
        raise UsageError(str(error)) from None
    for override in overrides:
        _apply_override(graph, override)
    return path, graph


def _apply_override(graph: Graph, override: str) -> None:
    target, equals, value = override.partition("=")
    node_id, dot, param = target.partition(".")
    if not equals or not dot or not node_id or not param:
        raise UsageError(f"--set {shown_value(override)}: expected NODE_ID.PARAM=VALUE")
    node = graph.nodes.get(node_id)
    if node is None:
        known = ", ".join(graph.nodes)
        raise UsageError(f"--set {shown_value(override)}: no node '{printable(node_id)}' (nodes: {known})")
    try:
        node.set_param(param, value)
    except ParamError as error:
        raise UsageError(f"--set {shown_value(override)}: {error}") from None


def _invalid(path: Path, problems: list[Problem]) -> UsageError | None:
    if not problems:
        return None
    shown = printable(path)  # Problem's text escapes what came from the file; the path may hold controls too
    lines = [f"{shown}: {len(problems)} problem(s):"] + [f"  {shown}: {problem}" for problem in problems]
    return UsageError("\n".join(lines))


class ConsolePrinter:
    """Prints run events as lines; draws a progress bar when the stream is a terminal.

    Args:
        stream: where lines go (stdout).
        debug: print the traceback of a failed node.
    """

    def __init__(self, stream: TextIO, debug: bool = False) -> None:
        self.stream = stream
        self.debug = debug
        self.interactive = stream.isatty()
        self._bar_shown = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            if self.interactive:
                self._draw_bar(event)
            return
        line = format_event(event)
        if isinstance(event, NodeFailed):
            self._clear_bar()
            print(line, file=sys.stderr)
            if self.debug and event.traceback:
                print(printable(event.traceback, keep_newlines=True), file=sys.stderr)
            return
        if line is not None:
            self._clear_bar()
            print(line, file=self.stream, flush=True)

    def _draw_bar(self, event: Progress) -> None:
        width = max(10, min(40, shutil.get_terminal_size().columns - 40))
        done = event.batch / event.num_batches if event.num_batches else 0.0
        filled = int(width * done)
        bar = "█" * filled + "·" * (width - filled)
        text = f"\rEpoch {event.epoch}/{event.num_epochs} [{bar}] batch {event.batch}/{event.num_batches}"
        self.stream.write(text)
        self.stream.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.stream.write("\r\033[K")
            self._bar_shown = False


def run_command(args: argparse.Namespace) -> int:
    """`mif run`: exit 0 done, 1 a node failed, 2 invalid, 130 stopped by Ctrl-C (see `run.status`)."""
    with full_collections_put_off() as collections:  # until the first training step (cli/start_collections.py)
        return _run(args, collections)


def _run(args: argparse.Namespace, collections: StartCollections) -> int:
    path, graph = load_with_overrides(args.pipeline, args.overrides)
    session = RunSession(graph, validated=getattr(args, "validated", False), cache=cli_run.result_cache(args))
    problem = _invalid(path, session.problems)
    if problem:
        raise problem
    if cli_run.wants_launcher(args):  # validated once here; the ranks are told so
        command = cli_run.launch_command(args)
        print(f"Starting {args.nproc} processes: {printable(' '.join(command[1:]))}", file=sys.stderr, flush=True)
        return launch_torchrun(command, session.stops)
    from medical_imaging_framework.nodes.training.folders import fresh_run_warning, used_checkpoint_folders
    from medical_imaging_framework.training import distributed  # torch: only when a run starts

    reused = reused_nodes(graph, session.cache)  # a reused Trainer writes nothing into its folder
    for used in used_checkpoint_folders(graph) if distributed.is_main() else ():  # another run's folder: say so
        if used.node_id not in reused:
            print(printable(fresh_run_warning(used)), file=sys.stderr, flush=True)
    session.sink = collections.watching(cli_run.make_sink(args, ConsolePrinter, sys.stdout))
    session.record_mode, session.record_overrides = cli_run.record_mode(args), list(args.overrides)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if orphaned():  # a rank whose torchrun agent died: nobody will SIGKILL it if the graceful stop hangs
            end_if_still_running()
        if session.stop() == "abort":
            raise KeyboardInterrupt
        if distributed.is_main():  # under torchrun every rank gets the signal; one says so
            print("\nStopping after the current batch (Ctrl-C again to abort now)...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    previous_term = signal.signal(signal.SIGTERM, on_interrupt)  # torchrun and the editor stop with SIGTERM
    try:
        with cli_run.stdout_for_events(args), daemon_threads_finished():
            result = session.run_here()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
        distributed.shutdown()
    if result.status == RunStatus.FAILED and not args.debug:
        print("(run with --debug for the traceback)", file=sys.stderr)
    return exit_code(result.status)


def validate_command(args: argparse.Namespace) -> int:
    """`mif validate`: every problem, exit 2 when there is any."""
    path, graph = load_with_overrides(args.pipeline, args.overrides)
    problem = _invalid(path, graph.validate())
    if problem:
        raise problem
    print(f"{printable(path)}: OK ({len(graph.nodes)} nodes, {len(graph.links)} links)")
    return EXIT_OK


def nodes_command(args: argparse.Namespace) -> int:
    """`mif nodes`: node types grouped by category, with ports, parameters and defaults."""
    registry = NodeRegistry()
    warn_plugin_errors(registry)
    category = None
    for spec in registry.specs():
        if spec.category != category:
            category = spec.category
            print(f"\n{category}")
        print(f"  {spec.type_id}  ({spec.title}) - {spec.description}")
        for port in spec.inputs:
            optional = "" if port.required else ", optional"
            print(f"      in  {port.name}: {port.kind}{optional}")
        for port in spec.outputs:
            print(f"      out {port.name}: {port.kind}")
        for param in spec.params:
            print(f"      {param.name} = {param.to_text(param.default)!r}  [{param_range(param)}] {param.help}")
    return EXIT_OK


def param_range(param: Param) -> str:
    """``int, >= 1``, ``choice: auto | cpu | cuda``, ``float, 0 to 1``: the kind and what it accepts."""
    if param.kind is ParamKind.CHOICE:
        return "choice: " + " | ".join(param.choices)
    low, high = param.minimum, param.maximum
    text = param.kind.value
    if param.above is not None:
        text += f", > {param.above:g}" + (f" and <= {high:g}" if high is not None else "")
    elif low is not None and high is not None:
        text += f", {low:g} to {high:g}"
    elif low is not None:
        text += f", >= {low:g}"
    elif high is not None:
        text += f", <= {high:g}"
    if param.kind in (ParamKind.STR, ParamKind.PATH) and not param.allow_empty:
        text += ", required"
    if param.empty_list:
        text += ", or empty"
    return text


def inspect_command(args: argparse.Namespace) -> int:
    """`mif inspect FILE`: checkpoint summary; exit 2 when the file is damaged, hostile or not intact."""
    from medical_imaging_framework.checkpoints.files import CheckpointError
    from medical_imaging_framework.checkpoints.inspect import NotIntact, describe_checkpoint
    from medical_imaging_framework.core.text import printable
    from medical_imaging_framework.tools.resume_check import check_optimizer_resumes

    try:
        print(describe_checkpoint(args.file, check=check_optimizer_resumes))
    except CheckpointError as error:
        if isinstance(error, NotIntact):
            print(error.summary)
        print(f"error: {printable(error)}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "ConsolePrinter", "load_with_overrides", "warn_plugin_errors"]
