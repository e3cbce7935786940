"""Run ``mif`` commands, in one process, each with its standard output on a pipe whose reader has already gone
(``mif runs | head -1`` where head has left): for `tests/cli/test_reader_gone.py`.

Usage: ``python closed_stdout_script.py WORKING_FOLDER RESULTS_JSON``. Trains the tiny pipeline once (1 epoch,
a run record), then runs each command of `commands` with fd 1 on a closed pipe and fd 2 on a file; writes
``{command: {"code": exit code, "stderr": text}}`` to RESULTS_JSON. One process: torch is imported once.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.run.run_index import list_runs
from tests.support.tiny import PIPELINE, set_arguments


def commands(run_id: str) -> list[list[str]]:
    """Every command that prints to stdout, on the trained run."""
    return [["nodes"], ["validate", str(PIPELINE)], ["inspect", "ck/final_model.pt"], ["runs"],
            ["runs", "show", run_id], ["runs", "diff", run_id, run_id], ["report", "ck"], ["--help"],
            ["run", "--help"]]


def with_closed_stdout(argv: list[str], stderr_file: Path) -> int:
    """``main(argv)`` with fd 1 on a pipe without reader and fd 2 on ``stderr_file``; its exit code."""
    sys.stdout.flush()
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved_out, saved_err = os.dup(1), os.dup(2)
    with open(stderr_file, "w", encoding="utf-8") as errors:
        os.dup2(write_end, 1)
        os.dup2(errors.fileno(), 2)
        os.close(write_end)
        try:
            code = main(argv)
        except SystemExit as stop:  # not one of ours: argparse's exit where main did not catch the pipe
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                print("BrokenPipeError left in stdout's buffer", file=sys.stderr)
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
    return code


def drive(folder: Path, results: Path) -> None:
    os.chdir(folder)
    with open("train.log", "w", encoding="utf-8") as log:
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            assert main(["run", str(PIPELINE), *set_arguments("ck", num_epochs=1)]) == 0
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
    run_id = list_runs(folder)[0].run_id
    found = {}
    for argv in commands(run_id):
        stderr_file = folder / "stderr.txt"
        try:
            code = with_closed_stdout(argv, stderr_file)
        except BaseException as error:  # an escape is what the test reports
            code = f"{type(error).__name__}: {error}"
        found[" ".join(argv)] = {"code": code, "stderr": stderr_file.read_text(encoding="utf-8")}
    results.write_text(json.dumps(found, indent=1), encoding="utf-8")


if __name__ == "__main__":
    drive(Path(sys.argv[1]), Path(sys.argv[2]))
