"""Real X key events (Xvfb + xdotool): F5 right after closing the Trainer's dialog with Return starts the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry
from tests.app.conftest import write_tiny_pipeline

SCRIPT = Path(__file__).with_name("x11_keys_script.py")
ROOT = Path(__file__).resolve().parents[2]


def test_f5_after_closing_the_trainer_dialog_with_return_under_x(registry: NodeRegistry, tmp_path: Path) -> None:
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("needs Xvfb and xdotool (apt-get install xvfb xdotool) for real X key events")
    pipeline = write_tiny_pipeline(registry, tmp_path)
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten",
                               "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        display = os.read(read_end, 32).decode().strip()
        os.close(read_end)
        if not display:
            pytest.skip("Xvfb did not start")
        env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb",
               "XDG_CONFIG_HOME": str(tmp_path / "config")}  # the script's QSettings stay in tmp_path
        done = subprocess.run([sys.executable, str(SCRIPT), str(pipeline)], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=90)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run started by F5 after the dialog closed: 1" in done.stdout
