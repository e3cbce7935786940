"""The checkpoint folder lock: one holder at a time, named when another is refused, gone on release (with the
folder, when the run made it and left it empty); the editor's Overwrite never moves the files of a running run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.checkpoints.folder import inspect_folder, set_aside
from medical_imaging_framework.checkpoints.lock import (
    LOCK_NAME,
    CheckpointFolderBusy,
    acquire,
    holder,
)
from tests.support.checkpoint_runs import fake_checkpoints

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows (the lock is skipped there)")


def test_a_held_folder_refuses_a_second_run_naming_the_holder(tmp_path: Path) -> None:
    folder = tmp_path / "ck" / "deep"
    first = acquire(folder, "run_a", "ck/deep")  # the folder is created
    assert folder.is_dir() and (folder / LOCK_NAME).is_file()
    with pytest.raises(CheckpointFolderBusy) as refused:
        acquire(folder, "run_b", "ck/deep")  # another open of the file: refused even in the same process
    message = str(refused.value)
    assert message.startswith(f"checkpoint folder 'ck/deep' is in use by another run (pid {os.getpid()}, run run_a")
    assert refused.value.holder is not None and refused.value.holder.run_id == "run_a"
    found = holder(folder)
    assert found is not None and (found.pid, found.run_id) == (os.getpid(), "run_a")

    first.record("run_c")  # a resumed run records the run it continues
    assert holder(folder).run_id == "run_c"  # type: ignore[union-attr]
    first.release()
    first.release()  # twice is harmless
    assert holder(folder) is None and not folder.exists()  # made by the lock, left empty: removed
    assert (tmp_path / "ck").is_dir()

    second = acquire(folder, "run_b")
    (folder / "metrics.csv").write_text("epoch\n")
    second.release()
    assert sorted(path.name for path in folder.iterdir()) == ["metrics.csv"]  # what the run wrote stays


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text('{"pid": 999999, "run_id": "killed"}')  # SIGKILL: the file stays
    assert holder(tmp_path) is None  # but holds no lock
    lock = acquire(tmp_path, "run_b")
    assert holder(tmp_path).run_id == "run_b"  # type: ignore[union-attr]
    lock.release()
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_record_still_refuses(tmp_path: Path) -> None:
    held = acquire(tmp_path, "run_a")
    (tmp_path / LOCK_NAME).write_text("not json")  # same file (inode): still locked, record gone
    with pytest.raises(CheckpointFolderBusy, match=r"its pid and run id are not written yet"):
        acquire(tmp_path, "run_b")
    held.release()


def test_overwrite_never_moves_the_files_of_a_running_run(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    fake_checkpoints(folder)
    used = inspect_folder("trainer", str(folder))
    assert used is not None
    held = acquire(folder, "run_a")
    with pytest.raises(CheckpointFolderBusy, match=r"in use by another run \(pid \d+, run run_a"):
        set_aside(used)
    assert sorted(path.name for path in folder.glob("*.pt")) == [
        "best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt", "final_model.pt"]
    held.release()
    assert set_aside(used).is_dir()
