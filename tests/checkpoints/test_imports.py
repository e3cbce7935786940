"""The modules of the ``checkpoints`` package import each other one way (no cycle, even through lazy imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import medical_imaging_framework.checkpoints as checkpoints

PACKAGE = "medical_imaging_framework.checkpoints"


def package_imports() -> dict[str, set[str]]:
    """Each checkpoints module's imports of the others, top-level and inside functions alike."""
    folder = Path(checkpoints.__file__).parent
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
    graph = package_imports()
    assert "inspect" not in graph["files"], "inspect imports files, not the reverse"
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
    assert {"files", "inspect", "state", "schema", "policy"} <= set(graph)
