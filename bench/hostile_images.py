"""Hostile image files through `load_image`: outcome, time and peak memory of each, for docs/reliability.md.

Usage: ``python bench/hostile_images.py [--address-space GIB] [--source DIR]`` (a minute or two on 2 cores).
Writes every file of the hostile-image test (`tests/nodes/test_hostile_images.py`, built with
``tests/support/hostile_images.py``) into a temporary folder and reads each with `load_image` in its own process,
after that process has imported torch, MONAI and every reader's library (nibabel, pydicom, Pillow, ITK), so the
time is the read's alone. Prints a Markdown table: the file, its size, what the read ended in, its seconds, and
the process's peak resident memory (VmHWM) before and after the read. ``--address-space`` runs each child under
that ``RLIMIT_AS`` (0, the default: none); ``--source`` reads with another checkout's
``medical_imaging_framework`` (e.g. ``git archive main medical_imaging_framework | tar -x -C /tmp/base``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

READ = """
import json, re, resource, sys, time
from pathlib import Path
limit = int(float(sys.argv[2]) * (1 << 30))
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, sys.argv[3])
from medical_imaging_framework.nodes.io.image_loading import load_image
import itk, nibabel, pydicom, PIL.Image
itk.ImageIOFactory.CreateImageIO("warm.nrrd", itk.CommonEnums.IOFileMode_ReadMode)  # ITK loads modules lazily
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) // 1024
before = peak()
started = time.perf_counter()
try:
    image = load_image(Path(sys.argv[1]))
    outcome = f"read {tuple(image.shape)}"
except BaseException as error:
    outcome = f"{type(error).__name__}: {error}"
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started, "before": before, "peak": peak()}))
"""


def build(folder: Path) -> list[Path]:
    """Write each hostile file of the test into ``folder``."""
    from tests.nodes.test_hostile_images import HOSTILE

    return [writer(folder / name) for name, (writer, _) in HOSTILE.items()]


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address-space", type=float, default=0.0, help="RLIMIT_AS of each reading child, GiB")
    parser.add_argument("--source", default=str(ROOT), help="folder holding the medical_imaging_framework to test")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("| File | Size | Outcome | Seconds | Peak RSS before → after the read |")
        print("|---|---|---|---|---|")
        for path in build(Path(folder)):
            done = subprocess.run(
                [sys.executable, "-c", READ, str(path), str(options.address_space), options.source],
                capture_output=True, text=True, cwd=ROOT,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if not lines:
                print(f"| {path.name} | | died ({done.returncode}): {done.stderr.strip()[-200:]} | | |")
                continue
            result = json.loads(lines[-1])
            outcome = result["outcome"].replace(str(path.parent) + "/", "")
            shown = outcome if len(outcome) <= 220 else outcome[:217] + "..."
            print(f"| {path.name} | {path.stat().st_size / 1e3:,.1f} KB | `{shown}` | {result['seconds']:.2f} | "
                  f"{result['before']:,} → {result['peak']:,} MiB |")


if __name__ == "__main__":
    main()
