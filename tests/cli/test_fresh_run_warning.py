"""`mif run` warns before a fresh run writes into another run's checkpoint folder; each file records
its run id (kept by a resumed run) and `mif inspect` shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph


def run_id(path: Path) -> str:
    return torch.load(path, weights_only=True)["run_id"]


def test_fresh_run_into_a_used_folder_warns_and_run_ids_tell_runs_apart(
    registry: NodeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ck"
    pipeline = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, folder, num_epochs=1, save_every_n_epochs=1), pipeline)
    assert main(["run", str(pipeline)]) == 0
    assert "warning" not in capsys.readouterr().err
    first = run_id(folder / "final_model.pt")
    assert len(first) >= 8 and run_id(folder / "checkpoint_epoch_1.pt") == first

    assert main(["run", str(pipeline), "--no-cache"]) == 0  # a fresh run (without it the training is reused)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: checkpoint folder '{folder}' already holds 3 checkpoint file(s) of an earlier run "
        "(last epoch 1); this fresh run writes over them. To continue that run instead: "
        "--set trainer.resume_from=last"
    ]
    second = run_id(folder / "final_model.pt")
    assert second != first

    assert main(["run", str(pipeline), "--set", "trainer.resume_from=last", "--set", "trainer.num_epochs=2"]) == 0
    assert "warning: checkpoint folder" not in capsys.readouterr().err  # resuming is no fresh run
    assert run_id(folder / "checkpoint_epoch_2.pt") == second  # a resumed run keeps its run id

    assert main(["inspect", str(folder / "checkpoint_epoch_2.pt")]) == 0
    assert f"Run id: {second}" in capsys.readouterr().out.splitlines()


def test_an_elastic_restart_resumes_without_the_fresh_run_warning(
    registry: NodeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ck"
    pipeline = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, folder, num_epochs=2, save_every_n_epochs=1), pipeline)
    assert main(["run", str(pipeline), "--set", "trainer.num_epochs=1"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")  # what torchrun sets in a restarted worker group
    assert main(["run", str(pipeline)]) == 0
    captured = capsys.readouterr()
    assert "writes over them" not in captured.err  # it resumes: the warning would contradict the next line
    assert "Restart 1 of the worker group: resuming from the newest checkpoint" in captured.out
    assert f"✓ Resumed from {folder / 'final_model.pt'} (epoch 1); continuing at epoch 2 of 2" in captured.out
