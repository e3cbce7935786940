"""Validating and ordering big pipelines, and drawing one on the editor's canvas.

Generates pipelines of about 100, 1,000 and 5,000 nodes (copies of the bundled 8-node training pipeline,
each copy wired like the original) and times loading from JSON data, ``validate()`` and
``topological_order()``; prints ms per node and the growth of the per-node cost against the smallest
pipeline measured in the same run (about 1.0 = linear). Then loads a 500-node pipeline into the editor's
canvas offscreen (target under 2 s).

    QT_QPA_PLATFORM=offscreen python bench/executor_scale.py [--sizes 100,1000,5000] [--canvas 500]
    python bench/executor_scale.py --quick    (100 and 1,000 nodes, canvas 200)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import timeit
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medical_imaging_framework.core import NodeRegistry  # noqa: E402
from medical_imaging_framework.core.pipeline_file import graph_from_dict  # noqa: E402

TEMPLATE = ROOT / "medical_imaging_framework" / "resources" / "pipelines" / "segmentation_train.json"


def generate(node_count: int) -> dict[str, Any]:
    """Pipeline data with copies of the template until at least ``node_count`` nodes."""
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    data = {key: value for key, value in template.items() if key not in ("nodes", "links")}
    data["nodes"], data["links"] = [], []
    copies = 0
    while len(data["nodes"]) < node_count:
        prefix = f"c{copies}_"
        for node in template["nodes"]:
            entry = copy.deepcopy(node)
            entry["id"] = prefix + node["id"]
            x, y = node.get("position", [0, 0])
            entry["position"] = [x + 1200 * (copies % 20), y + 700 * (copies // 20)]
            data["nodes"].append(entry)
        for link in template["links"]:
            data["links"].append({"from": prefix + link["from"], "to": prefix + link["to"]})
        copies += 1
    return data


def best_of(count: int, action: Any) -> float:
    """Seconds per call of ``action``: the best of 3 batches of calls (about 20,000 nodes' worth each), so
    that small and big pipelines are timed over the same amount of work (less noise on a busy machine)."""
    number = max(1, 20_000 // count)
    return min(timeit.repeat(action, number=number, repeat=3)) / number


def core_scale(sizes: list[int], registry: NodeRegistry) -> None:
    print(f"{'nodes':>6} {'links':>6} {'load ms/node':>13} {'validate ms/node':>17} {'order ms/node':>14}")
    baseline: float | None = None
    for size in sizes:
        data = generate(size)
        graph = graph_from_dict(data, registry)
        problems = graph.validate()
        if problems:
            raise SystemExit(f"generated pipeline is invalid: {problems[0]}")
        count = len(graph.nodes)
        load = best_of(count, lambda data=data: graph_from_dict(data, registry)) / count * 1e3
        check = best_of(count, graph.validate) / count * 1e3
        order = best_of(count, graph.topological_order) / count * 1e3
        total = load + check + order
        baseline = baseline or total
        print(f"{count:6d} {len(graph.links):6d} {load:13.4f} {check:17.4f} {order:14.4f}   "
              f"per-node cost x{total / baseline:.2f} of the smallest", flush=True)
    print("target: about linear (per-node cost roughly constant)")


def canvas_load(node_count: int, registry: NodeRegistry, repeats: int = 3) -> None:
    """Draw a ``node_count``-node pipeline into a fresh editor window ``repeats`` times (the machine is
    shared and noisy): the first load (what a user waits for) and the best one."""
    from PySide6.QtWidgets import QApplication

    from medical_imaging_framework.app.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    data = generate(node_count)
    times, drawn, links = [], 0, 0
    for _ in range(repeats):
        window = MainWindow(registry=registry)
        graph = graph_from_dict(data, registry)
        started = time.perf_counter()
        window.show_graph(graph, None)
        app.processEvents()
        times.append(time.perf_counter() - started)
        drawn, links = len(window.node_graph.all_nodes()), len(graph.links)
        window.close()
        window.deleteLater()
        app.processEvents()
    print(f"canvas: {drawn} nodes, {links} links drawn offscreen in {times[0]:.2f} s "
          f"(best of {repeats}: {min(times):.2f} s; {min(times) / drawn * 1e3:.2f} ms per node) (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--canvas", type=int, default=500, help="nodes to draw on the canvas (0: skip)")
    parser.add_argument("--canvas-repeats", type=int, default=3, help="canvas loads, each in a fresh window")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 nodes; canvas 200")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [int(value) for value in args.sizes.split(",")]
    registry = NodeRegistry()
    core_scale(sizes, registry)
    canvas = 200 if args.quick else args.canvas
    if canvas:
        canvas_load(canvas, registry, max(1, args.canvas_repeats))


if __name__ == "__main__":
    main()
