"""``metrics.csv`` and the run report are written through the one atomic writer (issue 17), so neither is
ever seen half-written, and a failed write leaves the old file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from medical_imaging_framework.core import atomic_file
from medical_imaging_framework.tools import report
from medical_imaging_framework.tools.report import write_report
from medical_imaging_framework.training import metrics_log
from medical_imaging_framework.training.loop import EpochResult, TrainingState
from medical_imaging_framework.training.metrics_log import MetricsLog, read_metrics


def spy_on_atomic_writes(monkeypatch: pytest.MonkeyPatch, *modules: Any) -> list[str]:
    """The file names each module writes through `write_atomically`, in order."""
    written: list[str] = []

    def spy(path: Any, content: Any, encoding: str = "utf-8") -> int:
        written.append(Path(path).name)
        return atomic_file.write_atomically(path, content, encoding)

    for module in modules:
        monkeypatch.setattr(module, "write_atomically", spy)
    return written


def log_epochs(folder: Path, epochs: int) -> MetricsLog:
    model = nn.Linear(1, 1)
    state = TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    log = MetricsLog(folder)
    log.on_train_start(state)
    for epoch in range(1, epochs + 1):
        state.epoch = epoch
        log.on_epoch_end(state, EpochResult(epoch, epochs, 1.0 / epoch, None, 0.0))
    return log


def test_metrics_csv_and_the_report_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = spy_on_atomic_writes(monkeypatch, metrics_log, report)
    log_epochs(tmp_path, 2)
    assert written == ["metrics.csv"], "the header (a new file) goes through the atomic writer; rows are appended"
    assert [row["epoch"] for row in read_metrics(tmp_path / "metrics.csv")] == [1.0, 2.0]
    log_epochs(tmp_path, 1)  # a fresh run in the same folder starts the file anew
    assert written == ["metrics.csv", "metrics.csv"]
    assert [row["epoch"] for row in read_metrics(tmp_path / "metrics.csv")] == [1.0]
    path = write_report(tmp_path)
    assert written[-1] == "report.html" and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(tmp_path)) == ["metrics.csv", "report.html"], "no temp file left"


def test_a_failed_report_write_keeps_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log_epochs(tmp_path, 2)
    (tmp_path / "report.html").write_text("old report")

    def no_space(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_report(tmp_path)
    assert (tmp_path / "report.html").read_text() == "old report"
    assert sorted(os.listdir(tmp_path)) == ["metrics.csv", "report.html"]
