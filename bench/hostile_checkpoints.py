"""Hostile checkpoints through `mif inspect`: exit code, message and peak memory of each, for docs/reliability.md.

Usage: ``python bench/hostile_checkpoints.py`` (about a minute on 2 cores). Builds every hostile file of
``tests/support/hostile_files.py`` in a temporary folder, runs ``mif inspect FILE`` on each in its own process and
prints a Markdown table: the kind, the file size, the exit code, the first line of the message, and the
process's peak resident memory (its own VmHWM, Linux) next to that of inspecting the intact file it was made
from. The files are built in a separate process, so that this one stays small.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSPECT = """
import re, sys
from pathlib import Path
from medical_imaging_framework.cli.main import main
try:
    code = main(["inspect", sys.argv[1]])
finally:
    peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]
    print(f"peak_kib={peak}", file=sys.stderr)
sys.exit(code)
"""


def build(folder: Path) -> None:
    """Write good.pt and one file per hostile kind into ``folder`` (run in a child process)."""
    from medical_imaging_framework.core import NodeRegistry
    from tests.support.hostile_files import hostile_writers, write_good_checkpoint

    write_good_checkpoint(NodeRegistry(), folder / "good.pt")
    for kind, write in hostile_writers(folder / "good.pt", folder / "marker.txt").items():
        write(folder / f"{kind}.pt")
        print(kind)


def inspect(path: Path) -> tuple[int, str, float]:
    """Exit code, first message line (stderr, else the last stdout line) and peak RSS in MiB of `mif inspect`."""
    done = subprocess.run([sys.executable, "-c", INSPECT, str(path)], capture_output=True, text=True, cwd=ROOT)
    err = done.stderr.splitlines()
    peak = float(re.fullmatch(r"peak_kib=(\d+)", err.pop())[1]) / 1024
    lines = err or done.stdout.splitlines()[-1:]
    message = lines[0].replace(str(path.parent) + "/", "") if lines else ""
    return done.returncode, message, peak


def main() -> None:
    """Print the table."""
    if sys.argv[1:2] == ["--build"]:
        build(Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        built = subprocess.run([sys.executable, __file__, "--build", folder], capture_output=True, text=True,
                               check=True, cwd=ROOT)
        rows = [("intact (reference)", root / "good.pt")]
        rows += [(kind, root / f"{kind}.pt") for kind in built.stdout.split()]
        print("| File | Size | Exit | Message (first line) | Peak RSS |")
        print("|---|---|---|---|---|")
        for kind, path in rows:
            code, message, peak = inspect(path)
            shown = message if len(message) <= 150 else message[:147] + "..."
            print(f"| {kind} | {path.stat().st_size / 1e6:.2f} MB | {code} | `{shown}` | {peak:.0f} MiB |")
        print(f"\ncode ran: {(root / 'marker.txt').exists()}")


if __name__ == "__main__":
    main()
