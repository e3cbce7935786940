"""`mif run` reuses a finished training from an earlier process; `--no-cache` runs every node again."""

from __future__ import annotations

from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.session import RunSession
from tests.support.pipelines import make_tiny_graph
from tests.support.tiny import set_arguments


def _mif_run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[list[str], str]:
    """``mif run segmentation_train.json`` (the tiniest settings, checkpoints in ``ck``); stdout lines, stderr."""
    assert main(["run", "segmentation_train.json", *set_arguments("ck"), *extra]) == 0
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err


def test_a_second_mif_run_reuses_the_training_and_no_cache_trains_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out, _ = _mif_run(capsys)
    assert sum(line.startswith("Epoch [") for line in out) == 2
    out, err = _mif_run(capsys)  # each `main` call has a new cache: only .mif/cache carries over, as between processes
    assert not any(line.startswith("Epoch [") for line in out)
    assert any(line.startswith("reused: trainer (run ") and line.endswith(", epoch 2)") for line in out)
    assert "already holds" not in err  # a reused Trainer writes nothing: no fresh-run warning
    out, err = _mif_run(capsys, "--no-cache")
    assert sum(line.startswith("Epoch [") for line in out) == 2
    assert not any(line.startswith("reused: ") for line in out)
    assert "already holds" in err


def test_a_child_run_is_told_no_cache_when_the_editor_reuses_nothing(registry: NodeRegistry, tmp_path: Path) -> None:
    from medical_imaging_framework.run.cache import ResultCache

    graph = make_tiny_graph(registry)
    assert "--no-cache" in RunSession(graph, registry, separate_process=True).child_arguments("p.json")
    with_cache = RunSession(graph, registry, separate_process=True, cache=ResultCache(tmp_path))
    assert "--no-cache" not in with_cache.child_arguments("p.json")
