"""Re-run only what changed, with the real nodes: a tiny 3D training + prediction + evaluation (issue 21)."""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.core import Graph, NodeRegistry, load_pipeline
from medical_imaging_framework.core.examples import BUNDLED_PIPELINES
from medical_imaging_framework.nodes import RUNTIME_MODULES
from medical_imaging_framework.run import cache as cache_module
from medical_imaging_framework.run.cache import CACHE_FOLDER as DEFAULT_CACHE_FOLDER
from medical_imaging_framework.run.cache import ResultCache, reused_nodes
from medical_imaging_framework.run.events import format_event
from medical_imaging_framework.run.session import RunSession

# 6 phantoms of 16^3 and a 2-level UNet: 3 epochs in about a second.
SETTINGS: dict[str, dict[str, Any]] = {
    "phantoms": {"count": 6, "size": 16, "spatial_dims": "3"},
    "split": {"val_fraction": 0.34},
    "train_loader": {"batch_size": 2},
    "val_loader": {"batch_size": 1},
    "unet": {"channels": [4, 8], "strides": [2], "num_res_units": 0},
    "trainer": {"num_epochs": 3, "device": "cpu", "checkpoint_dir": "ck"},
    "predictor": {"roi_size": [16, 16, 16], "device": "cpu"},
}
# For the time ratio: 28 training phantoms and wider levels make 3 epochs (a few seconds) outweigh what a re-run
# still does (building the data and the model, loading the weights, predicting and scoring 2 cases).
TIMED = {"phantoms__count": 30, "split__val_fraction": 0.07, "unet__channels": [16, 32]}


def _graph(registry: NodeRegistry, **changes: Any) -> Graph:
    """segmentation_train_3d.json shrunk to SETTINGS, with ``node__param=value`` changes."""
    graph = load_pipeline(BUNDLED_PIPELINES / "segmentation_train_3d.json", registry)
    for node_id, settings in SETTINGS.items():
        graph.nodes[node_id].config.update(settings)
    for name, value in changes.items():
        node_id, param = name.split("__")
        graph.nodes[node_id].config[param] = value
    return graph


def _run(graph: Graph, cache: ResultCache | None) -> tuple[float, list[str]]:
    """Run as ``mif run`` does (one session); returns the wall time and the printed lines."""
    lines: list[str] = []
    session = RunSession(graph, cache=cache, sink=lambda event: lines.append(format_event(event) or ""))
    started = time.perf_counter()
    result = session.run_here()
    seconds = time.perf_counter() - started
    assert result.status == "done", lines
    return seconds, [line for line in "\n".join(lines).splitlines() if line]


def _epochs(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("Epoch [")]


@pytest.fixture
def working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's working folder (``ck`` and ``.mif/cache`` go there, as in a user's); torch and MONAI imported
    beforehand, so that the first run's time is that of the run, not of the imports."""
    for module in RUNTIME_MODULES:
        importlib.import_module(module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cache_module, "CACHE_FOLDER", DEFAULT_CACHE_FOLDER)
    return tmp_path


def test_changing_only_the_predictor_reuses_the_training_and_the_data(registry: NodeRegistry,
                                                                      working_folder: Path) -> None:
    _run(_graph(registry, trainer__num_epochs=1, trainer__checkpoint_dir=""), None)  # warm-up: first-call costs
    cache = ResultCache()
    first, lines = _run(_graph(registry, **TIMED), cache)
    assert len(_epochs(lines)) == 3
    second, lines = _run(_graph(registry, **TIMED, predictor__overlap=0.5), cache)
    assert _epochs(lines) == []  # no training
    reused = [line for line in lines if line.startswith("reused: ")]
    run_id = next(line for line in lines if line.startswith("Weights scored:")).rsplit("run ", 1)[1].rstrip(")")
    assert f"reused: trainer (run {run_id}, epoch 3)" in reused
    data = {"reused: phantoms (in memory)", "reused: split (in memory)", "reused: transforms (in memory)"}
    assert data <= set(reused)
    assert not any(line.startswith(("reused: predictor", "reused: evaluate")) for line in lines)
    assert any(line.startswith("mean ") for line in lines) and any(line.startswith("Mean Dice:") for line in lines)
    assert second < 0.2 * first, (first, second)
    print(f"first run {first:.2f} s, second run {second:.2f} s: ratio {second / first:.3f}")


def test_a_changed_transform_retrains_exactly_as_a_run_without_the_cache(registry: NodeRegistry,
                                                                         working_folder: Path) -> None:
    cache = ResultCache()
    _run(_graph(registry), cache)
    _, cached = _run(_graph(registry, random_flip__prob=0.9), cache)
    assert "reused: phantoms (in memory)" in cached and "reused: split (in memory)" in cached
    assert not any(line.startswith(("reused: transforms", "reused: trainer")) for line in cached)
    _, fresh = _run(_graph(registry, random_flip__prob=0.9), None)  # --no-cache: every node runs
    assert not any(line.startswith("reused: ") for line in fresh)
    assert len(_epochs(cached)) == 3 and _epochs(cached) == _epochs(fresh)  # reused data sets gave the same items


def test_a_new_process_reuses_the_training_until_its_checkpoint_is_replaced(registry: NodeRegistry,
                                                                            working_folder: Path) -> None:
    _run(_graph(registry), ResultCache())
    assert list((working_folder / ".mif" / "cache").glob("*.json"))
    graph = _graph(registry, predictor__overlap=0.5)
    assert "trainer" in reused_nodes(graph, ResultCache())  # a new cache: nothing in memory, as in a new process
    _, lines = _run(graph, ResultCache())
    assert _epochs(lines) == [] and any(line.startswith("reused: trainer (run ") for line in lines)
    best = working_folder / "ck" / "best_model.pt"
    stat = best.stat()
    os.utime(best, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # replaced (here: only its time)
    assert "trainer" not in reused_nodes(graph, ResultCache())
    _, lines = _run(graph, ResultCache())
    assert len(_epochs(lines)) == 3 and not any(line.startswith("reused: trainer") for line in lines)


def test_a_touched_image_file_rereads_the_image_folder(registry: NodeRegistry, working_folder: Path) -> None:
    from tests.support.medical_files import write_nifti_phantoms

    write_nifti_phantoms(working_folder / "data", count=2, size=16)
    graph = Graph("folder")
    graph.add_node(registry.create("io.ImageFolder", "image_folder"))
    graph.nodes["image_folder"].config.update({"images_dir": "data/images", "labels_dir": "data/labels"})
    cache = ResultCache()
    _run(graph, cache)
    assert _run(graph, cache)[1] == ["reused: image_folder (in memory)"]
    image = working_folder / "data" / "images" / "case_1.nii.gz"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not any(line.startswith("reused: ") for line in _run(graph, cache)[1])
