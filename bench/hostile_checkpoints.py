"""Hostile checkpoints through `mif inspect`: exit code, message and peak memory of each, for docs/reliability.md.

Usage: ``python bench/hostile_checkpoints.py`` (about a minute on 2 cores). Builds every hostile file of
``tests/hostile_files.py`` in a temporary folder, runs ``mif inspect FILE`` on each in its own process and
prints a Markdown table: the kind, the file size, the exit code, the first line of the message, and the
process's peak resident memory next to that of inspecting the intact file it was made from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medical_imaging_framework.core import NodeRegistry  # noqa: E402
from tests.hostile_files import hostile_writers, write_good_checkpoint  # noqa: E402

INSPECT = "import sys; from medical_imaging_framework.cli import main; sys.exit(main(['inspect', sys.argv[1]]))"


def inspect(path: Path) -> tuple[int, str, float]:
    """Exit code, first message line (stderr, else the last stdout line) and peak RSS in MiB of `mif inspect`."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-c", INSPECT, str(path)], stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = err.read().splitlines() or out.read().splitlines()[-1:]
    message = lines[0].replace(str(path.parent) + "/", "") if lines else ""
    return process.returncode, message, usage.ru_maxrss / 1024


def main() -> None:
    """Print the table."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_good_checkpoint(NodeRegistry(), root / "good.pt")
        rows = [("intact (reference)", root / "good.pt")]
        for kind, write in hostile_writers(root / "good.pt", root / "marker.txt").items():
            write(root / f"{kind}.pt")
            rows.append((kind, root / f"{kind}.pt"))
        print("| File | Size | Exit | Message (first line) | Peak RSS |")
        print("|---|---|---|---|---|")
        for kind, path in rows:
            code, message, peak = inspect(path)
            shown = message if len(message) <= 150 else message[:147] + "..."
            print(f"| {kind} | {path.stat().st_size / 1e6:.2f} MB | {code} | `{shown}` | {peak:.0f} MiB |")
        print(f"\ncode ran: {(root / 'marker.txt').exists()}")


if __name__ == "__main__":
    main()
