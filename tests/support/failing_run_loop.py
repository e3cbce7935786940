"""Run a failing `mif run` many times and count how each one ended (issue 18, point 9: an abort at exit).

The bundled ``nifti_folder_train.json`` on a few 2D NIfTI images fails in its transforms (its ``roi_size`` has
3 values), correctly, with exit 1. Before the fix a run could instead end with ``terminate called without an
active exception`` and exit 134 after the error line. Usage (from the repository root)::

    python -m tests.support.failing_run_loop --runs 30 --size 16

prints one line per run and a tally; exits 0 when every run exited 1 and none aborted.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def write_images(folder: Path, count: int, size: int) -> None:
    """``count`` random 2D images of ``size`` x ``size`` and their masks, as NIfTI, in ``folder``/im and /lb.

    Args:
        folder: where the ``im`` and ``lb`` folders go.
        count: image/label pairs.
        size: edge length in pixels.
    """
    rng = np.random.default_rng(0)
    for sub in ("im", "lb"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = rng.random((size, size)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), folder / "im" / f"case{index}.nii")
        nib.save(nib.Nifti1Image((image > 0.5).astype(np.uint8), np.eye(4)), folder / "lb" / f"case{index}.nii")


def run_once(folder: Path) -> tuple[int, bool]:
    """One failing run in ``folder``; returns its exit code and whether it printed the abort line.

    Args:
        folder: holds ``im`` and ``lb``.
    """
    command = [sys.executable, "-m", "medical_imaging_framework", "run", "nifti_folder_train.json",
               "--set", "image_folder.images_dir=im", "--set", "image_folder.labels_dir=lb"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, "terminate called" in done.stderr


def main() -> int:
    """Parse the arguments, run, print the tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--images", type=int, default=4, help="image/label pairs (default 4)")
    parser.add_argument("--size", type=int, default=16, help="edge length in pixels (default 16)")
    args = parser.parse_args()
    tally: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory() as folder:
        write_images(Path(folder), args.images, args.size)
        for index in range(1, args.runs + 1):
            code, aborted = run_once(Path(folder))
            outcome = f"exit {code}" + (" + abort line" if aborted else "")
            tally[outcome] += 1
            print(f"run {index}: {outcome}", flush=True)
    print(f"{args.runs} runs, {args.images} images of {args.size}x{args.size}: "
          + ", ".join(f"{outcome}: {count}" for outcome, count in sorted(tally.items())))
    return 0 if tally == collections.Counter({"exit 1": args.runs}) else 1


if __name__ == "__main__":
    sys.exit(main())
