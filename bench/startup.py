"""How fast the editor opens: time to the first painted frame of ``mif gui`` (default pipeline, offscreen),
against a bare PySide6 window painted in the same way (Qt's own floor, measured in the same run), and
the time of ``mif --help`` (and whether it imports torch). Each figure is the median of fresh processes.

Targets (issue 23): first paint under 1.5 s and ``mif --help`` under 0.2 s (no torch import) on a 2-core
machine at a load average of about 4: ``--busy 2`` keeps two `while True` processes spinning meanwhile, and the
load average seen is printed.

    QT_QPA_PLATFORM=offscreen python bench/startup.py [--repeats 3] [--busy 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from busy import add_busy_option, busy_processes, load_average

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh process: open the window (through the CLI, or a bare QMainWindow), print the seconds from
# process start to the first paint event, and whether torch was imported by then.
CHILD = r"""
import os, sys, time
started = float(os.environ["MIF_BENCH_T0"])
sys.path.insert(0, os.environ["MIF_BENCH_ROOT"])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

app = QApplication(sys.argv[:1])

class FirstPaint(QObject):
    done = False
    def eventFilter(self, watched, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            print(f"{time.time() - started:.4f} {'torch' in sys.modules} {time.process_time():.4f}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False

probe = FirstPaint()
app.installEventFilter(probe)
if sys.argv[1] == "bare":
    window = QMainWindow()
    window.resize(1500, 950)
    window.show()
    app.exec()
else:
    from medical_imaging_framework.cli.main import main
    main(["gui"])
"""


def child_environment() -> dict[str, str]:
    """This environment with Python's bytecode cache on, as a normal install runs.

    With ``PYTHONDONTWRITEBYTECODE`` set (as on the shared development machine) no ``.pyc`` is ever written
    and every start compiles mif's ~120 modules again (about 0.3 s of CPU before the first paint); the
    warm-up round of `report` writes them.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def first_paint(kind: str) -> tuple[float, bool, float]:
    """Seconds from spawning a process to its first painted frame, whether torch was loaded by then, and the
    CPU seconds the process had used by then (less sensitive to the machine's load than the wall time)."""
    env = {**child_environment(), "QT_QPA_PLATFORM": "offscreen", "MIF_BENCH_T0": repr(time.time()),
           "MIF_BENCH_ROOT": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{kind}: no paint ({done.returncode}): {done.stderr.strip()[-600:]}")
    seconds, torch_loaded, cpu = lines[0].split()
    return float(seconds), torch_loaded == "True", float(cpu)


def help_time() -> tuple[float, bool]:
    """Seconds for ``mif --help`` in a fresh process, and whether it imported torch."""
    code = ("import sys, contextlib, io; sys.argv = ['mif', '--help']\n"
            "from medical_imaging_framework.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False,
                          env=child_environment(),
                          timeout=120)
    seconds = time.perf_counter() - started
    return seconds, done.stdout.strip().endswith("True")


def python_floor() -> float:
    """Seconds for a bare ``python -c pass`` (the interpreter's own start)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=child_environment())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_busy_option(parser)
    args = parser.parse_args()
    with busy_processes(args.busy):
        if args.busy:
            time.sleep(3)  # the load average follows the spinners with a lag; give them a head start
        report(args.repeats, args.busy)


def report(repeats: int, busy: int) -> None:
    """Measure ``repeats`` alternating rounds and print the medians and the load average seen.

    Args:
        repeats: rounds of (gui, bare window, --help, python floor).
        busy: the number of spinning processes (printed).
    """
    first_paint("gui")  # warm-up, not counted: writes the bytecode cache (see `child_environment`)
    help_time()
    loads = [load_average()]
    gui, bare, helps, floors, cpus = [], [], [], [], []
    torch_at_paint = torch_in_help = False
    for _ in range(repeats):  # alternating, so all share the machine's conditions
        seconds, loaded, cpu = first_paint("gui")
        gui.append(seconds)
        cpus.append(cpu)
        torch_at_paint |= loaded
        bare.append(first_paint("bare")[0])
        seconds, loaded = help_time()
        helps.append(seconds)
        torch_in_help |= loaded
        floors.append(python_floor())
        loads.append(load_average())
    print(f"cores: {os.cpu_count()}, busy processes: {busy}, load average (1 min) seen: {', '.join(loads)}")
    gui_median, bare_median = statistics.median(gui), statistics.median(bare)
    help_median, floor_median = statistics.median(helps), statistics.median(floors)
    print(f"mif gui first paint:  median {gui_median:.2f} s (target < 1.5 s), {statistics.median(cpus):.2f} s of CPU; "
          f"torch imported before the paint: {'yes' if torch_at_paint else 'no'}")
    print(f"bare Qt window paint: median {bare_median:.2f} s; ratio mif gui / bare window: "
          f"{gui_median / bare_median:.2f}")
    print(f"mif --help:           median {help_median:.3f} s (target < 0.2 s; python itself {floor_median:.3f} s); "
          f"imports torch: {'yes' if torch_in_help else 'no'}")


if __name__ == "__main__":
    main()
