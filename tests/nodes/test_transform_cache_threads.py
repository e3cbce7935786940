"""A failing transform chain leaves no thread behind, and the run that hit it exits 1, never 134 (issue 18, point 9).

MONAI's CacheDataset fills its cache in a thread pool whose worker went on transforming the next item after a
failure; still inside a torch op when Python exited, it was ended under pybind11 and aborted the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import MapTransform

from medical_imaging_framework.nodes.transforms.pipeline import TransformedDataset
from medical_imaging_framework.run.control import NodeError

ROOT = Path(__file__).resolve().parents[2]


class Step(MapTransform):
    """A deterministic step that records its thread, fails on item1 and holds item2 until ``release`` is set."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__(("image",))
        self.release = release
        self.threads: list[threading.Thread] = []

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        self.threads.append(threading.current_thread())
        if data["name"] == "item1":
            raise ValueError("bad item")
        if data["name"] == "item2":
            self.release.wait(10)
        return data


def test_a_failing_item_leaves_no_cache_thread_running() -> None:
    items = [{"image": torch.zeros(1, 4, 4), "label": torch.zeros(1, 4, 4), "name": f"item{index}"}
             for index in range(4)]
    release = threading.Event()
    step = Step(release)
    before = set(threading.enumerate())
    try:
        with pytest.raises(NodeError, match="transforms failed on item 'item1': ValueError: bad item"):
            TransformedDataset(items, (step,), training=True, cache=True)
        left = [thread for thread in threading.enumerate() if thread not in before]
        assert step.threads == [threading.current_thread()] * 2  # item0, item1; item2 never started
        assert left == []
    finally:
        release.set()


def _write_2d_nifti(folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for sub in ("im", "lb"):
        (folder / sub).mkdir()
    for index in range(count):
        image = rng.random((size, size)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), folder / "im" / f"case{index}.nii")
        nib.save(nib.Nifti1Image((image > 0.5).astype(np.uint8), np.eye(4)), folder / "lb" / f"case{index}.nii")


@pytest.mark.slow
def test_a_run_failing_in_its_transforms_exits_1_without_aborting(tmp_path: Path) -> None:
    # 512 px: the cache worker of the old code was inside torch.mean at exit in 8 runs of 8 (16 px: 0 of 30), with
    # torch's default threads (OMP_NUM_THREADS=1 shortens the op: 0 of 1)
    _write_2d_nifti(tmp_path, 6, 512)
    command = [sys.executable, "-m", "medical_imaging_framework", "run", "nifti_folder_train.json",
               "--set", "image_folder.images_dir=im", "--set", "image_folder.labels_dir=lb"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "terminate called" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 1, done.stderr[-2000:]
    assert "✗ Node 'transforms' failed: transforms failed on item" in done.stderr
    assert "roi_size has 3 values" in done.stderr
