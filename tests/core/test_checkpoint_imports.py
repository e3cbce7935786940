"""Checkpoint modules of ``core`` import each other one way: none imports, even lazily, one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import medical_imaging_framework.core as core

PACKAGE = "medical_imaging_framework.core"


def core_imports() -> dict[str, set[str]]:
    """Each core module's imports of other core modules, top-level and inside functions alike."""
    folder = Path(core.__file__).parent
    graph: dict[str, set[str]] = {}
    for file in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found |= {name.removeprefix(f"{PACKAGE}.") for name in names if name.startswith(f"{PACKAGE}.")}
        graph[file.stem] = found - {file.stem}
    return graph


def test_checkpoint_modules_have_no_import_cycle() -> None:
    graph = {module: {name for name in imports if name.startswith("checkpoint")}
             for module, imports in core_imports().items() if module.startswith("checkpoint")}
    assert "checkpoint_inspect" not in graph["checkpoints"], "checkpoint_inspect imports checkpoints, not the reverse"
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == "open":
            raise AssertionError("import cycle among the checkpoint modules: " + " -> ".join([*path, module]))
        if state.get(module) == "done":
            return
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert {"checkpoints", "checkpoint_inspect", "checkpoint_state", "checkpoint_schema"} <= set(graph)
