"""bench/gpu_check.py expects of a checkpoint folder what a Trainer really leaves there (its checkpoints and
metrics.csv), so `bench/gpu_check.py --cpu` can pass."""

from __future__ import annotations

import os
from pathlib import Path

from bench.gpu_speed import folder_files
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from tests.support.pipelines import make_tiny_graph


def test_the_benchs_expected_folder_is_what_a_run_writes(tmp_path: Path) -> None:
    graph = make_tiny_graph(NodeRegistry(), tmp_path / "ck", num_epochs=2, save_every_n_epochs=1)
    assert Executor(graph).run().status == "done"
    written = ["best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "final_model.pt"]
    assert sorted(os.listdir(tmp_path / "ck")) == folder_files(written)
