"""`mif`: the command line. Thin: parses arguments, calls core, prints events.

Heavy imports (torch, the node library, Qt) happen inside the commands, so `mif --help` is instant.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medical_imaging_framework import __version__
from medical_imaging_framework.cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_READER_GONE,
    UsageError,
)
from medical_imaging_framework.cli.plan_commands import add_plan_commands
from medical_imaging_framework.cli.run_options import add_run_options, point_at_devnull
from medical_imaging_framework.run.launch_env import launched_by_torchrun

if TYPE_CHECKING:  # pathlib (with re, fnmatch, urllib) is a fifth of what `mif --help` imports
    from pathlib import Path

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "EXIT_READER_GONE", "UsageError",
           "build_parser", "main", "resolve_pipeline_path"]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, with the terminal width read here: argparse asks `shutil` for it, and importing
    shutil (which imports bz2 and lzma for its archives) is a sixth of what `mif --help` imports."""

    def __init__(self, prog: str, **options: Any) -> None:
        options.setdefault("width", _terminal_columns() - 2)  # argparse's own margin
        super().__init__(prog, **options)


def _terminal_columns() -> int:
    """``$COLUMNS``, else the width of the terminal on stdout, else 80 (as `shutil.get_terminal_size`)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (AttributeError, ValueError, OSError):
        return 80


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mif",
        description="Medical Imaging Framework: build, run and inspect deep-learning pipelines.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mif {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    # every parser formats with `HelpFormatter` (add_argument makes a formatter to check each argument)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=functools.partial(argparse.ArgumentParser,
                                                                    formatter_class=HelpFormatter))
    # `--debug` is accepted after the sub-command too (`mif run p.json --debug`); SUPPRESS keeps the
    # value given before it when it is not repeated after.
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
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
    add_field_commands(commands, common)
    runs = commands.add_parser("runs", parents=[common], help="list, show and compare the recorded runs of a folder",
                               description="mif runs [FOLDER] | mif runs show ID | mif runs diff ID1 ID2")
    runs.add_argument("words", nargs="*", metavar="FOLDER | show ID | diff ID1 ID2")
    runs.add_argument("-C", "--folder", default="", help="the working folder of show/diff (default: here)")
    add_plan_commands(commands, common)
    return parser


def add_field_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """`mif export`, `mif report` and `mif make-demo-data` (handled in `cli_extra`)."""
    export = commands.add_parser("export", parents=[common], help="export a checkpoint's model as ONNX or TorchScript")
    export.add_argument("checkpoint", help="a .pt file written by the Trainer")
    export.add_argument("--model-from", dest="model_from", metavar="PIPELINE",
                        help="pipeline whose model node builds the architecture (default: the one stored in the file)")
    export.add_argument("--node", default="", help="the model node's id, when the pipeline has several")
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    export.add_argument("--input-size", dest="input_size", default="128", metavar="N[,N,...]",
                        help="spatial size of the exported input: one value for every axis, or one per axis")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")

    report = commands.add_parser("report", parents=[common], help="write an HTML report of a training run")
    report.add_argument("folder", help="the checkpoint folder of the run")
    report.add_argument("-o", "--output", default="", metavar="FILE", help="default: FOLDER/report.html")

    demo = commands.add_parser("make-demo-data", parents=[common],
                               help="write synthetic phantoms as NIfTI in the Decathlon layout")
    demo.add_argument("folder")
    demo.add_argument("--count", type=int, default=24, help="labelled cases (default 24)")
    demo.add_argument("--size", type=int, default=64, help="edge length in voxels (default 64)")
    demo.add_argument("--spatial-dims", dest="spatial_dims", type=int, choices=(2, 3), default=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mif` console script; returns the exit code.

    ``mif runs | head -1``: when the reader of stdout leaves before the output ends, the command stops quietly
    with `EXIT_READER_GONE` (git's 141, 128 + SIGPIPE), no traceback and no error line (``mif run`` goes on
    training instead: `run_options.ReaderGone`).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # the last lines of a buffered stdout: meet a closed pipe here, not at exit
    except BrokenPipeError:
        point_at_devnull(sys.stdout)
        return EXIT_READER_GONE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INVALID
    if args.command == "run" and launched_by_torchrun():  # a rank: it stops when its torchrun agent dies
        from medical_imaging_framework.run.process_tree import die_with_parent  # ctypes: not for `mif --help`

        die_with_parent(signal.SIGTERM)
    try:
        return _dispatch(args)
    except UsageError as error:
        _print_error(str(error))
        return EXIT_INVALID
    except BrokenPipeError:
        raise  # the reader of stdout is gone: `main` stops quietly
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort: no raw traceback unless asked for
        if args.debug:
            raise
        _print_error(f"{type(error).__name__}: {error} (run with --debug for the traceback)")
        return EXIT_FAILED


def _print_error(text: str) -> None:
    """``error: TEXT`` on stderr, every control character in it escaped (it may quote a file)."""
    from medical_imaging_framework.core.text import printable  # imported here: `mif --help` imports no core

    print(f"error: {printable(text, keep_newlines=True)}", file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "gui":
        from medical_imaging_framework.cli.display import display_problem, missing_gui_package

        problem = missing_gui_package() or display_problem()
        if problem:
            raise UsageError(problem)
        from medical_imaging_framework.app.launch import launch  # not via cli.commands: the window needs no runner

        return launch(args.pipeline)
    _no_final_collection()
    from medical_imaging_framework.cli import commands as cli_commands

    handler = {
        "run": cli_commands.run_command,
        "validate": cli_commands.validate_command,
        "nodes": cli_commands.nodes_command,
        "inspect": cli_commands.inspect_command,
        **_field_handlers(),
    }[args.command]
    return handler(args)


def _no_final_collection() -> None:
    """Freeze the heap as the interpreter exits, so that its last garbage collection skips it.

    Python's exit collected every object of the heap (torch, MONAI and the scipy and mlflow it imports: millions)
    for 1.5-3 s after the command's last line, which a terminal, the editor (a separate-process run), torchrun
    (each rank) and the tests waited for. Frozen objects are still freed; the atexit handlers (registered after
    this one run before it), the join of threads and the flush of stdout all happen as before. What may not run is
    the ``__del__`` of an object in a reference cycle still alive at exit, which Python does not promise either.
    Not for the editor: its windows end as Qt and PySide expect.
    """
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however often `main` runs in one process (tests call it)
    atexit.register(gc.freeze)


def _field_handlers() -> dict[str, Any]:
    from medical_imaging_framework.cli import field_commands as cli_extra
    from medical_imaging_framework.cli.runs_commands import runs_command

    return {"export": cli_extra.export_command, "report": cli_extra.report_command,
            "make-demo-data": cli_extra.demo_data_command, "runs": runs_command,
            "fingerprint": _plan_handler("fingerprint_command"), "plan": _plan_handler("plan_command")}


def _plan_handler(name: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from medical_imaging_framework.cli import plan_commands

        return int(getattr(plan_commands, name)(args))

    return handler


def resolve_pipeline_path(name: str) -> Path:
    """``name`` if it exists, else the bundled example of that name (kept here for scripts; see `core.bundled`).

    Args:
        name: a file path, or the bare name of a bundled example.
    """
    from medical_imaging_framework.core.examples import resolve_pipeline_path as resolve

    return resolve(name)

