"""Hostile checkpoints: every kind of bad file, through every loader, gives a clear error naming the file.

The loaders: `load_checkpoint`, the Trainer's ``resume_from`` (a pipeline run), the LoadCheckpoint node (a
pipeline run) and ``mif inspect`` (exit 2). None may show a traceback, run code from the file, inflate a
decompression bomb, or advise retrying with ``weights_only=False`` (except for the file that really holds
pickled code, where loading it yourself is the only way and the message says when that is safe).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.files import CheckpointError, load_checkpoint
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import Graph, NodeRegistry, load_pipeline
from medical_imaging_framework.run.executor import Executor
from tests.support.hostile_files import hostile_writers, write_good_checkpoint
from tests.support.pipelines import DEFAULT_PIPELINE, TINY_SETTINGS, make_tiny_graph

# kind -> what the message must say (a regex, after "FILE: ")
EXPECTED = {
    "truncated": r"truncated or damaged",
    "empty": r"the file is empty",
    "random_bytes": r"not a PyTorch checkpoint",
    "wrong_payload": r"not a checkpoint \(it holds a Tensor",
    "legacy_pickle": r"not a PyTorch checkpoint",
    "code_pickle": r"refused: the file holds pickled Python objects",
    "bomb": r"refused: record '.*data\.pkl' would inflate from [\d,]+ to 2,147,\d{3},\d{3} bytes .*decompression bomb",
    "epoch_seven": r"field 'epoch': must be a whole number >= 0 \(got 'seven'\)",
    "negative_epoch": r"field 'epoch': must be a whole number >= 0 \(got -3\)",
    "no_tensors": r"field 'model_state_dict\.[\w.]+': must be a tensor \(got 'x'\)",
    "loss_text": r"field 'loss': must be a number \(got 'a'\)",
    "rng_wrong_size": r"field 'rng_state\.python': must be Python's random state",
    "deep_nesting": r"field 'config\.seed\[0\]\[0\]\[0\].*\.\.\.': is nested more than 32 levels deep",
    "billion_laughs": r"field 'config\.laugh\[0\]\[0\].*\.\.\.': the checkpoint's lists and dicts hold more than "
                      r"1,000,000 values \(counting a shared list each time it is reached: a 'billion laughs' file\?\)",
    "nan_weights": r"field 'model_state_dict': \d+ of \d+ weight tensors hold NaN or infinite values",
}
KINDS = sorted(EXPECTED)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile file, built once from a checkpoint of the tiny pipeline's UNet."""
    folder = tmp_path_factory.mktemp("hostile")
    write_good_checkpoint(NodeRegistry(), folder / "good.pt")
    files = {}
    for kind, write in hostile_writers(folder / "good.pt", folder / "marker.txt").items():
        files[kind] = folder / f"{kind}.pt"
        write(files[kind])
    return files


def check_message(message: str, path: Path, kind: str) -> None:
    """Names the file, says the expected cause, no traceback, and no invitation to run the file's code."""
    assert message.startswith(f"{path}: "), message
    assert re.search(EXPECTED[kind], message), message
    assert "Traceback" not in message
    if kind != "code_pickle":
        assert "weights_only=False" not in message and "Weights only load failed" not in message, message
    assert not (path.parent / "marker.txt").exists(), "the pickled code must never run"


