"""Load and validate a pipeline file in a child process under a memory cap and a time cap.

A hostile file that makes loading or validation quadratic shows as a child that runs out of memory
(``MemoryError`` under ``RLIMIT_AS``) or past the time cap; the caps are generous, so a pass says
"finished", never "fast".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_CHILD = """
import resource, sys
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from medical_imaging_framework.core import NodeRegistry, PipelineFileError, load_pipeline
try:
    graph = load_pipeline(sys.argv[1], NodeRegistry())
except PipelineFileError as error:
    print("refused:", error)
else:
    print("nodes:", len(graph.nodes))
    for problem in graph.validate():
        print("problem:", problem)
"""

REPO = Path(__file__).resolve().parents[2]


def load_and_validate_bounded(path: Path, memory_bytes: int, timeout_s: float) -> list[str]:
    """The lines a child prints after loading (and, if it loads, validating) ``path``.

    Args:
        path: the pipeline file.
        memory_bytes: the child's address-space limit (``RLIMIT_AS``).
        timeout_s: the child is killed after this many seconds.

    Raises:
        AssertionError: the child did not finish in time, or failed (e.g. ``MemoryError``).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(memory_bytes)],
            capture_output=True, text=True, timeout=timeout_s, env=env, cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"loading/validating {path.name} did not finish within {timeout_s:.0f} s") from None
    assert done.returncode == 0, f"the child failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
    return done.stdout.splitlines()
