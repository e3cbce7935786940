"""Checkpoint failures during a real (tiny) run: logged clearly, earlier files intact, training goes on;
resume errors; stale temp files."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import CheckpointFailed, Event, NodeFailed, TrainingCompleted, format_event
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph


def run(graph: Any) -> tuple[Any, list[Event], list[str]]:
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    lines = "\n".join(line for e in events if (line := format_event(e)) is not None).split("\n")
    return result, events, lines


def test_resume_from_a_folder_or_a_missing_file_is_refused_by_validate(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    graph = make_tiny_graph(registry, "ckpt", resume_from=str(tmp_path))
    problems = graph.validate()
    assert [(problem.node_id, problem.field) for problem in problems] == [("trainer", "resume_from")]
    assert problems[0].message == (f"'{tmp_path}' is a folder, not a checkpoint file: name a .pt file in it, or use "
                                   "'last' (the newest checkpoint of checkpoint_dir)")
    graph.nodes["trainer"].config["resume_from"] = "missing.pt"
    assert [problem.message for problem in graph.validate()] == [
        f"checkpoint file 'missing.pt' does not exist in {tmp_path}"]
    os.symlink("loop.pt", tmp_path / "loop.pt")
    graph.nodes["trainer"].config["resume_from"] = "loop.pt"
    assert [problem.message for problem in graph.validate()] == [
        "checkpoint file 'loop.pt' is a symbolic link loop (a link that leads back to itself)"]


def test_resume_from_a_folder_at_run_time_says_it_is_a_folder(registry: NodeRegistry, tmp_path: Path) -> None:
    # validated earlier, e.g. by the parent of a torchrun launch, while resume_from still named a file
    graph = make_tiny_graph(registry, tmp_path / "ckpt", resume_from=str(tmp_path))
    result = Executor(graph, validated=True).run()
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error.startswith(f"resume_from: '{tmp_path}' is a folder, not a checkpoint file"), result.error


def fail_from_second_save(monkeypatch: pytest.MonkeyPatch, folder: Path, error: OSError) -> None:
    """Let the first checkpoint save into ``folder`` through; every later checkpoint temp-file open there raises
    ``error`` (metrics.csv, written through the same atomic write, is not a checkpoint save)."""
    real_open = os.open
    opened = []

    def open_or_fail(path: Any, flags: int, *args: Any) -> int:
        if Path(path).parent == folder and flags & os.O_CREAT and ".pt." in Path(path).name:
            opened.append(path)
            if len(opened) > 1:
                raise error
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", open_or_fail)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (PermissionError(errno.EACCES, "Permission denied"),
         "permission denied: cannot write in '{folder}' (read-only folder or disk?)"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on the disk holding '{folder}'"),
    ],
    ids=["read-only", "enospc"],
)
def test_failed_saves_are_logged_and_training_goes_on(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, cause: str
) -> None:
    folder = tmp_path / "ck"
    fail_from_second_save(monkeypatch, folder, error)
    result, events, lines = run(make_tiny_graph(registry, folder, num_epochs=3, save_every_n_epochs=1))
    assert result.status == "done"
    reason = cause.format(folder=folder)
    first = next(index for index, line in enumerate(lines) if line.startswith("Epoch [1/3]"))
    assert lines[first + 1:first + 3] == [
        "  ✓ Saved checkpoint: checkpoint_epoch_1.pt",
        f"  ✗ Could not save checkpoint {folder / 'best_model.pt'}: {reason}",
    ]
    assert f"  ✗ Could not save checkpoint {folder / 'checkpoint_epoch_3.pt'}: {reason}" in lines
    assert f"  ✗ Could not save checkpoint {folder / 'final_model.pt'}: {reason}" in lines
    assert sum(isinstance(e, CheckpointFailed) for e in events) == 6, "best 1, 2 and 3, periodic 2 and 3, final"
    assert lines[-3:] == ["", "✓ Training complete.",
                          "✗ 6 checkpoint saves of this run failed (see the ✗ lines above)."]
    assert sorted(os.listdir(folder)) == ["checkpoint_epoch_1.pt", "metrics.csv"], "the first save stays intact"
    assert torch.load(folder / "checkpoint_epoch_1.pt")["epoch"] == 1


def test_simulated_full_disk_from_the_free_space_check(registry: NodeRegistry, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    result, events, _ = run(make_tiny_graph(registry, tmp_path / "ck", num_epochs=2))
    assert result.status == "done"
    failed = [e for e in events if isinstance(e, CheckpointFailed)]
    assert [e.kind for e in failed] == ["best", "best", "final"]
    assert all("not enough free disk space: the checkpoint needs about" in e.message for e in failed)
    assert "only 0.0 MB free" in failed[0].message and os.listdir(tmp_path / "ck") == ["metrics.csv"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores folder permissions; test_failed_saves_are_logged...[read-only] covers it")
def test_real_read_only_folder(registry: NodeRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result, _, lines = run(make_tiny_graph(registry, folder, num_epochs=1))
    finally:
        folder.chmod(0o700)
    assert result.status == "done" and any("permission denied" in line for line in lines)


def test_a_file_where_the_folder_should_be(registry: NodeRegistry, tmp_path: Path) -> None:
    (tmp_path / "ck").write_text("I am a file")
    result, events, lines = run(make_tiny_graph(registry, tmp_path / "ck", num_epochs=1))
    assert result.status == "done"
    assert f"  ✗ Cannot use checkpoint directory {tmp_path / 'ck'}: '{tmp_path / 'ck'}' is a file, not a directory" \
        in lines
    assert f"  ✗ Could not save checkpoint {tmp_path / 'ck' / 'final_model.pt'}: " \
           f"'{tmp_path / 'ck'}' is a file, not a directory" in lines
    assert (tmp_path / "ck").read_text() == "I am a file"
    assert any(isinstance(e, TrainingCompleted) and e.final_path == "" for e in events)


def test_stop_on_checkpoint_error_fails_the_node(registry: NodeRegistry, tmp_path: Path) -> None:
    (tmp_path / "ck").write_text("I am a file")
    result, events, _ = run(make_tiny_graph(registry, tmp_path / "ck", num_epochs=3, stop_on_checkpoint_error=True))
    assert result.status == "failed" and result.failed_node == "trainer"
    failure = next(e for e in events if isinstance(e, NodeFailed))
    assert "is a file, not a directory (training stopped: stop_on_checkpoint_error)" in failure.message
    assert not any(format_event(e) and "Epoch [" in (format_event(e) or "") for e in events)


def test_keep_last_n_in_a_run(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, _ = run(make_tiny_graph(registry, tmp_path, num_epochs=4, save_every_n_epochs=1, keep_last_n=2))
    assert result.status == "done"
    assert sorted(os.listdir(tmp_path)) == [
        "best_model.pt", "checkpoint_epoch_3.pt", "checkpoint_epoch_4.pt", "final_model.pt", "metrics.csv"]


def test_stale_temp_files_are_cleaned_and_ignored_by_last(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, _ = run(make_tiny_graph(registry, tmp_path, num_epochs=2, save_every_n_epochs=1))
    assert result.status == "done"
    good = (tmp_path / "checkpoint_epoch_2.pt").read_bytes()
    stale = tmp_path / ".checkpoint_epoch_3.pt.777-0badf00d.tmp"
    stale.write_bytes(good[: len(good) // 2])  # a crash in the middle of saving epoch 3
    result, _, lines = run(make_tiny_graph(registry, tmp_path, num_epochs=3, resume_from="last"))
    assert result.status == "done"
    assert f"✓ Resumed from {tmp_path / 'final_model.pt'} (epoch 2); continuing at epoch 3 of 3" in lines
    assert not stale.exists()
    assert torch.load(tmp_path / "final_model.pt")["epoch"] == 3


def test_resume_errors_are_clear(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, _ = run(make_tiny_graph(registry, tmp_path, num_epochs=1))
    assert result.status == "done"
    graph = make_tiny_graph(registry, tmp_path / "new", num_epochs=2, resume_from=str(tmp_path / "final_model.pt"))
    graph.nodes["unet"].config["num_res_units"] = 0  # plain convolutions: other layer names
    result, _, _ = run(graph)
    assert result.status == "failed" and result.failed_node == "trainer"
    assert f"resume_from: {tmp_path / 'final_model.pt'}: the checkpoint's weights do not fit this model" in result.error
    assert "missing keys: " in result.error and "unexpected keys: " in result.error
    assert not (tmp_path / "new").exists(), "nothing is written when the resume fails"
    result, _, _ = run(make_tiny_graph(registry, tmp_path, num_epochs=2, resume_from=str(tmp_path / "nope.pt")))
    assert result.status == "invalid"  # refused by validate, before anything runs
    assert f"checkpoint file '{tmp_path / 'nope.pt'}' does not exist" in str(result.problems[0])
    result, _, _ = run(make_tiny_graph(registry, "", num_epochs=2, resume_from="last"))
    assert result.status == "invalid"  # refused by validate now, before anything runs
    assert "'last' looks in checkpoint_dir, which is empty" in str(result.problems[0])


def test_resume_last_without_checkpoints_starts_fresh(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, lines = run(make_tiny_graph(registry, tmp_path / "empty", num_epochs=1, resume_from="last"))
    assert result.status == "done"
    assert f"No complete checkpoint in {tmp_path / 'empty'} yet: training starts at epoch 1" in lines
    assert lines[-1] == f"✓ Training complete. Final model saved to: {tmp_path / 'empty' / 'final_model.pt'}"


def test_resume_last_in_a_folder_that_cannot_be_listed(registry: NodeRegistry, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint_dir without read permission ended ``resume_from=last`` with a raw PermissionError."""
    result, _, _ = run(make_tiny_graph(registry, tmp_path / "ck", num_epochs=1))
    assert result.status == "done"
    before = {path.name: path.read_bytes() for path in (tmp_path / "ck").iterdir()}
    real_scandir = os.scandir

    def refuse_the_folder(path: Any = ".") -> Any:
        if Path(path) == tmp_path / "ck":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_the_folder)
    result, _, _ = run(make_tiny_graph(registry, tmp_path / "ck", num_epochs=2, resume_from="last"))
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error == (f"checkpoint_dir '{tmp_path / 'ck'}' cannot be searched for a checkpoint to resume "
                            "from: Permission denied")
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in (tmp_path / "ck").iterdir()} == before, "nothing touched"
    assert "final_model.pt" in before


def test_mixed_precision_on_cpu_is_a_warning(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, lines = run(make_tiny_graph(registry, tmp_path, num_epochs=1, mixed_precision=True))
    assert result.status == "done"
    assert "mixed_precision needs a CUDA device; training in full precision on cpu" in lines
    assert "scaler_state_dict" not in torch.load(tmp_path / "final_model.pt")


def test_resume_when_no_epoch_is_left(registry: NodeRegistry, tmp_path: Path) -> None:
    result, _, _ = run(make_tiny_graph(registry, tmp_path, num_epochs=2))
    assert result.status == "done"
    result, _, lines = run(make_tiny_graph(registry, tmp_path, num_epochs=2, resume_from="last"))
    assert result.status == "done"
    assert f"{tmp_path / 'final_model.pt'} already holds epoch 2 of num_epochs 2: no epoch left to train" in lines
    assert not any(line.startswith("Epoch [") for line in lines)
    assert lines[-1] == f"✓ Training complete. Final model saved to: {tmp_path / 'final_model.pt'}"
    assert torch.load(tmp_path / "final_model.pt")["epoch"] == 2
