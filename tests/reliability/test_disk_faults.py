"""Disk faults during real (tiniest) runs that save every epoch: a full disk (a real small tmpfs), EIO, a
permission change without root's override, the folder deleted, a file in place of the folder. Each gives
clear lines naming the file or folder, earlier files stay intact, and training goes on (or stops when
``stop_on_checkpoint_error`` is set)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.checkpoints import atomic as checkpoint_writer
from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import EpochEnded, Event
from tests.support.tiny import ONE_THREAD, lines_of, run_events, tiniest_graph

ROOT = Path(__file__).resolve().parents[2]
PERMISSION_DENIED = "permission denied: cannot write in '{folder}' (read-only folder or disk?)"


def saved(lines: list[str], epoch: int) -> bool:
    return f"  ✓ Saved checkpoint: checkpoint_epoch_{epoch}.pt" in lines


def assert_loads(folder: Path, epochs: list[int]) -> None:
    names = sorted(name for name in os.listdir(folder) if name.startswith("checkpoint_epoch_"))
    assert names == sorted(f"checkpoint_epoch_{epoch}.pt" for epoch in epochs)
    for epoch in epochs:
        assert load_checkpoint(folder / f"checkpoint_epoch_{epoch}.pt", map_location="cpu")["epoch"] == epoch


# ---- permission change mid-run, without CAP_DAC_OVERRIDE -------------------------------------------------

@pytest.fixture(scope="module")
def permission_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The scenarios of `permission_runs`, run once in a process that folder permissions really bind."""
    base = tmp_path_factory.mktemp("permissions")
    base.chmod(0o755)
    out = base / "report.json"
    command = [sys.executable, "-m", "tests.support.permission_runs", str(base / "runs"), str(out)]
    (base / "runs").mkdir()
    if os.name != "posix":
        pytest.skip("folder permissions are POSIX-only here")
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: folder permissions cannot bind here; the patched "
                        "cases in tests/checkpoints/test_write_errors.py cover the logic")
        caps = "-dac_override,-dac_read_search"
        drop = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
        probe = subprocess.run([*drop, "true"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:  # e.g. a container without CAP_SETPCAP
            pytest.skip(f"setpriv cannot drop root's override here ({probe.stderr.strip()}); the patched "
                        "cases in tests/checkpoints/test_write_errors.py cover the logic")
        command = [*drop, *command]
    subprocess.run(command, cwd=ROOT, check=True, timeout=240, env={**os.environ, **ONE_THREAD})
    report = json.loads(out.read_text(encoding="utf-8"))
    if not report["override_dropped"]:
        pytest.skip("this process still bypasses folder permissions (root's override could not be dropped)")
    return report


def test_parent_folder_made_unsearchable_mid_run(permission_runs: dict[str, Any]) -> None:
    """Fault 1 of issue 9: ``chmod 000`` on the folder above checkpoint_dir after epoch 2 ended the run with
    a raw PermissionError from ``Path.exists()``; now each save logs a line and training goes on."""
    run = permission_runs["parent_not_searchable"]
    folder = Path(run["folder"])
    assert run["status"] == "done", run["error"]
    lines = run["lines"]
    failed = [line for line in lines if line.startswith("  ✗ ")]
    assert failed and failed[0] == (f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: "
                                    + PERMISSION_DENIED.format(folder=folder))
    assert all(str(folder) in line for line in failed)
    assert not saved(lines, 2) and saved(lines, 3) and saved(lines, 4)
    assert lines[-2:] == [f"✓ Training complete. Final model saved to: {folder / 'final_model.pt'}",
                          f"✗ {len(failed)} checkpoint saves of this run failed (see the ✗ lines above)."]
    assert_loads(folder, [1, 3, 4])


def test_stop_on_checkpoint_error_stops_at_the_permission_error(permission_runs: dict[str, Any]) -> None:
    run = permission_runs["parent_not_searchable_stop"]
    folder = Path(run["folder"])
    assert run["status"] == "failed"
    assert run["error"] == (f"could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: "
                            f"{PERMISSION_DENIED.format(folder=folder)} (training stopped: stop_on_checkpoint_error)")
    assert not any(line.startswith("Epoch [3/4]") for line in run["lines"])
    assert_loads(folder, [1])


def test_folder_made_read_only_mid_run(permission_runs: dict[str, Any]) -> None:
    run = permission_runs["folder_read_only"]
    folder = Path(run["folder"])
    assert run["status"] == "done", run["error"]
    assert (f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: "
            + PERMISSION_DENIED.format(folder=folder)) in run["lines"]
    assert_loads(folder, [1, 3, 4])
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_folder_made_unlistable_mid_run_with_keep_last_n(permission_runs: dict[str, Any]) -> None:
    """Pruning for keep_last_n lists the folder: a folder that can be written but not read raised a raw
    PermissionError; now it is a line naming the folder, nothing is deleted, and training goes on."""
    run = permission_runs["folder_not_listable"]
    folder = Path(run["folder"])
    assert run["status"] == "done", run["error"]
    lines = run["lines"]
    assert saved(lines, 2)
    assert (f"  ✗ Cannot use checkpoint directory {folder}: cannot list the files in '{folder}' "
            "(permission denied); no old checkpoint deleted (keep_last_n)") in lines
    assert_loads(folder, [4])


# ---- disk full on a real tmpfs -------------------------------------------------------------------------

@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted under ``tmp_path`` (root on Linux only)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs Linux and mount; the patched ENOSPC tests in "
                    "tests/nodes/test_trainer_failures.py cover the logic")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the patched ENOSPC tests in "
                    "tests/nodes/test_trainer_failures.py cover the logic")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill_then_free(folder: Path, ballast: Path) -> Any:
    """An event sink that fills the disk when epoch 2 ends (before its saves) and frees it when epoch 3 ends."""

    def sink(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:
            handle = os.open(ballast, os.O_WRONLY | os.O_CREAT)  # fill the disk to the last block
            try:
                while os.write(handle, b"\0" * 4096):
                    pass
            except OSError as error:
                assert error.errno == errno.ENOSPC
            finally:
                os.close(handle)
        if isinstance(event, EpochEnded) and event.epoch == 3:
            ballast.unlink()

    return sink


@pytest.mark.parametrize("free_space_check", [True, False], ids=["checked-before", "kernel-enospc"])
def test_disk_full_on_a_real_tmpfs(registry: NodeRegistry, small_tmpfs: Path, monkeypatch: pytest.MonkeyPatch,
                                   free_space_check: bool) -> None:
    if not free_space_check:  # let the write itself meet ENOSPC from the kernel, mid torch.save
        monkeypatch.setattr(checkpoint_writer, "check_free_space", lambda directory, needed: None)
    folder = small_tmpfs / "ck"
    graph = tiniest_graph(registry, folder, num_epochs=4)
    result, events = run_events(graph, fill_then_free(folder, small_tmpfs / "ballast"))
    lines = lines_of(events)
    assert result.status == "done", result.error
    failed = [line for line in lines if line.startswith("  ✗ ")]
    assert failed[0].startswith(f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: ")
    cause = "not enough free disk space" if free_space_check else f"no space left on the disk holding '{folder}'"
    assert cause in failed[0]
    assert not saved(lines, 2) and saved(lines, 3) and saved(lines, 4)
    assert_loads(folder, [1, 3, 4])
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")], "no temp file left behind"


# ---- EIO (patched: no real failing disk here) ----------------------------------------------------------

def test_io_error_on_fsync_mid_run(registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EIO cannot be produced on demand by a healthy disk; ``os.fsync`` fails during epoch 2's saves."""
    failing = {"on": False}
    real_fsync = os.fsync

    def fsync(handle: int) -> None:
        if failing["on"]:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(handle)

    def sink(event: Event) -> None:
        if isinstance(event, EpochEnded):
            failing["on"] = event.epoch == 2

    monkeypatch.setattr(os, "fsync", fsync)
    folder = tmp_path / "ck"
    result, events = run_events(tiniest_graph(registry, folder, num_epochs=3), sink)
    lines = lines_of(events)
    assert result.status == "done", result.error
    assert f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: Input/output error " \
           f"({folder / 'checkpoint_epoch_2.pt'})" in lines
    assert_loads(folder, [1, 3])
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


# ---- the folder deleted, or replaced by a file ---------------------------------------------------------

def test_folder_deleted_mid_run_is_created_again(registry: NodeRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ck"

    def sink(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:
            shutil.rmtree(folder)

    result, events = run_events(tiniest_graph(registry, folder, num_epochs=3, keep_last_n=2), sink)
    lines = lines_of(events)
    assert result.status == "done", result.error
    assert not [line for line in lines if line.startswith("  ✗ ")]
    assert saved(lines, 2) and saved(lines, 3)
    assert_loads(folder, [2, 3])


@pytest.mark.parametrize("stop", [False, True], ids=["trains-on", "stops"])
def test_file_in_place_of_the_folder_mid_run(registry: NodeRegistry, tmp_path: Path, stop: bool) -> None:
    folder = tmp_path / "ck"
    kept = tmp_path / "kept"

    def sink(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:
            folder.rename(kept)
            folder.write_text("I am a file")
        if isinstance(event, EpochEnded) and event.epoch == 3:
            folder.unlink()

    graph = tiniest_graph(registry, folder, num_epochs=4, stop_on_checkpoint_error=stop)
    result, events = run_events(graph, sink)
    lines = lines_of(events)
    reason = f"'{folder}' is a file, not a directory"
    assert load_checkpoint(kept / "checkpoint_epoch_1.pt")["epoch"] == 1, "the earlier file is intact"
    if stop:
        assert result.status == "failed"
        assert result.error == (f"could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: {reason} "
                                "(training stopped: stop_on_checkpoint_error)")
        assert folder.read_text() == "I am a file"
        return
    assert result.status == "done", result.error
    assert f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_2.pt'}: {reason}" in lines
    assert saved(lines, 3) and saved(lines, 4)
    assert_loads(folder, [3, 4])