@pytest.mark.parametrize("kind", KINDS)
def test_load_checkpoint(hostile: dict[str, Path], kind: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(hostile[kind], map_location="cpu")
    check_message(str(caught.value), hostile[kind], kind)


@pytest.mark.parametrize("kind", KINDS)
def test_trainer_resume_from(hostile: dict[str, Path], registry: NodeRegistry, kind: str) -> None:
    result = Executor(make_tiny_graph(registry, "", num_epochs=2, resume_from=str(hostile[kind]))).run()
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error.startswith("resume_from: "), result.error
    check_message(result.error.removeprefix("resume_from: "), hostile[kind], kind)


def load_checkpoint_pipeline(registry: NodeRegistry, path: Path, **config: object) -> Graph:
    """The inference pipeline cut down to the tiny UNet and the LoadCheckpoint node."""
    graph = load_pipeline(DEFAULT_PIPELINE.parent / "segmentation_infer.json", registry)
    for node_id in [node_id for node_id in graph.nodes if node_id not in ("unet", "load_checkpoint")]:
        graph.remove_node(node_id)
    graph.nodes["unet"].config.update(TINY_SETTINGS["unet"])
    graph.nodes["load_checkpoint"].config.update(path=str(path), **config)
    return graph


@pytest.mark.parametrize("kind", KINDS)
def test_load_checkpoint_node(hostile: dict[str, Path], registry: NodeRegistry, kind: str) -> None:
    result = Executor(load_checkpoint_pipeline(registry, hostile[kind])).run()
    assert result.status == "failed" and result.failed_node == "load_checkpoint"
    check_message(result.error, hostile[kind], kind)


@pytest.mark.parametrize("kind", KINDS)
def test_mif_inspect(hostile: dict[str, Path], kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(hostile[kind])]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1, err
    check_message(err.removeprefix("error: ").strip(), hostile[kind], kind)
    assert "Intact: yes" not in out
    if kind == "nan_weights":  # well formed, so described, but not intact
        assert out.splitlines()[0].startswith(f"Checkpoint: {hostile[kind]} (")
        assert out.splitlines()[-1].startswith("Intact: no (field 'model_state_dict': ")
    else:
        assert out == ""


def test_non_finite_weights_load_when_allowed(hostile: dict[str, Path], registry: NodeRegistry) -> None:
    checkpoint = load_checkpoint(hostile["nan_weights"], map_location="cpu", allow_non_finite=True)
    assert all(torch.isnan(value).all() for value in checkpoint["model_state_dict"].values()
               if value.is_floating_point())
    result = Executor(load_checkpoint_pipeline(registry, hostile["nan_weights"], allow_non_finite=True)).run()
    assert result.status == "done", result.error
    weights = result.outputs["load_checkpoint"]["model"].state_dict()
    assert all(torch.isnan(value).all() for value in weights.values() if value.is_floating_point())


# VmHWM is the high-water mark of this process's own memory; ru_maxrss would also count the memory of the
# pytest process that started it (Linux keeps the larger across fork and exec).
PEAK_SCRIPT = """
import json, re, sys
from pathlib import Path
from medical_imaging_framework.checkpoints.inspect import describe_checkpoint
from medical_imaging_framework.checkpoints.files import CheckpointError, load_checkpoint, read_checkpoint

def peak_mib():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) / 1024

before, messages = peak_mib(), []
for load in (load_checkpoint, read_checkpoint, describe_checkpoint):
    try:
        load(sys.argv[1])
    except CheckpointError as error:
        messages.append(str(error))
print(json.dumps({"before": before, "after": peak_mib(), "messages": messages}))
"""


def test_decompression_bomb_is_refused_before_it_inflates(hostile: dict[str, Path]) -> None:
    status = Path("/proc/self/status")
    if not status.exists() or "VmHWM:" not in status.read_text():
        pytest.skip("peak memory is read from /proc/self/status (VmHWM), which this system lacks")
    bomb = hostile["bomb"]
    assert bomb.stat().st_size < 3_000_000, "about 2 MB on disk, 2 GiB once inflated"
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(bomb)], capture_output=True, text=True,
                          timeout=300, check=True)
    report = json.loads(done.stdout)
    assert len(report["messages"]) == 3, report
    for message in report["messages"]:
        check_message(message, bomb, "bomb")
    growth = report["after"] - report["before"]
    assert growth < 64, f"peak memory grew by {growth:.0f} MiB while refusing a 2 MB file (2 GiB inflated)"
