"""The Trainer holds its checkpoint folder while it trains (the editor's run thread too) and lets it go when
the run ends, fails or is stopped; ``resume_from=last`` continues the run that wrote into the folder last."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints.lock import LOCK_NAME, acquire, holder
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import EpochEnded, Event, LogLine, NodeFailed, TrainingResumed
from medical_imaging_framework.run.session import RunSession
from tests.support.tiny import run_events, tiniest_graph

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows (the lock is skipped there)")


def run_id(path: Path) -> str:
    return torch.load(path, weights_only=True)["run_id"]


def run_in_thread(session: RunSession) -> tuple[threading.Thread, dict[str, Any]]:
    """What the editor's RunWorker does: `run_here` on another thread."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(result=session.run_here()))
    thread.start()
    return thread, out


@pytest.mark.parametrize("ending", ["stopped", "failed"])
def test_a_run_in_a_thread_holds_the_folder_and_frees_it_when_stopped_or_failed(
    registry: NodeRegistry, tmp_path: Path, ending: str
) -> None:
    folder = tmp_path / "ck"
    seen: dict[str, Any] = {}
    session = RunSession(tiniest_graph(registry, folder, num_epochs=50), registry)

    def sink(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 1:
            seen["holder"] = holder(folder)
            if ending == "stopped":
                session.stop()
            else:
                raise RuntimeError("the sink broke")  # an exception out of the training loop

    session.sink = sink
    thread, out = run_in_thread(session)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert seen["holder"] is not None and seen["holder"].pid == os.getpid()
    assert out["result"].status == ("cancelled" if ending == "stopped" else "failed")
    assert holder(folder) is None and not (folder / LOCK_NAME).exists()  # released: the next run may start
    acquire(folder, "next").release()


def test_a_run_into_a_held_folder_fails_before_writing_anything(registry: NodeRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    folder.mkdir()
    held = acquire(folder, "other_run")
    try:
        result, events = run_events(tiniest_graph(registry, folder, num_epochs=1))
        assert sorted(path.name for path in folder.iterdir()) == [LOCK_NAME]  # no checkpoint, no metrics.csv
    finally:
        held.release()
    assert result.status == "failed"
    [failed] = [event for event in events if isinstance(event, NodeFailed)]
    assert failed.node_id == "trainer"
    assert failed.message.startswith(f"checkpoint_dir: checkpoint folder '{folder}' is in use by another run "
                                     f"(pid {os.getpid()}, run other_run")
    assert list(folder.iterdir()) == []


def test_resume_last_continues_the_run_that_wrote_last(registry: NodeRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    assert run_events(tiniest_graph(registry, folder, num_epochs=4))[0].status == "done"
    first = run_id(folder / "checkpoint_epoch_4.pt")
    assert run_events(tiniest_graph(registry, folder, num_epochs=2, seed=7))[0].status == "done"  # fresh, over it
    second = run_id(folder / "final_model.pt")
    assert second != first and run_id(folder / "checkpoint_epoch_4.pt") == first  # a mixed folder

    result, events = run_events(tiniest_graph(registry, folder, num_epochs=3, resume_from="last"))
    assert result.status == "done", result.error
    [resumed] = [event for event in events if isinstance(event, TrainingResumed)]
    assert (Path(resumed.path).name, resumed.epoch) == ("final_model.pt", 2)
    warnings = [event.text for event in events if isinstance(event, LogLine) and "two runs" in event.text]
    assert warnings == [
        f"warning: checkpoint_dir '{folder}' holds the files of two runs: the newest, checkpoint_epoch_4.pt, "
        f"is of run {first}, but run {second} wrote here last; resuming run {second} from final_model.pt "
        "(name a file in resume_from to continue the other)"
    ]
    assert run_id(folder / "checkpoint_epoch_3.pt") == second
    assert torch.load(folder / "final_model.pt", weights_only=True)["epoch"] == 3
    assert sorted(path.name for path in folder.iterdir()) == [  # no lock file once the run is over
        "best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_3.pt",
        "checkpoint_epoch_4.pt", "final_model.pt", "metrics.csv"]
