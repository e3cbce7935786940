"""Without the `gui` extra (no PySide6, NodeGraphQt or pyqtgraph) the headless commands work and `mif gui`
says in one line what to install (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]
INSTALL_LINE = "pip install 'medical_imaging_framework[gui]'"

# Runs `mif` as if the GUI packages were not installed: an import of any of them raises ImportError.
WITHOUT_QT = """
import sys
for name in ("PySide6", "NodeGraphQt", "pyqtgraph"):
    sys.modules[name] = None
from medical_imaging_framework.cli.main import main
codes = [main(arguments) for arguments in {commands!r}]
print("codes", *codes)
"""


def _without_qt(commands: list[list[str]], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_QT.format(commands=commands)], cwd=cwd, capture_output=True,
                          text=True, timeout=240, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("package", ["PySide6", "NodeGraphQt", "pyqtgraph"])
def test_gui_without_a_gui_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], package: str) -> None:
    monkeypatch.setitem(sys.modules, package, None)
    assert main(["gui"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and INSTALL_LINE in err and package in err, err


def test_headless_commands_need_no_qt_and_gui_exits_2(registry: NodeRegistry, tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, "", num_epochs=1), path)
    done = _without_qt([["nodes"], ["validate", str(path)], ["run", str(path)], ["gui"]], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "codes 0 0 0 2", done.stdout[-2000:] + done.stderr
    assert "Epoch [1/1], Loss: " in done.stdout
    assert done.stderr.strip().splitlines() == [
        f"error: mif gui needs PySide6, which is not installed: {INSTALL_LINE}"], done.stderr
