"""Runs under torchrun on CPU (gloo): two "nodes" on localhost, sharded inference, elastic restart.

Each test is one launch (importing torch in every process is the slow part), with several checks on it.
Every subprocess has a timeout; rendezvous ports are picked free.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from monai.networks.nets import UNet
from torch.distributed import TCPStore

from medical_imaging_framework.checkpoints.files import read_checkpoint
from medical_imaging_framework.core import Graph, NodeRegistry, save_pipeline
from medical_imaging_framework.run.events import MetricsReported
from medical_imaging_framework.run.executor import run_graph
from medical_imaging_framework.run.process_tree import kill_tree
from medical_imaging_framework.training.thread_tuner import candidates_reason, process_cores
from tests.support.pipelines import TINY_SETTINGS, make_tiny_graph

pytestmark = pytest.mark.slow
LAUNCH_TIMEOUT = 240
CHECKPOINT_FILES = {"checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "best_model.pt", "final_model.pt"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _plain_unet() -> UNet:
    unet = TINY_SETTINGS["unet"]
    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=unet["channels"], strides=unet["strides"],
                num_res_units=unet["num_res_units"])


def _add_evaluation(graph: Graph, registry: NodeRegistry, model_source: tuple[str, str]) -> None:
    """Predict the 16 validation phantoms (80 at 32x32, val 0.2) with ``model_source`` and evaluate them."""
    for node in (
        registry.create("data.SyntheticPhantoms", "eval_phantoms", count=80, size=32),
        registry.create("data.TrainValSplit", "eval_split"),
        registry.create("data.DataLoader", "eval_loader", batch_size=1, shuffle=False),
        registry.create("inference.Predictor", "predictor", device="cpu"),
        registry.create("evaluation.EvaluateSegmentation", "evaluate"),
    ):
        graph.add_node(node)
    graph.connect("eval_phantoms", "dataset", "eval_split", "dataset")
    graph.connect("eval_split", "val", "eval_loader", "dataset")
    graph.connect(*model_source, "predictor", "model")
    graph.connect("eval_loader", "loader", "predictor", "data")
    graph.connect("predictor", "predictions", "evaluate", "predictions")


def _reference_metrics(registry: NodeRegistry, checkpoint: Path) -> MetricsReported:
    """The metrics of one in-process run predicting with ``checkpoint``."""
    graph = Graph("reference")
    graph.add_node(registry.create("models.UNet", "unet", **TINY_SETTINGS["unet"]))
    graph.add_node(registry.create("inference.LoadCheckpoint", "load", path=str(checkpoint)))
    graph.connect("unet", "model", "load", "model")
    _add_evaluation(graph, registry, ("load", "model"))
    events: list[Any] = []
    assert run_graph(graph, events.append).status == "done"
    return next(event for event in events if isinstance(event, MetricsReported))


def test_two_nodes_train_save_once_and_shard_inference(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = make_tiny_graph(registry, "ck", save_every_n_epochs=1, num_epochs=2)
    _add_evaluation(graph, registry, ("trainer", "model"))
    graph.add_node(registry.create("io.SavePredictions", "save", output_dir="preds"))
    graph.connect("predictor", "predictions", "save", "predictions")
    save_pipeline(graph, tmp_path / "pipeline.json")

    port = _free_port()
    # The test hosts the rendezvous store and both agents join it as clients (`is_host=false`), so the store
    # outlives both. Left to themselves, both agents on 127.0.0.1 would try to host it; the first to bind
    # does, and takes it down when it exits, which can fail the other agent's last store call
    # (`RendezvousConnectionError`, about 1 clean-clone run in 9). On real nodes only the machine named in
    # --rdzv-endpoint hosts it (docs/training/DISTRIBUTED.md).
    store = TCPStore("127.0.0.1", port, is_master=True, multi_tenant=True, wait_for_workers=False,
                     timeout=timedelta(seconds=LAUNCH_TIMEOUT))
    launches = []
    for node_rank in range(2):  # two torchrun agents, one process each, meeting at a c10d rendezvous
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node-rank={node_rank}",
            "--nproc-per-node=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
            f"--rdzv-id=mif-test-{port}", "--rdzv-conf=join_timeout=120,is_host=false",
            "-m", "medical_imaging_framework", "run", "pipeline.json", "--events", "jsonl",
        ]
        launches.append(subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for launch in launches:
            outputs.append(launch.communicate(timeout=LAUNCH_TIMEOUT))
    finally:  # the workers live in sessions of their own: end the whole tree of a launch still running
        for launch in launches:
            if launch.poll() is None:
                kill_tree(launch.pid)
        del store  # only now: both agents are done with it
    for node_rank, (launch, (_, err)) in enumerate(zip(launches, outputs, strict=True)):
        assert launch.returncode == 0, f"node {node_rank}, exit {launch.returncode}:\n{err[-3000:]}"

    stdout = "".join(out for out, _ in outputs)
    stderr = "".join(err for _, err in outputs)
    records = [json.loads(line) for line in stdout.splitlines()]  # only rank 0 writes the stream
    epochs = [record for record in records if record["type"] == "EpochEnded"]
    assert [record["epoch"] for record in epochs] == [1, 2]
    assert epochs[1]["loss"] < epochs[0]["loss"], "the loss should fall"
    for epoch in (1, 2):
        assert stderr.count(f"Epoch [{epoch}/2], Loss:") == 1, stderr[-3000:]

    # exactly one set of checkpoint files, each loading into a plain MONAI UNet (no "module." prefix)
    evaluation = {"evaluation.csv", "evaluation_samples.npz"}  # beside the scored best_model.pt, by rank 0
    assert {path.name for path in (tmp_path / "ck").iterdir()} == CHECKPOINT_FILES | {"metrics.csv"} | evaluation
    for name in sorted(CHECKPOINT_FILES):
        checkpoint = read_checkpoint(tmp_path / "ck" / name, map_location="cpu")
        assert not any(key.startswith("module.") for key in checkpoint["model_state_dict"])
        _plain_unet().load_state_dict(checkpoint["model_state_dict"], strict=True)
        assert len(checkpoint["rank_rng_states"]) == 2
    assert read_checkpoint(tmp_path / "ck" / "final_model.pt")["epoch"] == 2

    # inference sharded over both ranks: every case once, the same table as one process
    metrics = [record for record in records if record["type"] == "MetricsReported"]
    assert len(metrics) == 1
    reference = _reference_metrics(registry, tmp_path / "ck" / "best_model.pt")  # the Trainer's output (best)
    assert [row["name"] for row in metrics[0]["per_case"]] == [row["name"] for row in reference.per_case]
    assert len(reference.per_case) == 16
    for row, expected in zip(metrics[0]["per_case"], reference.per_case, strict=True):
        assert row["dice"] == pytest.approx(expected["dice"], abs=1e-6), row["name"]
    assert metrics[0]["mean"]["dice"] == pytest.approx(reference.mean["dice"], abs=1e-6)
    assert stderr.count("Mean Dice:") == 1
    saved = sorted(path.name for path in (tmp_path / "preds").iterdir())
    assert saved == sorted(f"{row['name']}.nii.gz" for row in reference.per_case)
    assert "Saved 16 prediction(s)" in stderr


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def _worker_of_rank(root: int, rank: int) -> int | None:
    for pid in _descendants(root):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"TORCHELASTIC_RUN_ID" in b" ".join(environ):
            return pid
    return None


def test_elastic_restart_resumes_after_a_killed_rank(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = make_tiny_graph(registry, "ck", save_every_n_epochs=1, num_epochs=6, num_threads="auto")
    graph.nodes["phantoms"].config["count"] = 40  # a few batches per epoch: the kill lands within epoch 4
    save_pipeline(graph, tmp_path / "pipeline.json")
    command = [sys.executable, "-m", "medical_imaging_framework", "run", "pipeline.json", "--nproc", "2",
               "--max-restarts", "1"]
    launch = subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    killed = None
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    try:
        assert launch.stdout is not None
        for line in launch.stdout:
            lines.append(line)
            if killed is None and "Saved checkpoint: checkpoint_epoch_3.pt" in line:
                killed = _worker_of_rank(launch.pid, 1)
                assert killed is not None, "rank 1's process was not found"
                os.kill(killed, signal.SIGKILL)
            if time.monotonic() > deadline:
                break
        launch.wait(timeout=60)
    finally:
        if launch.poll() is None:
            kill_tree(launch.pid)
    log = "".join(lines)
    assert killed is not None, log[-3000:]
    assert launch.returncode == 0, log[:6000]
    assert re.search(r"Restart 1 of the worker group", log), log[-3000:]
    assert "continuing at epoch 4 of 6" in log, log[-3000:]
    # each of the 2 ranks on this machine gets its share of the cores (rank 0's line), capped by _env()
    assert f"Using 1 torch thread: {candidates_reason(process_cores(), ranks=2, cap=1)}" in log, log[:3000]
    assert log.count("Epoch [6/6], Loss:") == 1
    final = read_checkpoint(tmp_path / "ck" / "final_model.pt")
    assert final["epoch"] == 6 and len(final["epoch_losses"]) == 6
    print("\n".join(line.rstrip() for line in lines if "Resumed" in line or "Restart" in line or "Epoch [" in line))
