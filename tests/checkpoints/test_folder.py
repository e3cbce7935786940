"""Finding checkpoint folders another run used, and setting their files (only those) aside."""

from __future__ import annotations

from pathlib import Path

from medical_imaging_framework.checkpoints.folder import (
    PREVIOUS_RUNS,
    inspect_folder,
    set_aside,
    used_checkpoint_folders,
)
from medical_imaging_framework.core import NodeRegistry
from tests.support.checkpoint_runs import fake_checkpoints
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
