"""The atomic writer: temp file + fsync + os.replace + folder fsync; clear errors; nothing half-written."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints import atomic as checkpoint_writer
from medical_imaging_framework.checkpoints.atomic import (
    CheckpointWriteError,
    clean_temp_files,
    ensure_directory,
    estimate_size,
    write_checkpoint,
)
from medical_imaging_framework.checkpoints.files import find_last_checkpoint, is_temp_file

STATE = {"epoch": 3, "model_state_dict": {"w": torch.arange(1000.0)}, "optimizer_state_dict": {}, "loss": 0.25,
         "epoch_losses": [0.5, 0.3, 0.25]}


def test_write_is_temp_fsync_replace_then_directory_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        calls.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def spy_replace(source: Any, target: Any) -> None:
        calls.append(("replace", (Path(source).parent, Path(source).name, Path(target).name)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    size = write_checkpoint(STATE, tmp_path / "run" / "checkpoint_epoch_3.pt")
    assert [kind for kind, _ in calls] == ["fsync", "replace", "fsync"]
    assert calls[0][1] is False and calls[2][1] is True, "the file is synced, then its folder"
    folder, temp_name, final_name = calls[1][1]
    assert folder == tmp_path / "run" and is_temp_file(temp_name) and final_name == "checkpoint_epoch_3.pt"
    assert size == (tmp_path / "run" / "checkpoint_epoch_3.pt").stat().st_size
    assert torch.equal(torch.load(tmp_path / "run" / "checkpoint_epoch_3.pt")["model_state_dict"]["w"],
                       STATE["model_state_dict"]["w"])
    assert os.listdir(tmp_path / "run") == ["checkpoint_epoch_3.pt"], "no temp file left"


@pytest.mark.parametrize("failing", ["fsync", "save", "interrupt"])
def test_crash_mid_save_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "best_model.pt"
    write_checkpoint(STATE, target)
    before = target.read_bytes()

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "interrupt":  # a second Ctrl-C in the middle of torch.save
        def interrupted(obj: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
            stream.write(before[:100])
            raise KeyboardInterrupt

        monkeypatch.setattr(torch, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            write_checkpoint({**STATE, "epoch": 4}, target)
        assert target.read_bytes() == before and os.listdir(tmp_path) == ["best_model.pt"]
        return
    if failing == "fsync":
        monkeypatch.setattr(os, "fsync", no_space)
    else:
        def half_then_fail(obj: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
            stream.write(before[: len(before) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(CheckpointWriteError) as caught:
        write_checkpoint({**STATE, "epoch": 4}, target)
    assert caught.value.path == str(target)
    assert f"no space left on the disk holding '{tmp_path}'" in str(caught.value)
    assert target.read_bytes() == before, "the earlier checkpoint is intact"
    assert os.listdir(tmp_path) == ["best_model.pt"]


def test_free_space_is_checked_against_the_state_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needed = estimate_size(STATE)
    assert needed >= 1000 * 4, "at least the tensor bytes"
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=needed - 1))
    with pytest.raises(CheckpointWriteError, match=r"not enough free disk space: the checkpoint needs about"):
        write_checkpoint(STATE, tmp_path / "ckpt" / "final_model.pt")
    assert os.listdir(tmp_path / "ckpt") == []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=needed))
    write_checkpoint(STATE, tmp_path / "ckpt" / "final_model.pt")


def test_permission_denied_is_reported_with_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    real_open = os.open

    def refuse_in_folder(path: Any, flags: int, *args: Any) -> int:
        if Path(path).parent == folder and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse_in_folder)
    with pytest.raises(CheckpointWriteError) as caught:
        write_checkpoint(STATE, folder / "checkpoint_epoch_5.pt")
    assert f"permission denied: cannot write in '{folder}'" in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores folder permissions; the monkeypatched test above covers this case")
def test_real_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckpointWriteError, match=r"permission denied"):
            write_checkpoint(STATE, folder / "checkpoint_epoch_5.pt")
    finally:
        folder.chmod(0o700)


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "experiments").write_text("not a folder")
    for target in (tmp_path / "experiments", tmp_path / "experiments" / "run1" / "checkpoints"):
        with pytest.raises(CheckpointWriteError) as caught:
            ensure_directory(target)
        assert f"'{tmp_path / 'experiments'}' is a file, not a directory" in str(caught.value)
    with pytest.raises(CheckpointWriteError, match=r"is a file, not a directory"):
        write_checkpoint(STATE, tmp_path / "experiments" / "final_model.pt")


def test_nested_folders_are_created(tmp_path: Path) -> None:
    write_checkpoint(STATE, tmp_path / "a" / "b" / "c" / "final_model.pt")
    assert (tmp_path / "a" / "b" / "c" / "final_model.pt").is_file()


def test_stale_temp_files_are_ignored_by_last_and_cleaned(tmp_path: Path) -> None:
    write_checkpoint({**STATE, "epoch": 5}, tmp_path / "checkpoint_epoch_5.pt")
    stale = [tmp_path / ".checkpoint_epoch_10.pt.4242-deadbeef.tmp", tmp_path / ".best_model.pt.1-00000000.tmp"]
    good = (tmp_path / "checkpoint_epoch_5.pt").read_bytes()
    stale[0].write_bytes(good[: len(good) // 3])  # what a crash mid-save leaves
    stale[1].write_bytes(good)
    (tmp_path / "notes.tmp").write_text("not ours")
    assert find_last_checkpoint(tmp_path) == tmp_path / "checkpoint_epoch_5.pt"
    assert clean_temp_files(tmp_path) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_epoch_5.pt", "notes.tmp"]


def test_other_os_errors_name_the_path_and_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(checkpoint_writer.os, "replace", broken)
    target = tmp_path / "final_model.pt"
    with pytest.raises(CheckpointWriteError) as caught:
        write_checkpoint(STATE, target)
    assert str(caught.value) == f"{target}: Input/output error ({target})"
    assert os.listdir(tmp_path) == []


def test_disk_full_in_the_middle_of_torch_save_names_the_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen

    class FillsUp:
        """A real file that runs out of space after 2 kB (torch itself only reports a RuntimeError)."""

        def __init__(self, stream: Any) -> None:
            self.stream, self.written = stream, 0

        def write(self, data: Any) -> int:
            self.written += len(data)
            if self.written > 2000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.stream.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.stream, name)

        def __enter__(self) -> FillsUp:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

    monkeypatch.setattr(checkpoint_writer.os, "fdopen", lambda *args, **kwargs: FillsUp(real_fdopen(*args, **kwargs)))
    target = tmp_path / "checkpoint_epoch_1.pt"
    with pytest.raises(CheckpointWriteError) as caught:
        write_checkpoint(STATE, target)
    assert caught.value.reason == f"no space left on the disk holding '{tmp_path}'"
    assert os.listdir(tmp_path) == []


def test_directory_error_names_the_folder_it_could_not_create(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOENT, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(CheckpointWriteError) as caught:
        ensure_directory(folder)
    assert str(caught.value).endswith(f"No such file or directory ({folder})")
