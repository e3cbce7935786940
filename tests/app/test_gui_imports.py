"""Issue 12: `launch` imports NodeGraphQt without importing setuptools, and leaves setuptools' shim in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORT = """
import sys
shim = sys.modules.get("_distutils_hack")
finder = getattr(shim, "DISTUTILS_FINDER", None)
before = finder is not None and finder in sys.meta_path
from medical_imaging_framework.app.qt.imports import import_node_graph
import_node_graph()
import NodeGraphQt
print(before, finder is not None and finder in sys.meta_path, "setuptools" in sys.modules, NodeGraphQt.__name__)
"""


def test_node_graph_is_imported_without_setuptools_and_the_shim_is_put_back() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", IMPORT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    shim_before, shim_after, setuptools_loaded, name = done.stdout.split()
    assert name == "NodeGraphQt"
    if shim_before != "True" or sys.version_info >= (3, 12):
        pytest.skip("no setuptools distutils shim to set aside here (or no distutils in the standard library)")
    assert shim_after == "True", "the shim is back in place for everyone else"
    assert setuptools_loaded == "False", "NodeGraphQt's distutils import loaded setuptools"
