"""Fault 1 of issue 9 at the file layer, for machines where folder permissions cannot bind (root without
setpriv): OS errors from stat, listing and pruning become `CheckpointWriteError`/`CheckpointFailed` lines
naming the folder, never a raw exception. The real-permission versions are in
tests/reliability/test_disk_faults.py."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError, clean_temp_files, write_checkpoint
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.run.events import CheckpointFailed, Event, format_event
from tests.support.checkpoint_runs import drive


def refuse_stat_under(monkeypatch: pytest.MonkeyPatch, blocked: Path) -> None:
    """``Path.stat`` (hence ``exists``/``is_dir``) of anything under ``blocked`` raises EACCES, as when
    ``blocked`` is ``chmod 000`` for a process without root's override."""
    real_stat = Path.stat

    def stat(self: Path, *args: Any, **kwargs: Any) -> os.stat_result:
        if self != blocked and blocked in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)


def test_an_unsearchable_parent_is_a_write_error_naming_the_folder(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "p" / "ck"
    refuse_stat_under(monkeypatch, tmp_path / "p")
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(CheckpointWriteError) as raised:
        write_checkpoint({"epoch": 1}, folder / "checkpoint_epoch_1.pt")
    assert raised.value.path == str(folder)
    assert raised.value.reason == f"permission denied: cannot write in '{folder}' (read-only folder or disk?)"


def test_a_folder_that_cannot_be_listed_is_a_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def scandir(path: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CheckpointWriteError) as raised:
        clean_temp_files(tmp_path)
    assert raised.value.reason == f"cannot list the files in '{tmp_path}' (permission denied)"


def test_listing_errors_at_start_and_when_pruning_are_lines_and_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder can be written but not listed (``chmod 300``): stale temp files cannot be looked for at the
    start, nor old periodic files for keep_last_n; each is a line and the saves go on."""

    def scandir(path: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", scandir)
    events: list[Event] = []
    drive(CheckpointPolicy(directory=str(tmp_path), every=1, keep_last_n=1, emit=events.append), [0.5, 0.4])
    monkeypatch.undo()
    lines = [format_event(event) for event in events if isinstance(event, CheckpointFailed)]
    cause = f"  ✗ Cannot use checkpoint directory {tmp_path}: cannot list the files in '{tmp_path}' (permission denied)"
    assert lines == [cause] + [f"{cause}; no old checkpoint deleted (keep_last_n)"] * 2
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt",
                                            "final_model.pt"]
