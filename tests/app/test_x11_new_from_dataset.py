"""File ▸ New from Dataset… as a user drives it under a real X server (Xvfb + xdotool): keys open it, the dataset
is typed, clicks plan and re-plan, the planned pipeline opens with its notes clear of the nodes, and F5 trains it.
See `tests/support/x11_dataset_script.py`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry
from tests.app.test_x11_keys import ROOT, start_xvfb
from tests.support.gui import write_tiny_pipeline
from tests.support.plan_data import write_dataset

SHAPES = [(24, 20, 8), (20, 24, 8), (24, 24, 6), (28, 20, 8)]


def test_new_from_dataset_driven_with_real_keys_and_clicks_plans_opens_and_runs(registry: NodeRegistry,
                                                                                tmp_path: Path) -> None:
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("needs Xvfb and xdotool (apt-get install xvfb xdotool) for real X events")
    dataset = write_dataset(tmp_path / "ds", SHAPES, label_spacing={1: (0.8, 0.8, 3.0)})
    pipeline = write_tiny_pipeline(registry, tmp_path)
    server, display = start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
        done = subprocess.run([sys.executable, "-m", "tests.support.x11_dataset_script", str(dataset), str(pipeline)],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in done.stdout and done.stdout.count("ok: ") == 9, done.stdout
    assert (dataset.parent / "mif_plan" / "checkpoints" / "best_model.pt").is_file()
