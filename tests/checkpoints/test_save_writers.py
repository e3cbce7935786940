"""One policy, two writers (issue 17): the synchronous and the background writer give the same files and
events; a best save that really failed is repaired in both; deletes share the writer's one worker thread,
which the end of training waits for and ends; the ``extra`` hook adds entries (every rank's random state)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints import writer as checkpoint_writer
from medical_imaging_framework.checkpoints.background import BackgroundWriter
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.checkpoints.ranks import RANK_RNG_KEY, RankRngStates
from medical_imaging_framework.checkpoints.writer import CheckpointWriter
from medical_imaging_framework.run.events import CheckpointFailed, CheckpointSaved, Event, LogLine, format_event
from tests.support.checkpoint_runs import drive

WRITERS = {"sync": CheckpointWriter, "background": BackgroundWriter}


def writer_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("mif-checkpoint")]


def test_both_writers_leave_the_same_files_and_events(tmp_path: Path) -> None:
    runs: dict[str, list[str]] = {}
    for name, writer in WRITERS.items():
        events: list[Event] = []
        policy = CheckpointPolicy(directory=str(tmp_path / name), every=1, keep_last_n=2, emit=events.append,
                                  writer=writer())
        drive(policy, [0.9, 0.7, 0.8, 0.6, 0.65])
        assert sorted(os.listdir(tmp_path / name)) == ["best_model.pt", "checkpoint_epoch_4.pt",
                                                       "checkpoint_epoch_5.pt", "final_model.pt"]
        assert torch.load(tmp_path / name / "best_model.pt")["epoch"] == 4
        runs[name] = sorted(line.replace(name, "ck") for e in events if (line := format_event(e)))
        assert not writer_threads(), "the end of training ends the writer's thread"
    assert runs["sync"] == runs["background"]


def test_deletes_run_on_the_one_writer_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()
    real_unlink = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        threads.add(threading.current_thread().name)
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    policy = CheckpointPolicy(directory=str(tmp_path), every=1, keep_last_n=1, emit=lambda event: None,
                              writer=BackgroundWriter())
    drive(policy, [0.5, 0.6, 0.7, 0.8])
    assert len(threads) == 1 and next(iter(threads)).startswith("mif-checkpoint-writer")
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_4.pt", "final_model.pt"]


@pytest.mark.parametrize("flavour", WRITERS)
def test_a_best_save_that_failed_is_repaired_at_the_next_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               flavour: str) -> None:
    real_write = checkpoint_writer.write_checkpoint

    def write(checkpoint: dict[str, Any], path: Path) -> int:
        if Path(path).name == "best_model.pt" and checkpoint["epoch"] == 2:
            raise OSError(5, "Input/output error")
        return real_write(checkpoint, path)

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint", write)
    events: list[Event] = []
    policy = CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append, writer=WRITERS[flavour]())
    drive(policy, [0.9, 0.5, 0.7, 0.8])
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 2
    assert [e.kind for e in events if isinstance(e, CheckpointFailed)] == ["best"]
    repaired = [e for e in events if isinstance(e, LogLine) and e.text.startswith("  ✓ Repaired")]
    assert len(repaired) == 1 and "copied from checkpoint_epoch_2.pt" in repaired[0].text
    best = [e.epoch for e in events if isinstance(e, CheckpointSaved) and e.kind == "best"]
    assert best == [1, 2], "epoch 1's save, then the repair"


def test_the_extra_hook_adds_every_ranks_random_state(tmp_path: Path) -> None:
    states = RankRngStates()
    drive(CheckpointPolicy(directory=str(tmp_path), every=1, emit=lambda event: None, extra=states), [0.5])
    assert RANK_RNG_KEY not in torch.load(tmp_path / "final_model.pt"), "one process: nothing added"
    states.states = [{"torch": torch.get_rng_state()}, {"torch": torch.get_rng_state()}]
    drive(CheckpointPolicy(directory=str(tmp_path), every=1, emit=lambda event: None, extra=states), [0.4])
    assert len(torch.load(tmp_path / "final_model.pt")[RANK_RNG_KEY]) == 2
