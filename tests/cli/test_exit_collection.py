"""`mif` commands skip Python's last garbage collection at exit (`cli.main._no_final_collection`): with torch and
MONAI loaded it took 1.5-3 s after the last line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit", gc.get_freeze_count() > 0, flush=True))  # runs after mif's own
from medical_imaging_framework.cli.main import main
code = main(["validate", sys.argv[1]])
print("frozen before exit", gc.get_freeze_count() > 0, flush=True)
sys.exit(code)
"""


def test_a_command_freezes_the_heap_only_as_the_process_exits(registry: NodeRegistry, tmp_path: Path) -> None:
    save_pipeline(make_tiny_graph(registry, "ck"), tmp_path / "p.json")
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "p.json")], cwd=tmp_path, text=True,
                           capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.splitlines()[-2:] == ["frozen before exit False", "frozen at exit True"], child.stdout
