"""Soak: 300 epochs of the tiniest pipeline saving every epoch with keep_last_n 3, in this process. The folder
never holds more than 5 files; memory, threads and open file descriptors do not grow (read from /proc/self)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import EpochEnded, Event
from tests.support.tiny import run_events, tiniest_graph

EPOCHS = 300
FIRST_SAMPLE = 50
RSS_GROWTH_LIMIT = 50 * 1024 * 1024

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self (Linux)")]


def sample() -> dict[str, int]:
    """Resident memory (bytes), threads and open file descriptors of this process."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss": int(fields["VmRSS"].split()[0]) * 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir("/proc/self/fd")),
    }


def test_300_epochs_keep_files_memory_threads_and_fds_flat(registry: NodeRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    samples: dict[int, dict[str, int]] = {}
    most_files = 0

    def watch(event: Event) -> None:
        nonlocal most_files
        if isinstance(event, EpochEnded):  # the folder as the previous epoch's saves left it
            most_files = max(most_files, len(list(folder.glob("*.pt"))))
            if event.epoch in (FIRST_SAMPLE, EPOCHS):
                samples[event.epoch] = sample()

    graph = tiniest_graph(registry, folder, num_epochs=EPOCHS, keep_last_n=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 153-parameter model: a second intra-op thread only waits (and spins)
    try:
        result, _ = run_events(graph, watch)
    finally:
        torch.set_num_threads(threads)
    assert result.status == "done", result.error
    files = sorted(path.name for path in folder.glob("*.pt"))  # metrics.csv grows by a line an epoch
    assert files == ["best_model.pt", "checkpoint_epoch_298.pt", "checkpoint_epoch_299.pt",
                     "checkpoint_epoch_300.pt", "final_model.pt"]
    assert most_files <= 5
    assert load_checkpoint(folder / "final_model.pt")["epoch"] == EPOCHS
    first, last = samples[FIRST_SAMPLE], samples[EPOCHS]
    print(f"soak: epoch {FIRST_SAMPLE} {first}, epoch {EPOCHS} {last}, most files {most_files}")
    assert last["rss"] - first["rss"] < RSS_GROWTH_LIMIT
    assert last["threads"] <= first["threads"]
    assert last["fds"] <= first["fds"]
