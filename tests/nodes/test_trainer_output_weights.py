"""The Trainer's model output carries best_model.pt's weights by default (or the final ones), and says which.

Issue 19 point 3: a training pipeline ending with Predictor + Evaluate scored the final epoch's weights,
silently, while `mif report` showed that table next to the best_model.pt row.
"""

from __future__ import annotations

import copy
import csv
import html
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints.files import peek_checkpoint
from medical_imaging_framework.core import Link
from medical_imaging_framework.nodes.inference.weights import weights_of
from medical_imaging_framework.nodes.training.output_weights import pass_on_weights
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.tools.report import write_report
from tests.support.tiny import run_events, tiniest_graph


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiniest training (2 epochs, a checkpoint each) followed by a Predictor and an evaluation."""
    from medical_imaging_framework.core import NodeRegistry

    registry = NodeRegistry()
    folder = tmp_path_factory.mktemp("output_weights") / "ckpt"
    graph = tiniest_graph(registry, folder)
    graph.add_node(registry.create("inference.Predictor", "predictor", device="cpu", sliding_window="off"))
    graph.add_node(registry.create("evaluation.EvaluateSegmentation", "evaluate", output_dir=str(folder)))
    for source, target in [("trainer.model", "predictor.model"), ("val_loader.loader", "predictor.data"),
                           ("predictor.predictions", "evaluate.predictions")]:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    result, events = run_events(graph)
    assert result.status == "done", result.error
    return {"folder": folder, "result": result, "events": events, "registry": registry}


def _texts(events: list[Event]) -> list[str]:
    return [event.text for event in events if isinstance(event, LogLine)]


def test_the_run_scores_best_model_pt_and_records_which(trained: dict[str, Any]) -> None:
    folder: Path = trained["folder"]
    best = peek_checkpoint(folder / "best_model.pt")
    assert best is not None and best.epoch is not None
    model = trained["result"].outputs["trainer"]["model"]
    saved = torch.load(folder / "best_model.pt", weights_only=True)["model_state_dict"]
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, saved[name], msg=f"{name}: the output holds best_model.pt's weights")
    shown = str((folder / "best_model.pt").resolve())
    texts = _texts(trained["events"])
    assert f"Weights scored: {shown} (epoch {best.epoch}, run {best.run_id})" in texts
    with open(folder / "evaluation.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:5] == ["name", "grid", "checkpoint", "run_id", "epoch"]
    assert {(row["checkpoint"], row["run_id"], row["epoch"]) for row in rows} == {(shown, best.run_id,
                                                                                   str(best.epoch))}
    page = write_report(folder, out=folder.parent / "report.html").read_text(encoding="utf-8")
    assert html.escape(f"Weights scored: {shown} (epoch {best.epoch}, run {best.run_id})") in page


def _context(texts: list[str]) -> NodeContext:
    return NodeContext(node_id="trainer", emit=lambda event: texts.append(getattr(event, "text", "")),
                       cancel=CancelToken())


def test_best_final_and_no_checkpoints(trained: dict[str, Any], tmp_path: Path) -> None:
    """A best epoch before the last (best_model.pt = epoch 1 of 2): best loads it, final keeps the last weights."""
    folder = tmp_path / "ckpt"
    shutil.copytree(trained["folder"], folder)
    shutil.copy(folder / "checkpoint_epoch_1.pt", folder / "best_model.pt")
    run = peek_checkpoint(folder / "final_model.pt")
    assert run is not None
    state = SimpleNamespace(run_id=run.run_id, epoch=2)
    epoch_1 = torch.load(folder / "checkpoint_epoch_1.pt", weights_only=True)["model_state_dict"]
    final = torch.load(folder / "final_model.pt", weights_only=True)["model_state_dict"]
    for choice, expected_epoch, expected_file in [("best", 1, "best_model.pt"), ("final", 2, "final_model.pt")]:
        model = _with_final_weights(trained["result"].outputs["trainer"]["model"], final)
        texts: list[str] = []
        pass_on_weights(_context(texts), {"checkpoint_dir": str(folder), "output_weights": choice}, state,
                        model, torch.device("cpu"))
        source = weights_of(model)
        assert source is not None and (source.epoch, Path(source.checkpoint).name) == (expected_epoch, expected_file)
        weights = epoch_1 if choice == "best" else final
        for name, tensor in model.state_dict().items():
            torch.testing.assert_close(tensor, weights[name])
        assert texts == ([f"Trainer output: best_model.pt (epoch 1, run {run.run_id}), not the last epoch's (2) "
                          "weights"] if choice == "best" else []), "said when the output is not the last epoch's"
    model = _with_final_weights(trained["result"].outputs["trainer"]["model"], final)
    texts = []
    pass_on_weights(_context(texts), {"checkpoint_dir": "", "output_weights": "best"}, state, model,
                    torch.device("cpu"))
    assert texts == [], "a plain training log stays as it was"
    source = weights_of(model)
    assert source is not None and (source.checkpoint, source.epoch) == ("", 2)
    assert source.note == "output_weights is 'best' but checkpoint_dir is empty (checkpoints off): the final " \
                          "weights (epoch 2)", "the evaluation prints it beside the figures"


def _with_final_weights(trained_model: torch.nn.Module, final: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A copy of the trained model holding the final epoch's weights, as the Trainer's loop leaves it."""
    model = copy.deepcopy(trained_model)
    model.load_state_dict(final)
    return model
