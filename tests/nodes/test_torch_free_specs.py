"""Issue 12: the node library is described without torch or MONAI, so the editor opens before they load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lists, creates and validates everything the palette, the canvas and `mif validate` need, in a fresh process.
DESCRIBE = """
import sys
from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.core.examples import resolve_pipeline_path

registry = NodeRegistry()
specs = registry.specs()
nodes = [registry.create(spec.type_id) for spec in specs]
graph = load_pipeline(resolve_pipeline_path("segmentation_train.json"), registry)
problems = graph.validate()
print(len(specs), len(nodes), len(graph.nodes), len(problems), registry.plugin_errors)
print(" ".join(sorted(name for name in ("torch", "monai") if name in sys.modules)) or "none")
"""


def test_specs_create_and_the_default_pipeline_load_and_validate_without_torch_or_monai() -> None:
    done = subprocess.run([sys.executable, "-c", DESCRIBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    counts, heavy = done.stdout.strip().splitlines()
    specs, created, nodes, problems, plugin_errors = counts.split(" ", 4)
    assert int(specs) == int(created) > 30 and int(nodes) > 5
    assert problems == "0" and plugin_errors == "[]", done.stdout
    assert heavy == "none", f"describing the node library imported {heavy}"
