"""`mif run PIPELINE | head -1`: the reader of stdout leaves, training goes on to the end, nothing more is
printed to stdout, and no BrokenPipeError reaches the user; the exit code is the run's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]


def test_training_goes_on_when_the_reader_of_stdout_is_gone(tmp_path: Path) -> None:
    pipeline = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(NodeRegistry(), tmp_path / "ck", num_epochs=2), pipeline)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write to stdout meets a closed pipe
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "medical_imaging_framework", "run", str(pipeline)],
            stdout=write_end, stderr=subprocess.PIPE, text=True, env=env, timeout=300, check=False,
        )
    finally:
        os.close(write_end)
    assert "BrokenPipe" not in child.stderr and "Traceback" not in child.stderr, child.stderr
    assert child.returncode == 0, child.stderr
    assert (tmp_path / "ck" / "final_model.pt").is_file()  # both epochs trained and saved
