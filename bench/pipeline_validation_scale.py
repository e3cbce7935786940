"""Loading and validating large hostile pipeline files: seconds and peak memory, for docs/reliability.md.

Usage: ``python bench/pipeline_validation_scale.py [ROOT]``. ROOT is a tree holding the
``medical_imaging_framework`` package to measure (default: this one; e.g. an older version unpacked with
``git archive``, for the figures before a fix). Each case runs in its own process, capped at 4 GiB of
address space and 300 s, and prints one Markdown row: the case, the file size, the seconds to load and to
validate, the process's peak resident memory (VmHWM, Linux) and the outcome.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.support.large_pipelines import escaped_quotes_text, transform_chain_text  # noqa: E402

MEMORY_CAP = 4 << 30
TIME_CAP = 300
CHILD = """
import re, resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from medical_imaging_framework.core import NodeRegistry, PipelineFileError, load_pipeline
registry = NodeRegistry()
registry.load_plugins()
start = time.perf_counter()
try:
    graph = load_pipeline(sys.argv[1], registry)
except PipelineFileError as error:
    outcome, loaded, checked = "refused: " + str(error).split(": ", 1)[1][:60], time.perf_counter(), None
else:
    loaded = time.perf_counter()
    outcome = f"{len(graph.validate())} problem(s)"
    checked = time.perf_counter()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]) // 1024
validate = "-" if checked is None else f"{checked - loaded:.2f}"
print(f"{loaded - start:.2f} | {validate} | {peak} | {outcome}")
"""

CASES = [
    ("escaped quotes, 80 KiB", lambda: escaped_quotes_text(80)),
    ("escaped quotes, 160 KiB", lambda: escaped_quotes_text(160)),
    ("chain of 20,000 transforms", lambda: transform_chain_text(20_000)),
    ("chain of 40,000 transforms", lambda: transform_chain_text(40_000)),
    ("chain of 2,000 shared by 2,000 Apply nodes", lambda: transform_chain_text(2_000, applies=2_000)),
    ("chain of 4,000 shared by 4,000 Apply nodes", lambda: transform_chain_text(4_000, applies=4_000)),
]


def main(root: Path) -> None:
    """Print one table row per case, measured on the package under ``root``.

    Args:
        root: the folder holding ``medical_imaging_framework``.
    """
    print("| case | file | load (s) | validate (s) | peak (MiB) | outcome |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, build in CASES:
            path = Path(folder) / "case.json"
            path.write_text(build())
            size = f"{path.stat().st_size / 1e6:.2f} MB"
            try:
                done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(MEMORY_CAP)], cwd=root,
                                      env={"PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=TIME_CAP)
            except subprocess.TimeoutExpired:
                print(f"| {name} | {size} | > {TIME_CAP} s, stopped | | | |")
                continue
            if done.returncode:
                error = re.findall(r"^(\w+Error)", done.stderr, flags=re.M)
                print(f"| {name} | {size} | failed: {error[-1] if error else done.returncode} "
                      f"(cap {MEMORY_CAP >> 30} GiB) | | | |")
            else:
                print(f"| {name} | {size} | {done.stdout.strip()} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE)
