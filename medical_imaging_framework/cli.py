"""`mif`: the command line. Thin: parses arguments, calls core, prints events.

Heavy imports (torch, the node library, Qt) happen inside the commands, so `mif --help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from medical_imaging_framework import __version__
from medical_imaging_framework.cli_errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, UsageError
from medical_imaging_framework.cli_run import add_run_options

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "UsageError", "build_parser", "main",
           "resolve_pipeline_path"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mif",
        description="Medical Imaging Framework: build, run and inspect deep-learning pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"mif {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # `--debug` is accepted after the sub-command too (`mif run p.json --debug`); SUPPRESS keeps the
    # value given before it when it is not repeated after.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")

    gui = commands.add_parser("gui", parents=[common], help="open the pipeline editor")
    gui.add_argument("pipeline", nargs="?", help="pipeline file to open (default: the segmentation example)")

    run = commands.add_parser("run", parents=[common], help="run a pipeline headless")
    run.add_argument("pipeline", help="pipeline JSON file (or the name of a bundled example)")
    run.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NODE_ID.PARAM=VALUE",
        help="override a parameter for this run (repeatable)",
    )
    add_run_options(run)

    validate = commands.add_parser("validate", parents=[common], help="list every problem in a pipeline")
    validate.add_argument("pipeline")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE_ID.PARAM=VALUE")

    commands.add_parser("nodes", parents=[common], help="list node types with their parameters and defaults")

    inspect = commands.add_parser(
        "inspect", parents=[common], help="describe a checkpoint file and check that it is intact"
    )
    inspect.add_argument("file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mif` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INVALID
    try:
        return _dispatch(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort: no raw traceback unless asked for
        if args.debug:
            raise
        print(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "gui":
        from medical_imaging_framework.cli_commands import gui_command

        return gui_command(args)
    from medical_imaging_framework import cli_commands

    handler = {
        "run": cli_commands.run_command,
        "validate": cli_commands.validate_command,
        "nodes": cli_commands.nodes_command,
        "inspect": cli_commands.inspect_command,
    }[args.command]
    return handler(args)


def resolve_pipeline_path(name: str) -> Path:
    """``name`` if it exists, else the bundled example of that name (kept here for scripts; see `core.bundled`).

    Args:
        name: a file path, or the bare name of a bundled example.
    """
    from medical_imaging_framework.core.bundled import resolve_pipeline_path as resolve

    return resolve(name)

