"""Ctrl-C during `mif run --nproc N`: torchrun stops the workers and the run ends with exit 130, without
torchrun's own `SignalException` traceback nor its agent's shutdown log lines (the workers say they stop).
A stand-in for torchrun's main (which behaves as torchrun does on SIGINT) keeps the test to one process."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.run.launch import torchrun_command


class Kept(logging.Handler):
    """The messages that reach torchrun's log output."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_ctrl_c_ends_torchrun_quietly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    command = torchrun_command("tiny.json", 2)
    assert command[1:3] == ["-m", "medical_imaging_framework.training.torchrun_main"]
    from torch.distributed.elastic.multiprocessing.api import SignalException

    from medical_imaging_framework.training import torchrun_main

    def torchrun_stopped(argv: list[str] | None) -> None:  # what torchrun does when it gets the forwarded SIGINT
        assert argv == command[3:]
        agent = logging.getLogger("torch.distributed.elastic.agent.server.api")
        processes = logging.getLogger("torch.distributed.elastic.multiprocessing.api")
        processes.warning("Sending process %s closing signal %s", 11, "SIGTERM")  # a failed rank's peers: kept
        agent.warning("Received %s death signal, shutting down workers", signal.SIGINT)
        processes.warning("Sending process %s closing signal %s", 12, "SIGINT")
        raise SignalException("Process 10 got signal: 2", sigval=signal.SIGINT)

    monkeypatch.setattr(torchrun_main, "torchrun", torchrun_stopped)
    kept = Kept()
    loggers = [logging.getLogger(name) for name in torchrun_main.AGENT_LOGGERS]
    for logger in loggers:
        logger.addHandler(kept)
    try:
        assert torchrun_main.main(command[3:]) == 130
    finally:
        for logger in loggers:
            logger.removeHandler(kept)
            for added in [one for one in logger.filters if isinstance(one, torchrun_main.StopNoise)]:
                logger.removeFilter(added)
    assert kept.messages == ["Sending process 11 closing signal SIGTERM"]
    assert "Traceback" not in capsys.readouterr().err


def test_other_failures_stay_torchrun_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from medical_imaging_framework.training import torchrun_main

    def torchrun_failed(argv: list[str] | None) -> None:
        raise RuntimeError("rank 1 failed")

    monkeypatch.setattr(torchrun_main, "torchrun", torchrun_failed)
    with pytest.raises(RuntimeError, match="rank 1 failed"):
        torchrun_main.main([sys.executable])


STAND_IN = """
import os, signal, sys, threading
stopped = threading.Event()
signal.signal(signal.SIGINT, lambda signum, frame: stopped.set())
os.kill(os.getppid(), signal.SIGINT)  # the user presses Ctrl-C in the launching `mif run`
stopped.wait()  # torchrun gets it passed on, stops its workers and exits
sys.exit(1)
"""


def test_the_launcher_passes_ctrl_c_on_and_exits_130_as_documented(tmp_path: Path,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    from medical_imaging_framework.run.launch import launch_torchrun

    script = tmp_path / "torchrun.py"
    script.write_text(STAND_IN, encoding="utf-8")
    assert launch_torchrun([sys.executable, str(script)]) == 130
    doc = (Path(__file__).resolve().parents[2] / "docs" / "training" / "DISTRIBUTED.md").read_text(encoding="utf-8")
    stopping = doc.split("## Stopping", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    assert stopping.splitlines()[0] in capfd.readouterr().err
    assert "exit code 130" in doc
