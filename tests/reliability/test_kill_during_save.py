"""Kill during save: `mif run` (the real CLI entry point, forked from a server that has imported torch)
saving every epoch is SIGKILLed at 20 seeded moments, each time resumed with ``resume_from=last``.

After every kill each final-named file loads with `load_checkpoint`, and ``best_model.pt`` holds the best
completed epoch (or, when the kill fell between an epoch's periodic and best saves, the resumed run repairs
it first). The run finally completed after the 20 kills ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import random
import select
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest
import torch

from medical_imaging_framework.checkpoints.files import (
    BEST_NAME,
    FINAL_NAME,
    checkpoint_files,
    is_temp_file,
    load_checkpoint,
    periodic_files,
)
from tests.support.tiny import ONE_THREAD, PIPELINE, set_arguments

ROOT = Path(__file__).resolve().parents[2]
# How far 20 kills can get: `Trainer._run_epoch` prints the `Epoch [` line of epoch N before its saves, and the
# harness kills after the 1st or 2nd such line plus a delay of at most one median epoch (saves included), so a
# kill lets at most the epoch before that line, that epoch and the one within the delay complete: <= 3 epochs,
# <= 60 in 20 kills (measured: 11-16). 20 more cover a server that reads the line late on a busy machine; a run
# that still reaches its end before its kill fails at once (below), never quietly with fewer kills.
NUM_EPOCHS = 80
KILLS = 20
SEED = 9
ANSWER_SECONDS = 200

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")]


class ForkServer:
    """The `kill_harness` process: one request, one answer."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.kill_harness"], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, **ONE_THREAD},
        )

    def run(self, folder: Path, kill_after_lines: int = 0, delay: float = 0.0, **trainer: Any) -> dict[str, Any]:
        folder.parent.mkdir(parents=True, exist_ok=True)
        argv = ["run", str(PIPELINE), *set_arguments(folder, num_epochs=NUM_EPOCHS, **trainer)]
        request = {"argv": argv, "cwd": str(folder.parent), "kill_after_lines": kill_after_lines, "delay": delay}
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_SECONDS)
        assert ready, f"no answer from the fork server in {ANSWER_SECONDS} s"
        answer = self.process.stdout.readline()
        assert answer, f"the fork server died (exit {self.process.poll()})"
        return json.loads(answer)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def monitored_losses(folder: Path) -> tuple[int, list[float]]:
    """(last completed epoch, the monitored loss of each epoch) from the newest periodic file."""
    epoch, path = periodic_files(folder)[-1]
    return epoch, load_checkpoint(path, map_location="cpu")["val_losses"]


def first_best(losses: list[float]) -> int:
    """The epoch (1-based) that is best under the strict-lower rule: the first lowest loss."""
    return losses.index(min(losses)) + 1


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path, map_location="cpu")["model_state_dict"]


def equal_state(ours: Any, theirs: Any) -> bool:
    """Nested dicts/lists of tensors and plain values, equal bit for bit."""
    if isinstance(ours, torch.Tensor):
        return isinstance(theirs, torch.Tensor) and torch.equal(ours, theirs)
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and ours.keys() == theirs.keys() and all(
            equal_state(value, theirs[key]) for key, value in ours.items())
    if isinstance(ours, (list, tuple)):
        return len(ours) == len(theirs) and all(equal_state(a, b) for a, b in zip(ours, theirs, strict=True))
    return bool(ours == theirs)


@pytest.mark.timeout(900)  # a hang guard only: 20 forked runs took over 300 s at load average 5 on 2 cores
def test_twenty_kills_during_saves_lose_nothing(tmp_path: Path) -> None:
    server = ForkServer()
    try:
        reference = server.run(tmp_path / "reference" / "ck")
        assert reference["returncode"] == 0, reference["lines"][-5:]
        epoch_lines = [line for line in reference["lines"] if line.startswith("Epoch [")]
        assert len(epoch_lines) == NUM_EPOCHS
        # the odd kills fall anywhere within one epoch (its saves included) after an epoch line
        epoch_seconds = statistics.median(numpy.diff(reference["epoch_times"]))

        folder = tmp_path / "killed" / "ck"
        moments = random.Random(SEED)
        report = {"killed": 0, "temp_left": 0, "stale_best": 0, "repaired": 0}
        stale_pending = False
        for index in range(KILLS):
            after_lines = moments.choice([1, 2])
            delay = 0.0 if index % 2 == 0 else moments.uniform(0.0, epoch_seconds)
            answer = server.run(folder, kill_after_lines=after_lines, delay=delay, resume_from="last")
            repaired = any(line.startswith(f"  ✓ Repaired {folder / BEST_NAME}") for line in answer["lines"])
            assert repaired == stale_pending, (index, answer["lines"][:6])
            report["repaired"] += repaired
            assert answer["returncode"] == 0 or answer["killed"], answer["lines"][-5:]
            assert answer["killed"], (f"kill {index + 1} of {KILLS} came after the run ended: NUM_EPOCHS "
                                      f"{NUM_EPOCHS} is too few for {KILLS} kills", answer["lines"][-3:])
            report["killed"] += 1
            report["temp_left"] += any(is_temp_file(path.name) for path in folder.iterdir())
            for path in checkpoint_files(folder):  # no truncated file under a final name
                load_checkpoint(path, map_location="cpu")
            if not periodic_files(folder):  # killed before the first epoch's save completed
                stale_pending = False
                continue
            last, losses = monitored_losses(folder)
            best = load_checkpoint(folder / BEST_NAME, map_location="cpu") if (folder / BEST_NAME).exists() else {}
            true_best = first_best(losses)
            stale_pending = best.get("epoch") != true_best
            if stale_pending:  # killed between the periodic and the best save of epoch `last`
                earlier = first_best(losses[:-1]) if last > 1 else None
                assert true_best == last and best.get("epoch") == earlier, (best.get("epoch"), losses)
                report["stale_best"] += 1
            else:
                assert best["loss"] == losses[true_best - 1]
        report["epochs_reached"] = periodic_files(folder)[-1][0] if periodic_files(folder) else 0
        final = server.run(folder, resume_from="last")
        assert final["returncode"] == 0, final["lines"][-5:]
        assert stale_pending == any(line.startswith("  ✓ Repaired") for line in final["lines"])
    finally:
        server.close()
    print("kill report:", report)
    assert report["killed"] == KILLS, "every kill hit a run still training"
    reference_folder = tmp_path / "reference" / "ck"
    for name in (FINAL_NAME, BEST_NAME):
        resumed, uninterrupted = weights(folder / name), weights(reference_folder / name)
        assert resumed.keys() == uninterrupted.keys()
        assert all(torch.equal(value, uninterrupted[key]) for key, value in resumed.items()), name
    ours = load_checkpoint(folder / FINAL_NAME, map_location="cpu")
    theirs = load_checkpoint(reference_folder / FINAL_NAME, map_location="cpu")
    assert ours["epoch_losses"] == theirs["epoch_losses"] and ours["val_losses"] == theirs["val_losses"]
    assert equal_state(ours["optimizer_state_dict"], theirs["optimizer_state_dict"]), "Adam's moments too"
    assert load_checkpoint(folder / BEST_NAME)["epoch"] == load_checkpoint(reference_folder / BEST_NAME)["epoch"]
