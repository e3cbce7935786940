"""`mif run --nproc 2` killed (SIGKILL) or hung up (SIGHUP, a closed terminal): torchrun and both ranks stop too,
and the checkpoint folder stops changing; torchrun killed: its ranks stop (issue 18, point 11). Before, torchrun
ran in a session of its own and trained on, orphaned, writing checkpoints; ranks of a killed torchrun trained on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.run.process_tree import ORPHAN_GRACE_ENV, descendants
from tests.support.pipelines import make_tiny_graph

pytestmark = pytest.mark.slow
START_TIMEOUT = 240  # torch imported by three processes on a loaded 2-core machine
STOP_TIMEOUT = 90  # a graceful stop is a batch away; torchrun kills ranks that ignore SIGTERM after 30 s
# An orphaned rank (torchrun killed) whose graceful stop hangs ends itself after this grace period (30 s unless
# set, `process_tree.orphan_grace_s`): the test sees it end without waiting the 30 s.
ORPHAN_GRACE_S = "3"


def _started(pid: int) -> str | None:
    """The start time of ``pid`` (tells it from a later process given the same pid); None once gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _alive(tree: dict[int, str]) -> list[int]:
    return [pid for pid, started in tree.items() if _started(pid) == started]


def _folder_state(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns) for entry in folder.iterdir())


@pytest.mark.parametrize(("victim", "signum"), [("launcher", signal.SIGKILL), ("launcher", signal.SIGHUP),
                                               ("torchrun", signal.SIGKILL)],
                         ids=["launcher-SIGKILL", "launcher-SIGHUP", "torchrun-SIGKILL"])
def test_the_ranks_stop_when_their_launcher_dies(registry: NodeRegistry, tmp_path: Path, victim: str,
                                                 signum: int) -> None:
    graph = make_tiny_graph(registry, "ck", save_every_n_epochs=1, num_epochs=1000)
    save_pipeline(graph, tmp_path / "pipeline.json")
    command = [sys.executable, "-m", "medical_imaging_framework", "run", "pipeline.json", "--nproc", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", ORPHAN_GRACE_ENV: ORPHAN_GRACE_S}
    launch = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    lines: list[str] = []
    saved = threading.Event()

    def read() -> None:  # read to the end, so no process of the tree ever waits on a full pipe
        assert launch.stdout is not None
        for line in launch.stdout:
            lines.append(line)
            if "Saved checkpoint: checkpoint_epoch_1.pt" in line:
                saved.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    tree: dict[int, str] = {}
    try:
        assert saved.wait(START_TIMEOUT), "".join(lines)[-3000:]
        tree = {pid: started for pid in descendants(launch.pid) if (started := _started(pid)) is not None}
        assert len(tree) >= 3, f"torchrun and two ranks expected, found {tree}"  # torchrun, rank 0, rank 1
        torchrun = next(pid for pid in descendants(launch.pid) if _parent(pid) == launch.pid)
        os.kill(launch.pid if victim == "launcher" else torchrun, signum)
        killed = time.monotonic()
        launch.wait(timeout=60)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(tree) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _alive(tree) == [], f"still running {STOP_TIMEOUT} s after the launcher died: {_alive(tree)}"
        print(f"{victim} {signal.Signals(signum).name}: every process gone after {time.monotonic() - killed:.1f} s")
        before = _folder_state(tmp_path / "ck")
        time.sleep(3)
        assert _folder_state(tmp_path / "ck") == before
        reader.join(timeout=30)  # every writer of the pipe is gone: it ends
        assert not reader.is_alive()
    finally:
        for pid in _alive(tree):
            os.kill(pid, signal.SIGKILL)
        if launch.poll() is None:
            launch.kill()
