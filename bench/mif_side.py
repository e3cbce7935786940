"""The mif side of ``bench/plan_vs_nnunet.py``: ``mif plan``, its choices as rows, ``mif run`` of both pipelines.

mif runs as ``python -m medical_imaging_framework`` with this interpreter and its ``PYTHONPATH`` (to bench a
tree that is not installed, put it first on ``PYTHONPATH``). Each command runs with the work folder's ``mif``
sub-folder as its current folder, so the relative paths a planned pipeline writes (checkpoints, predictions)
land there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnunet_side import children_cpu_s

MIF = [sys.executable, "-m", "medical_imaging_framework"]


def plan(dataset_json: Path, out: Path, budget_min: float, memory_gb: float | None) -> tuple[str, float]:
    """``mif plan DATASET --device cpu --time-budget MIN --out FOLDER --explain``; returns (its output, seconds).

    Args:
        dataset_json: the Decathlon ``dataset.json``.
        out: the folder the two pipelines are written to.
        budget_min: the training time budget in minutes.
        memory_gb: the memory budget, or None for mif's default.
    """
    out.mkdir(parents=True, exist_ok=True)
    command = [*MIF, "plan", str(dataset_json), "--device", "cpu", "--time-budget", f"{budget_min:g}",
               "--out", str(out), "--explain"]
    if memory_gb is not None:
        command += ["--memory-gb", f"{memory_gb:g}"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=out, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (out / "mif_plan.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command[2:])}` failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done.stdout, seconds


def pipelines(out: Path) -> tuple[Path, Path]:
    """The (train, inference) pipeline files ``mif plan`` wrote in ``out``.

    Args:
        out: the ``--out`` folder.
    """
    files = sorted(p for p in out.glob("*.json") if _is_pipeline(p))
    train = [p for p in files if "infer" not in p.name and "predict" not in p.name]
    infer = [p for p in files if p not in train]
    if len(train) != 1 or len(infer) != 1:
        raise SystemExit(f"expected one train and one inference pipeline in {out}, found {[p.name for p in files]}")
    return train[0], infer[0]


def _is_pipeline(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == "mif-pipeline"
    except (OSError, ValueError, AttributeError):
        return False


def nodes(pipeline: Path) -> list[dict[str, Any]]:
    """The pipeline file's nodes (each with ``type`` and ``config``).

    Args:
        pipeline: a pipeline file.
    """
    return json.loads(pipeline.read_text(encoding="utf-8"))["nodes"]


def _values(config: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` in a node config, however deeply nested (transform steps are lists)."""
    if isinstance(config, dict):
        for name, value in config.items():
            if name == key:
                yield value
            yield from _values(value, key)
    elif isinstance(config, list):
        for value in config:
            yield from _values(value, key)


def _first(pipeline_nodes: list[dict[str, Any]], key: str, default: str = "-") -> str:
    for node in pipeline_nodes:
        for value in _values(_params(node), key):
            return str(value)
    return default


def _params(node: dict[str, Any]) -> dict[str, Any]:
    """A node's parameter values (``params`` in a version-2 pipeline file, ``config`` before)."""
    return node.get("params", node.get("config", {}))


def _type_of(node: dict[str, Any]) -> str:
    return str(node.get("type") or node.get("type_id") or "")


def plan_rows(train: Path, infer: Path) -> dict[str, str]:
    """The planned pipelines' choices as printable rows (the same rows as nnU-Net's), read from the node configs.

    Args:
        train: the train pipeline.
        infer: the inference pipeline.
    """
    found = nodes(train)
    types = [_type_of(n) for n in found]
    clip = [_first(found, k) for k in ("clip_min", "clip_max", "mean", "std")]
    if clip[0] != "-":
        norm = f"clip {float(clip[0]):.0f}..{float(clip[1]):.0f}, mean {float(clip[2]):.1f}, std {float(clip[3]):.1f}"
    else:
        norm = next((t for t in types if "ormal" in t or "ZScore" in t), "-")
    channels = _first(found, "channels")
    strides = _first(found, "strides")
    fingerprint = train.parent / "fingerprint.json"
    median = json.loads(fingerprint.read_text(encoding="utf-8")).get("median_shape", "-") \
        if fingerprint.exists() else "-"
    loss = next((n for n in found if _type_of(n).startswith("losses.")), None)
    return {
        "median shape (voxels)": str(median),
        "target spacing (mm)": _first(found, "pixdim"),
        "patch size": _first(found, "spatial_size", _first(found, "roi_size")),
        "batch size": _first(found, "batch_size"),
        "stages / depth": f"{len(json.loads(channels)) if channels.startswith('[') else '?'} levels, "
                          f"strides {strides} (every axis)",
        "features": channels,
        "normalisation": norm,
        "loss": f"{_type_of(loss)} ({_params(loss).get('mode', '')})" if loss else "-",
        "epochs": _first(found, "num_epochs"),
        "inference": f"window {_first(nodes(infer), 'roi_size')}, {_first(nodes(infer), 'blend_mode')}, "
                     f"overlap {_first(nodes(infer), 'overlap')}, flips {_first(nodes(infer), 'tta_flips')}",
    }


def kfold(train: Path) -> dict[str, int] | None:
    """The train pipeline's K-fold split node's ``folds``, ``fold`` and ``seed``, or None without one.

    Args:
        train: the train pipeline.
    """
    for node in nodes(train):
        if _type_of(node).endswith("KFoldSplit"):
            config = _params(node)
            return {"folds": int(config["folds"]), "fold": int(config["fold"]), "seed": int(config["seed"])}
    return None


def predictions_folder(infer: Path, cwd: Path) -> Path:
    """Where the inference pipeline's SavePredictions node writes (relative paths from the run's folder).

    Args:
        infer: the inference pipeline.
        cwd: the current folder of the run.
    """
    for node in nodes(infer):
        if _type_of(node).endswith("SavePredictions"):
            return cwd / _params(node).get("output_dir", "predictions")
    raise SystemExit(f"{infer}: no io.SavePredictions node: nothing to score")


def run(pipeline: Path, cwd: Path, log: Path) -> tuple[float, float]:
    """``mif run PIPELINE`` in ``cwd``, its output in ``log``; returns its (wall-clock, CPU) seconds.

    Args:
        pipeline: the pipeline file.
        cwd: the current folder of the run.
        log: file for the run's output.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), children_cpu_s()
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run([*MIF, "run", str(pipeline)], cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-15:])
        raise SystemExit(f"`mif run {pipeline.name}` failed (exit {code}); the end of {log}:\n{tail}")
    return time.perf_counter() - start, children_cpu_s() - cpu
