"""Two `mif run` processes into one checkpoint folder: the second is refused (exit 1, naming the first's pid and
run id) and the first finishes with its own files; a SIGKILLed run leaves no lock behind; under torchrun
rank 0 holds the folder and a refusal ends every rank."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.files import checkpoint_files
from medical_imaging_framework.checkpoints.lock import LOCK_NAME, acquire, holder
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.training.metrics_log import read_metrics
from tests.support.tiny import ONE_THREAD, PIPELINE, set_arguments

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds for a tiny run on a busy machine; never reached when all is well

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs flock, SIGSTOP and SIGKILL")


def mif(*argv: str) -> list[str]:
    return [sys.executable, "-m", "medical_imaging_framework", *argv]


def env() -> dict[str, str]:
    return {**os.environ, **ONE_THREAD, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}


class Running:
    """A `mif run` child whose output lines are read on a thread (so a wait can time out)."""

    def __init__(self, folder: Path, **trainer: object) -> None:
        self.process = subprocess.Popen(mif("run", str(PIPELINE), *set_arguments(folder, **trainer)),
                                        cwd=folder.parent, env=env(), text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, start: str) -> None:
        while not any(line.startswith(start) for line in self.seen):
            self.seen.append(self.lines.get(timeout=TIMEOUT))

    def finish(self) -> int:
        code = self.process.wait(timeout=TIMEOUT)
        self.process.stdout.close()  # type: ignore[union-attr]
        return code


def run_id(path: Path) -> str:
    return torch.load(path, weights_only=True)["run_id"]


def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_keeps_its_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cc"
    first = Running(folder, num_epochs=3)
    monkeypatch.chdir(tmp_path)
    try:
        first.wait_for("Epoch [1/3]")
        os.kill(first.process.pid, signal.SIGSTOP)  # holds the folder for as long as the second run needs
        held = holder(folder)
        assert held is not None and held.pid == first.process.pid
        # the second `mif run` is this test's process (the CLI's main, as `mif` calls it): another process than
        # the holder is all the lock tells apart, and no second interpreter imports torch and MONAI for it
        capsys.readouterr()
        code = main(["run", str(PIPELINE), *set_arguments(folder, num_epochs=8, seed=7)])
        second = capsys.readouterr()
    finally:
        os.kill(first.process.pid, signal.SIGCONT)
    assert code == 1, second.out + second.err
    assert (f"✗ Node 'trainer' failed: checkpoint_dir: checkpoint folder '{folder}' is in use by another run "
            f"(pid {first.process.pid}, run {held.run_id}, on ") in second.err
    assert "Traceback" not in second.out + second.err and "Epoch [" not in second.out
    assert first.finish() == 0
    names = sorted(path.name for path in checkpoint_files(folder))
    assert names == ["best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_3.pt",
                     "final_model.pt"]
    assert {run_id(folder / name) for name in names} == {held.run_id}  # every file is the first run's
    assert torch.load(folder / "final_model.pt", weights_only=True)["epoch"] == 3
    assert [row["epoch"] for row in read_metrics(folder / "metrics.csv")] == [1, 2, 3]
    assert holder(folder) is None and not (folder / LOCK_NAME).exists()


def test_a_killed_run_leaves_no_lock(tmp_path: Path) -> None:
    folder = tmp_path / "cc"
    crashed = Running(folder, num_epochs=50)
    crashed.wait_for("Epoch [1/50]")
    crashed.process.kill()  # SIGKILL: no cleanup of ours runs
    assert crashed.finish() == -signal.SIGKILL
    assert holder(folder) is None  # the OS dropped the lock with the process
    assert f'"pid": {crashed.process.pid}' in (folder / LOCK_NAME).read_text()  # a left file, no lock

    assert main(["run", str(PIPELINE), *set_arguments(folder, num_epochs=1)]) == 0
    assert torch.load(folder / "final_model.pt", weights_only=True)["epoch"] == 1
    assert not (folder / LOCK_NAME).exists()


@pytest.mark.slow
def test_under_torchrun_rank_0_holds_the_folder_and_a_refusal_ends_every_rank(tmp_path: Path) -> None:
    folder = tmp_path / "cc"
    held = acquire(folder, "other_run")
    try:
        launched = subprocess.run(mif("run", str(PIPELINE), "--nproc", "2", *set_arguments(folder, num_epochs=2)),
                                  cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        held.release()
    assert launched.returncode == 1, launched.stdout + launched.stderr
    assert (f"checkpoint_dir: checkpoint folder '{folder}' is in use by another run (pid {os.getpid()}, "
            "run other_run") in launched.stderr
    assert checkpoint_files(folder) == [] and not (folder / "metrics.csv").exists()
