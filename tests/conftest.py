"""Shared fixtures. Qt runs offscreen in every test; training fixtures are tiny so tests take seconds."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# no run leaves a run record (run.json, .mif/runs.json) in the folder the tests run in; the tests of the records
# switch them on (MIF_RUN_RECORDS=1) and run in a temporary working folder
os.environ["MIF_RUN_RECORDS"] = "0"
# torch's logging binds StreamHandlers ('torch', 'torch.distributed', whose children torchrun's agent logs to) to
# sys.stderr as it is when torch is first imported. First imported inside a test that captures stderr (capsys),
# they kept that closed capture, and a later test's log line failed ("--- Logging error ---" and a traceback on
# stderr). Imported here, they hold pytest's session-long capture instead.

import pytest
import torch  # noqa: F401  (first imported here: see the comment above)

from medical_imaging_framework.core import Graph, NodeRegistry
from tests.support.pipelines import make_tiny_graph


@pytest.fixture(scope="session")
def registry() -> NodeRegistry:
    """The registry with every built-in node type."""
    return NodeRegistry()


@pytest.fixture
def tiny_graph(registry: NodeRegistry, tmp_path: Path) -> Graph:
    """A tiny default pipeline whose checkpoints go under ``tmp_path / "checkpoints"``."""
    return make_tiny_graph(registry, tmp_path / "checkpoints")


@pytest.fixture(autouse=True)
def isolated_result_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs with reuse on (the editor, ``mif run`` in this process) keep their cache index in a fresh temporary
    folder, never in the working folder the tests run from (`run.cache.CACHE_FOLDER`, absolute here)."""
    from medical_imaging_framework.run import cache

    folder = tmp_path_factory.mktemp("mif-cache")
    monkeypatch.setattr(cache, "CACHE_FOLDER", folder)
    return folder
