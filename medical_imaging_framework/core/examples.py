"""The example pipelines shipped inside the package, and the one function that finds one by name.

`load_pipeline`, ``mif run``/``mif validate``/``mif gui`` and the editor all resolve names through
`resolve_pipeline`, so a bare name means the same thing everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_PIPELINES = Path(__file__).resolve().parent.parent / "resources" / "pipelines"


def resolve_pipeline(name: str | os.PathLike[str]) -> Path:
    """``name`` when it exists, else the bundled example of that name (with or without ``.json``).

    Args:
        name: a path, or a bare name such as ``segmentation_train.json`` or ``segmentation_train``.
    """
    path = Path(name)
    try:
        if path.exists() or path.parent != Path("."):
            return path
        for candidate in (BUNDLED_PIPELINES / path.name, BUNDLED_PIPELINES / f"{path.name}.json"):
            if candidate.is_file():
                return candidate
    except (OSError, ValueError):  # a name too long for the file system, or holding a NUL byte
        return path
    return path


resolve_pipeline_path = resolve_pipeline  # the name the CLI and the editor have used
