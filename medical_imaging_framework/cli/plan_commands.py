"""`mif fingerprint DATASET` and `mif plan DATASET`: their parsers (imported by `cli.main`, so this module imports
no core, torch or node module at its top: `mif --help` stays instant) and the commands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

from medical_imaging_framework.cli.errors import EXIT_OK, UsageError

if TYPE_CHECKING:  # pathlib is imported by the commands that run, not by `mif --help` (see cli/main.py)
    from pathlib import Path


def add_plan_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The parsers of `mif fingerprint` and `mif plan`.

    Args:
        commands: the sub-command parsers.
        common: the options every command takes (``--debug``).
    """
    dataset_help = ("a Decathlon dataset.json (or its folder), a CSV datalist with image and label columns, or a "
                    "folder holding imagesTr/labelsTr (or images/labels)")
    fingerprint = commands.add_parser("fingerprint", parents=[common],
                                      help="read every case of a dataset once and write fingerprint.json")
    fingerprint.add_argument("dataset", help=dataset_help)
    fingerprint.add_argument("-o", "--output", default="fingerprint.json", metavar="FILE",
                             help="the file to write (default: fingerprint.json); cases are cached beside it in "
                                  ".mif/fingerprint-cache")
    _shared(fingerprint)

    plan = commands.add_parser("plan", parents=[common],
                               help="plan a train and an inference pipeline from a dataset's fingerprint")
    plan.add_argument("dataset", help=dataset_help)
    plan.add_argument("--out", default="plan", metavar="FOLDER",
                      help="where plan_train.json, plan_infer.json and fingerprint.json go (default: plan)")
    plan.add_argument("--memory-gb", dest="memory_gb", type=float, default=0.0, metavar="N",
                      help="memory one training step may take (default: half the free memory of the device)")
    plan.add_argument("--device", choices=("cpu", "cuda"), default="", help="the device to plan for (default: cuda "
                      "when PyTorch sees one)")
    plan.add_argument("--time-budget", dest="time_budget", type=float, default=60.0, metavar="MIN",
                      help="training time in minutes the epochs are planned for (default 60)")
    plan.add_argument("--explain", action="store_true", help="print each choice with its reason")
    _shared(plan)


def _shared(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modality", choices=("CT", "MR", "other"), default="",
                        help="the images' modality (default: what dataset.json says, else other)")
    parser.add_argument("--workers", type=int, default=0, help="reader threads (default: up to 4)")


class ProgressBar:
    """``Reading cases [####····] 12/40`` on stderr: redrawn in place on a terminal, else a line every 10%.

    Written here rather than taken from tqdm: tqdm is not a dependency of mif, and this is all it would do.

    Args:
        stream: where it draws (stderr).
        label: the words before the bar.
    """

    def __init__(self, stream: TextIO, label: str = "Reading cases") -> None:
        self.stream = stream
        self.label = label
        self.interactive = stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        text = f"{self.label} [{'#' * filled}{'·' * (width - filled)}] {done}/{total}"
        if self.interactive:
            self.stream.write("\r" + text + ("\n" if done == total else ""))
        elif done == total or 10 * done // max(1, total) > self._shown:
            self._shown = 10 * done // max(1, total)
            self.stream.write(text + "\n")
        self.stream.flush()


def _fingerprint(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    from medical_imaging_framework.nodes.io.dataset_source import DatasetError
    from medical_imaging_framework.nodes.io.fingerprint import CACHE_FOLDER, fingerprint_dataset

    if args.workers < 0:
        raise UsageError(f"--workers {args.workers}: expected 0 (automatic) or more")
    try:
        return fingerprint_dataset(args.dataset, cache_dir=output.parent / CACHE_FOLDER, modality=args.modality,
                                   workers=args.workers, progress=ProgressBar(sys.stderr))
    except DatasetError as error:
        raise UsageError(str(error)) from None


def _print_summary(fingerprint: dict[str, Any], path: Path) -> None:
    from medical_imaging_framework.core.text import printable
    from medical_imaging_framework.nodes.io.fingerprint import problem_lines

    read, total = fingerprint["read_count"], fingerprint["case_count"]
    print(f"{printable(path)}: {read} of {total} case(s) read", end="")
    if read:
        shape = "x".join(f"{v:g}" for v in fingerprint["median_shape"])
        spacing = " x ".join(f"{v:g}" for v in fingerprint["median_spacing"])
        print(f"; median shape {shape}, median spacing {spacing} mm (anisotropy "
              f"{fingerprint['spacing_anisotropy']:.2f}), modality {fingerprint['modality']}, "
              f"classes {fingerprint['classes']}")
    else:
        print()
    lines = problem_lines(fingerprint)
    if lines:
        print(f"{len(lines)} problem(s):", file=sys.stderr)
        for line in lines:
            print(f"  {printable(line)}", file=sys.stderr)


def fingerprint_command(args: argparse.Namespace) -> int:
    """`mif fingerprint DATASET [-o FILE]`: exit 0 when written (problems are listed, not fatal), 2 when the dataset
    cannot be listed or no case can be read.

    Args:
        args: the parsed arguments.
    """
    from pathlib import Path

    from medical_imaging_framework.nodes.io.fingerprint import write_fingerprint

    output = Path(args.output).expanduser().resolve()
    fingerprint = _fingerprint(args, output)
    path = write_fingerprint(fingerprint, output)
    _print_summary(fingerprint, path)
    if not fingerprint["read_count"]:
        raise UsageError(f"{args.dataset}: no case could be read (see the problems above)")
    return EXIT_OK


def plan_command(args: argparse.Namespace) -> int:
    """`mif plan DATASET [--memory-gb N] [--device cpu|cuda] [--time-budget MIN] [--out FOLDER] [--explain]`.

    Writes ``fingerprint.json``, ``plan_train.json`` and ``plan_infer.json`` into the output folder; exit 2 when
    the dataset cannot be planned (the rule it breaks is named).

    Args:
        args: the parsed arguments.
    """
    from pathlib import Path

    from medical_imaging_framework.core.text import printable
    from medical_imaging_framework.nodes.io.fingerprint import write_fingerprint
    from medical_imaging_framework.tools.plan_pipelines import write_pipelines
    from medical_imaging_framework.tools.plan_probe import plan_with_probe
    from medical_imaging_framework.tools.planning import PlanError

    out = Path(args.out).expanduser().resolve()
    fingerprint = _fingerprint(args, out / "fingerprint.json")
    _print_summary(fingerprint, write_fingerprint(fingerprint, out / "fingerprint.json"))
    if fingerprint.get("spatial_dims") == 3 and fingerprint.get("read_count"):  # else refused at once, below
        print("Measuring training steps to fit the memory and time budgets...", file=sys.stderr, flush=True)
    try:
        plan = plan_with_probe(fingerprint, args.memory_gb, args.device, args.time_budget)
    except PlanError as error:
        raise UsageError(str(error)) from None
    train, infer = write_pipelines(plan, fingerprint, out)
    for choice in plan.choices:
        print(f"  {choice.name}: {choice.value}")
        if args.explain:
            print(f"      because {printable(choice.reason)}")
    print(f"Wrote {printable(train)} and {printable(infer)}")
    print(f"Next: mif run {printable(train)}   then: mif run {printable(infer)}")
    return EXIT_OK
