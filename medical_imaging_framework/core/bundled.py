"""The example pipelines shipped inside the package, and how a name on the command line finds one."""

from __future__ import annotations

from pathlib import Path

BUNDLED_PIPELINES = Path(__file__).resolve().parent.parent / "resources" / "pipelines"


def resolve_pipeline_path(name: str) -> Path:
    """``name`` if it exists, else the bundled example of that name (with or without ``.json``).

    Args:
        name: a file path, or the bare name of a bundled example (``segmentation_train``).
    """
    path = Path(name)
    if path.exists():
        return path
    for candidate in (BUNDLED_PIPELINES / path.name, BUNDLED_PIPELINES / f"{path.name}.json"):
        if candidate.exists() and path.parent == Path("."):
            return candidate
    return path
