"""What the README's commands write in the repository folder is git-ignored, and the package's own
`checkpoints/` sub-package is not (the entries are anchored to the top folder)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_outputs() -> set[str]:
    """Files and folders the README's commands write: -o FILE, make-demo-data DIR, checkpoint_dir=DIR, report DIR."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    patterns = (r" -o (\S+)", r"make-demo-data (\S+)", r"checkpoint_dir=(\S+)", r"mif report (\S+)")
    found = {match for pattern in patterns for match in re.findall(pattern, text)}
    return {name.rstrip("/") for name in found} | {"checkpoints", "runs", ".mif"}  # .mif: the runs' index


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_readme_outputs_are_ignored_and_the_checkpoints_package_is_not(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    outputs = _readme_outputs()
    assert {"checkpoints_decathlon", "demo_data", "model.onnx"} <= outputs
    sidecars = {f"{name}.json" for name in outputs if name.endswith((".onnx", ".ts"))}  # docs/deploy.md's files

    def ignored(path: str) -> bool:
        check = subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "--no-index", "-q", path], check=False)
        return check.returncode == 0

    # a folder that does not exist here is known to git by what lies in it
    not_ignored = [name for name in sorted(outputs | sidecars) if not (ignored(name) or ignored(f"{name}/notes.txt"))]
    assert not_ignored == []
    assert not ignored("medical_imaging_framework/checkpoints/files.py")
