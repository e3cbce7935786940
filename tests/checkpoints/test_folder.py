"""Finding checkpoint folders another run used, and setting their files (only those) aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints.files import Peek, find_last_checkpoint, peek_checkpoint, periodic_files
from medical_imaging_framework.checkpoints.folder import (
    PREVIOUS_RUNS,
    inspect_folder,
    set_aside,
)
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.training.folders import used_checkpoint_folders
from tests.support.checkpoint_runs import fake_checkpoints
from tests.support.hostile_files import write_bomb
from tests.support.pipelines import make_tiny_graph


def test_only_fresh_runs_into_folders_with_checkpoints_are_reported(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = make_tiny_graph(registry, tmp_path / "ck")
    assert used_checkpoint_folders(graph) == []
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "notes.txt").write_text("not a checkpoint")
    assert used_checkpoint_folders(graph) == []
    fake_checkpoints(tmp_path / "ck")
    [used] = used_checkpoint_folders(graph)
    assert (used.node_id, used.last_epoch, used.run_ids, len(used.files)) == ("trainer", 4, ("run_a",), 4)
    graph.nodes["trainer"].config["resume_from"] = "last"
    assert used_checkpoint_folders(graph) == []
    graph.nodes["trainer"].config.update(resume_from="", checkpoint_dir="")
    assert used_checkpoint_folders(graph) == []


def test_set_aside_moves_only_checkpoint_files(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    fake_checkpoints(folder)
    used = inspect_folder("trainer", str(folder))
    target = set_aside(used)
    assert target == folder / PREVIOUS_RUNS / "run_a"
    assert sorted(p.name for p in target.iterdir()) == ["best_model.pt", "checkpoint_epoch_2.pt",
                                                        "checkpoint_epoch_4.pt", "final_model.pt"]
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [".checkpoint_epoch_6.pt.abc.tmp", "notes.txt"]
    assert inspect_folder("trainer", str(folder)) is None
    fake_checkpoints(folder)
    assert set_aside(inspect_folder("trainer", str(folder))) == folder / PREVIOUS_RUNS / "run_a_2"


def test_a_name_that_only_ends_like_a_checkpoint_is_not_one(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    fake_checkpoints(folder)
    mine = folder / "checkpoint_epoch_9.pt\n"  # "$" matched before the final line break: a checkpoint to prune
    mine.write_bytes(b"mine")
    assert [epoch for epoch, _ in periodic_files(folder)] == [2, 4]
    set_aside(inspect_folder("trainer", str(folder)))
    assert mine.read_bytes() == b"mine"


def test_a_hostile_file_in_a_used_folder_is_counted_but_never_loaded(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking into a folder before a fresh run (and for ``last``) checks the sizes a file's zip records declare
    before torch.load sees it: a decompression bomb (a 64 MiB record in a file of about 64 KB) is refused."""
    folder = tmp_path / "ck"
    fake_checkpoints(folder)
    hostile = tmp_path / "hostile.pt"
    torch.save({"epoch": 9, "run_id": "hostile"}, hostile)
    write_bomb(folder / "best_model.pt", hostile, zero_mib=64)
    loaded: list[str] = []
    real_load = torch.load

    def spy_load(path: Any, *args: Any, **kwargs: Any) -> Any:
        loaded.append(Path(path).name)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    used = inspect_folder("trainer", str(folder))
    assert used is not None and len(used.files) == 4, "the hostile file is counted as a file"
    assert (used.last_epoch, used.run_ids) == (4, ("run_a",)), "and tells nothing"
    assert peek_checkpoint(folder / "best_model.pt") is None
    assert peek_checkpoint(folder / "final_model.pt") == Peek(4, "run_a")
    assert find_last_checkpoint(folder) is None, "the fakes are not complete checkpoints; the bomb is refused"
    assert "best_model.pt" not in loaded, "the bomb never reached torch.load"
    assert "final_model.pt" in loaded


def test_set_aside_moves_everything_the_run_wrote_with_its_checkpoints(registry: NodeRegistry,
                                                                       tmp_path: Path) -> None:
    """metrics.csv, the evaluation files (and sidecars), samples/, the report, TensorBoard event files and a
    tensorboard_dir inside the folder go with the checkpoints; the lock, temp files and the user's files stay."""
    folder = tmp_path / "ck"
    fake_checkpoints(folder)
    run_names = ["evaluation.csv", "evaluation_provenance.json", "evaluation_samples.npz", "metrics.csv",
                 "report.html", "events.out.tfevents.1.host"]
    for name in run_names:
        (folder / name).write_text(name)
    (folder / "samples").mkdir()
    (folder / "samples" / "case_0.png").write_text("png")
    (folder / "logs" / "tb").mkdir(parents=True)
    (folder / "logs" / "tb" / "events.out.tfevents.2.host").write_text("tb")
    (folder / ".mif-run.lock").write_text("")
    outside = tmp_path / "tb_outside"
    outside.mkdir()
    graph = make_tiny_graph(registry, folder, tensorboard_dir=str(folder / "logs" / "tb"))
    [used] = used_checkpoint_folders(graph)
    target = set_aside(used)
    moved = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert moved == sorted(["best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt", "final_model.pt",
                            *run_names, "samples/case_0.png", "logs/tb/events.out.tfevents.2.host"])
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and PREVIOUS_RUNS not in p.parts)
    assert left == [".checkpoint_epoch_6.pt.abc.tmp", ".mif-run.lock", "notes.txt"]
    assert inspect_folder("trainer", str(folder), (str(outside),)) is None
    fake_checkpoints(folder)
    again = inspect_folder("trainer", str(folder), (str(outside), str(folder / PREVIOUS_RUNS)))
    assert again is not None and again.run_files == (), "a folder outside, or previous_runs/, is never moved"


def test_a_folder_of_many_checkpoints_is_inspected_from_a_few_files(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """F5 into a folder of 194 checkpoints froze the editor for about 7 s (every file was torch.loaded on the GUI
    thread): the epochs come from the periodic names; only the oldest and newest periodic file, best and final are
    read for their run ids, so two runs mixed in one folder are still both named."""
    from medical_imaging_framework.checkpoints import folder as folder_module

    folder = tmp_path / "ck"
    folder.mkdir()
    for epoch in range(1, 41):
        torch.save({"epoch": epoch, "run_id": "old" if epoch > 30 else "new"}, folder / f"checkpoint_epoch_{epoch}.pt")
    torch.save({"epoch": 30, "run_id": "new"}, folder / "best_model.pt")
    peeked: list[str] = []
    real_peek = folder_module.peek_checkpoint
    monkeypatch.setattr(folder_module, "peek_checkpoint",
                        lambda path: peeked.append(Path(path).name) or real_peek(path))
    used = inspect_folder("trainer", str(folder))
    assert used is not None and len(used.files) == 41 and used.last_epoch == 40
    assert sorted(used.run_ids) == ["new", "old"]
    assert len(peeked) <= 4
