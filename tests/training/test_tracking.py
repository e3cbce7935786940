"""metrics.csv per epoch (continued on resume), TensorBoard and MLflow read back with their own readers."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.run.events import EpochEnded, Event
from medical_imaging_framework.run.executor import Executor
from medical_imaging_framework.training.metrics_log import read_metrics
from tests.support.pipelines import make_tiny_graph
from tests.support.tiny import ONE_THREAD, PIPELINE, lines_of, run_events, set_arguments, tiniest_graph

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
        "import gc; gc.freeze()\n"  # as `mif` does at exit: Python's last collection of this heap took 2-3 s
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


def test_an_mlflow_store_made_unwritable_mid_run_is_reported_and_training_goes_on(
    registry: NodeRegistry, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow", reason="mlflow-skinny is installed by make install (dev extra)")
    store = tmp_path / "mlruns"
    uri = store.as_uri()

    def break_store(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:  # before the trackers log epoch 2
            shutil.rmtree(store)
            store.write_text("no longer a folder")  # root-proof: chmod does not stop root

    graph = tiniest_graph(registry, tmp_path / "ck", num_epochs=3, mlflow_tracking_uri=uri)
    result, events = run_events(graph, break_store)
    assert result.status == "done", result.error
    lines = lines_of(events)
    failures = [line for line in lines if "✗" in line]
    assert len(failures) == 1
    assert failures[0].startswith(f"  ✗ MLflow: could not log epoch 2 to {uri}: ")
    assert failures[0].endswith("; training goes on without MLflow")
    epoch_3 = next(index for index, line in enumerate(lines) if line.startswith("Epoch [3/3]"))
    assert lines.index(failures[0]) < epoch_3
    assert load_checkpoint(tmp_path / "ck" / "final_model.pt")["epoch"] == 3
    assert [row["epoch"] for row in read_metrics(tmp_path / "ck" / "metrics.csv")] == [1, 2, 3]


def test_an_unreachable_tracking_server_is_found_at_the_start_and_training_goes_on(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="mlflow-skinny is installed by make install (dev extra)")
    root = Path(__file__).resolve().parents[2]
    uri = "http://127.0.0.1:9"  # the discard port: nothing listens there
    # MLflow's own retries took about 264 s here before this was checked: the timeout tells the two apart
    run = subprocess.run(
        [sys.executable, "-m", "medical_imaging_framework", "run", str(PIPELINE),
         *set_arguments(tmp_path / "ck", num_epochs=2, mlflow_tracking_uri=uri)],
        cwd=tmp_path, env={**os.environ, **ONE_THREAD, "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=150,
    )
    assert run.returncode == 0, run.stdout
    lines = run.stdout.splitlines()
    [failure] = [line for line in lines if "✗" in line]
    assert failure.startswith(f"  ✗ MLflow: could not start logging to {uri}: the tracking server does not answer "
                              "within 3 s (")
    assert failure.endswith("; training goes on without MLflow") and "Traceback" not in run.stdout
    epoch_1 = next(index for index, line in enumerate(lines) if line.startswith("Epoch [1/2]"))
    assert lines.index(failure) < epoch_1  # found at the start
    assert "✓ Training complete. Final model saved to: " in run.stdout
    assert (tmp_path / "ck" / "final_model.pt").is_file()


def test_a_tensorboard_dir_that_is_a_file_is_refused_by_validate_and_skipped_at_run_time(
    registry: NodeRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tb").write_text("a file")
    graph = tiniest_graph(registry, tmp_path / "ck", num_epochs=1, tensorboard_dir=str(tmp_path / "tb"))
    save_pipeline(graph, tmp_path / "p.json")
    assert main(["validate", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "tensorboard_dir" in err and f"'{tmp_path / 'tb'}' is a file, not a folder" in err
    graph.nodes["trainer"].config["tensorboard_dir"] = str(tmp_path / "tb" / "logs")
    assert [problem.message for problem in graph.validate() if problem.field == "tensorboard_dir"] == [
        f"'{tmp_path / 'tb' / 'logs'}' cannot be created: '{tmp_path / 'tb'}' is a file, not a folder"]

    # the file appears after validating: the run goes on without TensorBoard
    events: list[Event] = []
    result = Executor(graph, events.append, validated=True).run()
    assert result.status == "done", result.error
    assert [line for line in lines_of(events) if "✗" in line] == [
        f"  ✗ TensorBoard: tensorboard_dir '{tmp_path / 'tb' / 'logs'}' cannot be created: '{tmp_path / 'tb'}' is a "
        "file, not a folder; training goes on without TensorBoard"
    ]


def test_the_start_check_tells_a_silent_or_gatewayed_server_from_one_that_answers() -> None:
    from medical_imaging_framework.training.trackers import check_reachable

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            self.send_response(int(self.path.split("/")[1]))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # connections are queued, never answered
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        check_reachable(f"{base}/404")  # an answer, even an error, is a server that is there
        check_reachable(f"{base}/200/")
        with pytest.raises(ConnectionError, match=r"HTTP 503 .* from a proxy or gateway"):
            check_reachable(f"{base}/503")
        with pytest.raises(ConnectionError, match=r"does not answer within 0.5 s \(timed out\)"):
            check_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        check_reachable("file:./mlruns")  # a store: nothing to reach
    finally:
        server.shutdown()
        server.server_close()
        silent.close()
