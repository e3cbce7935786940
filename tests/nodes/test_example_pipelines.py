"""The bundled example pipelines: canonical files, the inference pipeline matching the training one,
and tiny runs of each (train -> checkpoint -> LoadCheckpoint -> predict -> evaluate)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.files import read_checkpoint
from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.core.pipeline_file import dumps
from medical_imaging_framework.run.events import Event, MetricsReported, SampleAvailable
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import DEFAULT_PIPELINE, TINY_SETTINGS, make_tiny_graph

PIPELINES = DEFAULT_PIPELINE.parent
EXAMPLES = ["segmentation_infer.json", "segmentation_train_3d.json", "nifti_folder_train.json",
            "datalist_train_3d.json"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_valid_and_canonical(registry: NodeRegistry, name: str) -> None:
    graph = load_pipeline(PIPELINES / name, registry)
    assert graph.validate() == []
    assert (PIPELINES / name).read_text(encoding="utf-8") == dumps(graph)


def test_inference_pipeline_predicts_the_default_validation_set(registry: NodeRegistry) -> None:
    train = load_pipeline(DEFAULT_PIPELINE, registry)
    infer = load_pipeline(PIPELINES / "segmentation_infer.json", registry)
    for node_id in ("phantoms", "split", "unet"):
        assert infer.nodes[node_id].type_id == train.nodes[node_id].type_id
        assert infer.nodes[node_id].config == train.nodes[node_id].config
    assert infer.nodes["load_checkpoint"].config["path"] == "checkpoints/best_model.pt"
    assert infer.nodes["val_loader"].config["shuffle"] is False
    links = {str(link) for link in infer.links}
    assert {"split.val -> val_loader.dataset", "unet.model -> load_checkpoint.model",
            "load_checkpoint.model -> predictor.model", "predictor.predictions -> evaluate.predictions"} <= links


def _tiny_infer(registry: NodeRegistry):
    graph = load_pipeline(PIPELINES / "segmentation_infer.json", registry)
    for node_id in ("phantoms", "unet"):
        graph.nodes[node_id].config.update(TINY_SETTINGS[node_id])
    graph.nodes["predictor"].config["device"] = "cpu"
    return graph


def test_train_then_infer_loads_the_best_checkpoint(registry: NodeRegistry, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    training = Executor(make_tiny_graph(registry, "checkpoints", num_epochs=2)).run()
    assert training.status == "done", training.error
    events: list[Event] = []
    result = Executor(_tiny_infer(registry), events.append).run()
    assert result.status == "done", result.error
    loaded = result.outputs["load_checkpoint"]["model"]
    saved = read_checkpoint(tmp_path / "checkpoints" / "best_model.pt")["model_state_dict"]
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    split = training.outputs["split"]["val"]
    expected_names = [split.dataset[i]["name"] for i in split.indices]
    predictions = result.outputs["predictor"]["predictions"]
    assert [case.name for case in predictions.cases] == expected_names
    metrics = next(e for e in events if isinstance(e, MetricsReported))
    assert len(metrics.per_case) == len(expected_names) and 0.0 <= metrics.mean["dice"] <= 1.0
    assert any(isinstance(e, SampleAvailable) for e in events)


def test_infer_without_checkpoint_or_with_another_architecture(registry: NodeRegistry, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = Executor(_tiny_infer(registry)).run()
    assert result.status == "failed" and result.failed_node == "load_checkpoint"
    assert result.error.startswith(f"checkpoint 'checkpoints/best_model.pt' not found in {tmp_path}: run the training")
    assert Executor(make_tiny_graph(registry, "checkpoints", num_epochs=1)).run().status == "done"
    graph = _tiny_infer(registry)
    graph.nodes["unet"].config["channels"] = [4, 8, 32]
    result = Executor(graph).run()
    assert result.status == "failed" and result.failed_node == "load_checkpoint"
    assert "best_model.pt" in result.error


def test_3d_pipeline_trains_and_evaluates_with_sliding_window(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = load_pipeline(PIPELINES / "segmentation_train_3d.json", registry)
    assert graph.nodes["phantoms"].config["size"] == 64 and graph.nodes["phantoms"].config["spatial_dims"] == "3"
    graph.nodes["phantoms"].config.update({"count": 5, "size": 16})
    graph.nodes["unet"].config.update(TINY_SETTINGS["unet"])
    graph.nodes["trainer"].config.update({"num_epochs": 1, "device": "cpu", "checkpoint_dir": str(tmp_path)})
    graph.nodes["predictor"].config.update({"roi_size": [8, 8, 8], "device": "cpu"})
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    predictions = result.outputs["predictor"]["predictions"]
    assert len(predictions.cases) == 1 and predictions.cases[0].prediction.shape == (1, 16, 16, 16)
    assert any(isinstance(e, MetricsReported) for e in events)


def test_3d_datalist_pipeline_trains_on_demo_data(registry: NodeRegistry, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from medical_imaging_framework.cli.main import main

    monkeypatch.chdir(tmp_path)  # the example's own paths, in a fresh folder: nothing downloaded
    assert main(["make-demo-data", "demo_data_3d", "--spatial-dims", "3", "--size", "16", "--count", "4"]) == 0
    graph = load_pipeline(PIPELINES / "datalist_train_3d.json", registry)
    assert graph.nodes["datalist_train"].config["path"] == "demo_data_3d/dataset.json"
    graph.nodes["unet"].config.update(TINY_SETTINGS["unet"])
    graph.nodes["trainer"].config.update({"num_epochs": 1, "device": "cpu"})
    graph.nodes["predictor"].config.update({"roi_size": [16, 16, 16], "device": "cpu"})
    assert graph.validate() == []
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    assert (tmp_path / "checkpoints_datalist_3d" / "final_model.pt").is_file()
    predictions = result.outputs["predictor"]["predictions"]
    assert len(predictions.cases) == 1 and predictions.cases[0].prediction.shape == (1, 16, 16, 16)
    assert any(isinstance(e, MetricsReported) for e in events)
