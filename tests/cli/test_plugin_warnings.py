"""A node plugin that fails to load is reported once on stderr, and the built-in nodes still work (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.cli.commands import PLUGIN_WARNINGS_SHOWN, warn_plugin_errors
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]
WARNING = ("warning: node plugin 'acme' (acme_broken_nodes:register) failed to load: "
           "ModuleNotFoundError: No module named 'acme_missing_dependency'")


@pytest.fixture
def broken_plugin_path(tmp_path: Path) -> Path:
    """A folder holding an installed distribution whose node entry point imports a module that is missing."""
    site = tmp_path / "site"
    info = site / "acme_nodes-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-nodes\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[medical_imaging_framework.nodes]\nacme = acme_broken_nodes:register\n")
    module = "import acme_missing_dependency\n\n\ndef register(registry):\n    pass\n"
    (site / "acme_broken_nodes.py").write_text(module)
    return site


def _mif(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    env.pop("MIF_PLUGIN_WARNINGS_SHOWN", None)
    return subprocess.run([sys.executable, "-m", "medical_imaging_framework", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def test_nodes_warns_once_and_lists_the_builtin_nodes(broken_plugin_path: Path, tmp_path: Path) -> None:
    done = _mif(broken_plugin_path, "nodes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines().count(WARNING) == 1, done.stderr
    assert "training.Trainer" in done.stdout


def test_validate_warns_once_and_the_pipeline_is_valid(broken_plugin_path: Path, tmp_path: Path) -> None:
    done = _mif(broken_plugin_path, "validate", "segmentation_train.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines().count(WARNING) == 1, done.stderr
    assert ": OK (" in done.stdout


def test_run_warns_once_and_trains(broken_plugin_path: Path, tmp_path: Path, registry: NodeRegistry) -> None:
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, "", num_epochs=1), path)
    done = _mif(broken_plugin_path, "run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines().count(WARNING) == 1, done.stderr
    assert "Epoch [1/1], Loss: " in done.stdout
    assert "Traceback" not in done.stderr


def test_processes_a_command_starts_do_not_repeat_its_warning(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    registry = NodeRegistry(discover=False)
    registry.plugin_errors.append("node plugin 'acme' (acme:register) failed to load: ImportError: no acme")
    monkeypatch.setenv(PLUGIN_WARNINGS_SHOWN, str(os.getpid()))  # as this process had printed; undone after the test
    warn_plugin_errors(registry)
    warn_plugin_errors(registry)  # the same command (process) again: e.g. `main` called twice in one test
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: node plugin 'acme' (acme:register) failed to load: ImportError: no acme"] * 2
    monkeypatch.setenv(PLUGIN_WARNINGS_SHOWN, str(os.getpid() + 1))  # a torchrun rank of `mif run --nproc`
    warn_plugin_errors(registry)
    assert capsys.readouterr().err == ""
