"""Real X mouse and key events (Xvfb + xdotool): paste at the mouse, a link dragged into empty space, a
right-click on a node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry
from tests.app.test_x11_keys import start_xvfb
from tests.support.gui import write_tiny_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_paste_at_the_mouse_and_a_link_dropped_in_space_under_x(registry: NodeRegistry, tmp_path: Path) -> None:
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("needs Xvfb and xdotool (apt-get install xvfb xdotool) for real X mouse and key events")
    pipeline = write_tiny_pipeline(registry, tmp_path)
    server, display = start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
               "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the script's QSettings stay in tmp_path
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
        done = subprocess.run([sys.executable, "-m", "tests.support.x11_canvas_script", str(pipeline)], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=90)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: first paste at the mouse" in done.stdout
    assert "ok: the chosen node is linked" in done.stdout
    assert "ok: a right-click on the trainer opens its node menu" in done.stdout
