"""`mif run` over a spoilt on-disk transform cache: does code run, does the run end, what does it say?

For each spoiling, in a fresh folder: write the tests' tiny pipeline with *Normalize Intensity* -> *Apply
Transforms* (``cache_dir=cache``) between the split and the loaders (8 phantoms of 16 px, 1 epoch), ``mif run``
it once to fill the cache, spoil every entry, ``mif run`` it again, and print the exit code, whether the
pickled code ran (it would create ``MARK``), the cache warning lines and the run's last word.

Spoilings: ``code`` (``torch.save({"image": Evil()})``, whose ``__reduce__`` runs ``touch MARK``), ``cut_100``
(first 100 bytes), ``empty`` (0 bytes), ``random`` (4 KiB of random bytes).

    python bench/hostile_cache.py                          this checkout
    python bench/hostile_cache.py --code /tmp/old          another checkout (e.g. `git archive` of an older commit)
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Evil:
    """Pickled code: unpickling it runs ``touch MARK``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


def write_pipeline(path: Path, cache: Path) -> None:
    """The tiny default pipeline with a disk-cached Apply between the split and the loaders."""
    from medical_imaging_framework.core import NodeRegistry
    from medical_imaging_framework.core.pipeline_file import save_pipeline
    from tests.support.pipelines import make_tiny_graph

    registry = NodeRegistry()
    graph = make_tiny_graph(registry, "", num_epochs=1)
    graph.nodes["phantoms"].config.update(count=8, size=16)
    graph.add_node(registry.create("transforms.NormalizeIntensity", "normalize"))
    graph.add_node(registry.create("transforms.Apply", "apply", cache_dir=str(cache)))
    graph.links = [link for link in graph.links if link.source != "split"]
    graph.connect("normalize", "transform", "apply", "transform")
    for port in ("train", "val"):
        graph.connect("split", port, "apply", port)
        graph.connect("apply", port, f"{port}_loader", "dataset")
    save_pipeline(graph, path)


def spoil(entry: Path, how: str, marker: Path) -> None:
    import torch

    if how == "code":
        torch.save({"image": Evil(marker)}, entry)
    else:
        entry.write_bytes({"cut_100": entry.read_bytes()[:100], "empty": b"",
                           "random": random.Random(1).randbytes(4096)}[how])


def mif_run(code: Path, folder: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "XDG_CONFIG_HOME": str(folder / "config")}
    done = subprocess.run([sys.executable, "-m", "medical_imaging_framework", "run", "p.json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose `mif run` is measured")
    args = parser.parse_args()
    print("| Spoiling | Exit | Code ran | Cache warnings | Last line |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mif_hostile_cache_") as root:
        for how in ("code", "cut_100", "empty", "random"):
            folder = Path(root) / how
            folder.mkdir()
            write_pipeline(folder / "p.json", folder / "cache")
            mif_run(args.code.resolve(), folder)
            for entry in sorted((folder / "cache").glob("chain-*/*.pt")):
                spoil(entry, how, folder / "MARK")
            code, output = mif_run(args.code.resolve(), folder)
            lines = [line for line in output.splitlines() if line.strip()]
            last = next((line for line in lines if "✗" in line or "Training complete" in line), "")
            warnings = sum("warning: cache" in line for line in lines)
            print(f"| {how} | {code} | {'yes' if (folder / 'MARK').exists() else 'no'} | {warnings} | "
                  f"`{last.strip()[:150]}` |")


if __name__ == "__main__":
    main()
