"""metrics.csv per epoch (continued on resume), TensorBoard and MLflow read back with their own readers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from medical_imaging_framework.training.metrics_log import read_metrics
from tests.support.pipelines import make_tiny_graph

COLUMNS = ["epoch", "train_loss", "val_loss", "lr", "seconds"]


def test_metrics_csv_is_written_per_epoch_and_continued_on_resume(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    graph = make_tiny_graph(NodeRegistry(), folder, num_epochs=2, save_every_n_epochs=1)
    graph.nodes["adam"].config["lr"] = 0.002
    assert Executor(graph).run().status == "done"
    first = read_metrics(folder / "metrics.csv")
    assert list(first[0]) == COLUMNS and [row["epoch"] for row in first] == [1, 2]
    assert all(row["lr"] == 0.002 and row["seconds"] > 0 for row in first)
    import torch

    saved = torch.load(folder / "final_model.pt")
    assert [row["train_loss"] for row in first] == saved["epoch_losses"]
    assert [row["val_loss"] for row in first] == saved["val_losses"]
    # resume from epoch 1: the row of epoch 2 is trained again and replaced, epoch 3 appended
    resumed = make_tiny_graph(NodeRegistry(), folder, num_epochs=3, save_every_n_epochs=1,
                              resume_from=str(folder / "checkpoint_epoch_1.pt"))
    resumed.nodes["adam"].config["lr"] = 0.002
    assert Executor(resumed).run().status == "done"
    rows = read_metrics(folder / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[0] == first[0]
    final = torch.load(folder / "final_model.pt")
    assert [row["train_loss"] for row in rows] == final["epoch_losses"]


def test_tensorboard_and_mlflow_match_metrics_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a sqlite store keeps artifacts in ./mlruns, MLflow's default artifact root
    pytest.importorskip("tensorboard", reason="tensorboard is installed by make install (dev extra)")
    pytest.importorskip("mlflow", reason="mlflow-skinny is installed by make install (dev extra)")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, logs = tmp_path / "ckpt", tmp_path / "tb"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    graph = make_tiny_graph(NodeRegistry(), folder, num_epochs=2, save_every_n_epochs=1,
                            tensorboard_dir=str(logs), mlflow_tracking_uri=uri)
    result = Executor(graph).run()
    assert result.status == "done", result.error
    rows = read_metrics(folder / "metrics.csv")

    events = EventAccumulator(str(logs), size_guidance={"images": 0, "scalars": 0}).Reload()
    for column, tag in (("train_loss", "loss/train"), ("val_loss", "loss/val"), ("lr", "lr")):
        scalars = events.Scalars(tag)
        assert [event.step for event in scalars] == [1, 2]
        assert [event.value for event in scalars] == pytest.approx([row[column] for row in rows], rel=1e-6)
    assert [image.step for image in events.Images("sample/image_label_prediction")] == [1, 2]
    text = events.Tensors("pipeline/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"type": "training.Trainer"' in text and '"tensorboard_dir"' in text

    client = MlflowClient(tracking_uri=uri)
    run = client.search_runs([client.get_experiment_by_name("mif").experiment_id])[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.num_epochs"] == "2" and run.data.params["unet.channels"] == "[4, 8, 16]"
    for column in ("train_loss", "val_loss", "lr"):
        history = client.get_metric_history(run.info.run_id, column)
        assert [metric.step for metric in history] == [1, 2]
        assert [metric.value for metric in history] == pytest.approx([row[column] for row in rows])
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "checkpoints")}
    assert {"checkpoints/final_model.pt", "checkpoints/metrics.csv", "checkpoints/best_model.pt"} <= artifacts
    assert list((tmp_path / "mlruns").glob("*/*/artifacts/checkpoints/final_model.pt")), "./mlruns of the run's folder"


def test_no_tracker_is_built_without_its_parameter(tmp_path: Path) -> None:
    # `import monai` itself loads mlflow and torch.utils.tensorboard when they are installed (its handlers
    # import them eagerly), so the check is on our side: no tracker module, no event file, no MLflow run.
    code = (
        "import sys\n"
        "from medical_imaging_framework.core import NodeRegistry\nfrom medical_imaging_framework.run import Executor\n"
        "from tests.conftest import make_tiny_graph\n"
        f"graph = make_tiny_graph(NodeRegistry(), {str(tmp_path / 'ckpt')!r}, num_epochs=1)\n"
        "assert Executor(graph).run().status == 'done'\n"
        "print('medical_imaging_framework.training.trackers' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)}).stdout
    assert out.strip().splitlines()[-1] == "False"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ckpt"], "no mlruns, mlflow.db or event files"


def test_mlflow_file_store_works_without_a_server(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="mlflow-skinny is installed by make install (dev extra)")
    import torch
    from mlflow.tracking import MlflowClient

    from medical_imaging_framework.training.loop import EpochResult, TrainingState
    from medical_imaging_framework.training.trackers import MlflowLogger

    model = torch.nn.Conv2d(1, 1, 1)
    state = TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    uri = (tmp_path / "mlruns").as_uri()
    logger = MlflowLogger(uri, {"name": "p", "nodes": [{"id": "trainer", "params": {"num_epochs": 1}}]})
    logger.on_train_start(state)
    logger.on_epoch_end(state, EpochResult(1, 1, 0.5, None, 1.0))
    logger.on_train_end(state, completed=True)
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(logger.run_id)
    assert run.data.params == {"trainer.num_epochs": "1"} and run.data.metrics["train_loss"] == 0.5
    assert "val_loss" not in run.data.metrics and run.info.status == "FINISHED"
