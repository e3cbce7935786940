"""An evaluation records the checkpoint it scored, goes beside it by default, and a report says when it
shows another run's evaluation.

Issue 20 point 2: `segmentation_infer` pointed at runs/exp1/ckpt/best_model.pt wrote evaluation.csv into
./checkpoints, and `mif report checkpoints` of a 14-epoch run showed the 4-epoch model's Dice.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medical_imaging_framework.checkpoints.files import peek_checkpoint
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.run.events import LogLine
from tests.support.pipelines import DEFAULT_PIPELINE
from tests.support.tiny import TINIEST_SETTINGS, run_events, tiniest_graph


def _infer(registry: NodeRegistry, checkpoint: str, **evaluate: str) -> list[str]:
    """segmentation_infer.json on the tiniest settings, loading ``checkpoint``; returns its log lines."""
    graph = load_pipeline(DEFAULT_PIPELINE.parent / "segmentation_infer.json", registry)
    for node_id in ("phantoms", "split", "val_loader", "unet"):
        graph.nodes[node_id].config.update(TINIEST_SETTINGS[node_id])
    graph.nodes["predictor"].config["device"] = "cpu"
    graph.nodes["load_checkpoint"].config["path"] = checkpoint
    graph.nodes["evaluate"].config.update(evaluate)
    result, events = run_events(graph)
    assert result.status == "done", result.error
    return [event.text for event in events if isinstance(event, LogLine)]


def test_evaluation_goes_beside_the_scored_checkpoint_and_the_report_names_it(
        registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for folder, epochs in (("runs/exp1/ckpt", 1), ("checkpoints", 2)):
        result, _ = run_events(tiniest_graph(registry, folder, num_epochs=epochs))
        assert result.status == "done", result.error
    exp1 = peek_checkpoint("runs/exp1/ckpt/best_model.pt")
    assert exp1 is not None
    lines = _infer(registry, "runs/exp1/ckpt/best_model.pt")
    shown = str((tmp_path / "runs/exp1/ckpt/best_model.pt").resolve())
    assert f"Weights scored: {shown} (epoch 1, run {exp1.run_id})" in lines
    assert not (tmp_path / "checkpoints" / "evaluation.csv").exists(), "nothing lands in another run's folder"
    with open(tmp_path / "runs/exp1/ckpt/evaluation.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["checkpoint"], row["run_id"], row["epoch"]) for row in rows} == {(shown, exp1.run_id, "1")}

    lines = _infer(registry, "runs/exp1/ckpt/best_model.pt", output_dir="checkpoints")  # asked for: written, said
    assert any(line.startswith("warning: output_dir 'checkpoints' holds the checkpoints of run(s) ")
               and f"(run {exp1.run_id})" in line for line in lines)
    assert main(["report", "checkpoints"]) == 0
    err = capsys.readouterr().err
    assert f"scored a checkpoint of another run ({shown}, run {exp1.run_id}, epoch 1)" in err
    page = (tmp_path / "checkpoints" / "report.html").read_text(encoding="utf-8")
    assert "Evaluation of another run:" in page and "its figures are not this run&#x27;s" in page
    assert main(["report", "runs/exp1/ckpt"]) == 0
    assert "another run" not in capsys.readouterr().err, "its own run's evaluation raises no warning"


def test_another_runs_provenance_is_shown_escaped(tmp_path: Path) -> None:
    import torch

    from medical_imaging_framework.tools.report import write_report

    torch.save({"epoch": 3, "run_id": "thisrun"}, tmp_path / "best_model.pt")
    (tmp_path / "evaluation.csv").write_text(
        "name,grid,checkpoint,run_id,epoch,dice,hd95,missed\n"
        "a,original,/x/\x1b[2Jbest_model.pt,otherrun,4,0.5,inf,1\nmean,original,/x/\x1b[2Jbest_model.pt,otherrun,4,"
        "0.5,inf,1\n", encoding="utf-8")
    warned: list[str] = []
    page = write_report(tmp_path, warn=warned.append).read_text(encoding="utf-8")
    assert len(warned) == 1 and "\x1b" not in warned[0]
    assert "another run (/x/\\x1b[2Jbest_model.pt, run otherrun, epoch 4)" in warned[0]
    assert "(thisrun): its figures are not this run's" in warned[0]
    assert "\x1b" not in page and "<td class=\"num\">inf</td>" in page
