"""A fork server for the kill-during-save suite: imports torch and the CLI once, then for each request forks
a child that runs the real ``mif`` entry point (`medical_imaging_framework.cli.main.main`) and SIGKILLs it.

Protocol (one JSON object per line on stdin, one per line on stdout):
request ``{"argv": [...], "cwd": DIR, "kill_after_lines": K, "delay": SECONDS}``: fork; the child runs
``main(argv)`` in DIR with its output on a pipe; the server reads the child's lines and, when the K-th
``Epoch [`` line has arrived, waits ``delay`` seconds and sends SIGKILL (K = 0: never kill). Answer:
``{"killed": bool, "returncode": int | null, "lines": [...], "seconds": float, "epoch_times": [...]}``
(seconds from the fork to each ``Epoch [`` line).
Forking from a process that has already imported torch and MONAI saves their ~4 s of imports per kill.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

import torch  # imported once, before any fork

from medical_imaging_framework import cli
from medical_imaging_framework.core import NodeRegistry, load_pipeline
from tests.support.tiny import PIPELINE

HANG_SECONDS = 120  # a child silent this long prints its stack to the pipe and exits


def warm_up() -> None:
    """Import every node module, MONAI and the modules of a training run without computing anything: no
    thread pool exists yet when the children are forked."""
    load_pipeline(PIPELINE, NodeRegistry())
    # The nodes import MONAI only when they run (so that `mif --help` and the editor start without it): without
    # this import every forked child paid its ~3 s (MONAI's submodules pull in scipy and mlflow).
    importlib.import_module("monai")
    importlib.import_module("medical_imaging_framework.cli.commands")
    importlib.import_module("medical_imaging_framework.nodes.training.run")
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo (seconds)


def run_child(argv: list[str], cwd: str, write_end: int) -> None:
    """In the forked child: run the CLI with stdout and stderr on the pipe, then exit with its code."""
    try:
        os.chdir(cwd)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
        code = cli.main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # any escape is a failure code, never a second fork server
        traceback.print_exc()
        sys.stderr.flush()
        code = 99
    os._exit(code)


def serve(request: dict[str, Any]) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        run_child(request["argv"], request["cwd"], write_end)
    os.close(write_end)
    lines: list[str] = []
    epoch_lines = 0
    epoch_times: list[float] = []
    with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as stream:
        for line in stream:
            lines.append(line.rstrip("\n"))
            if line.startswith("Epoch ["):
                epoch_times.append(time.monotonic() - started)
                epoch_lines += 1
                if epoch_lines == request["kill_after_lines"]:
                    if request["delay"] > 0:
                        time.sleep(request["delay"])
                    os.kill(pid, signal.SIGKILL)
                    break
        # after a kill, whatever is left in the pipe is dropped with it
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    return {"killed": code == -signal.SIGKILL, "returncode": code, "lines": lines, "seconds": seconds,
            "epoch_times": epoch_times}


def main() -> None:
    warm_up()
    for text in sys.stdin:
        if not text.strip():
            continue
        answer = serve(json.loads(text))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    gc.freeze()  # as `mif` does at exit: Python's last collection of the torch and MONAI heap took 2-3 s


if __name__ == "__main__":
    main()
