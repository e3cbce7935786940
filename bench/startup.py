"""How fast the editor opens: time to the first painted frame of ``mif gui`` (default pipeline, offscreen),
against a bare PySide6 window painted in the same way (Qt's own floor, measured in the same run), and
the time of ``mif --help`` (and whether it imports torch). Each figure is the median of fresh processes.
The first paint is the window's frame (menus, toolbar, docks); the canvas with the pipeline is built right after
it, and the time to the canvas's own first paint is printed too. After its first paint each ``mif gui`` stays
open for `STALL_WINDOW_S` while a 10 ms GUI-thread timer measures the longest the window did not answer (the
canvas and the plot panels are built, and torch is imported in the background, then).

Targets (issue 23): first paint under 1.5 s and ``mif --help`` under 0.2 s (no torch import) on a 2-core
machine at a load average of about 4: ``--busy 2`` keeps two `while True` processes spinning meanwhile, and the
load average seen is printed.

    QT_QPA_PLATFORM=offscreen python bench/startup.py [--repeats 3] [--busy 2] [--wait-load 4]

``--wait-load L`` waits (at most 4 minutes) until the 1-minute load average has risen to L before measuring: the
load average follows the spinners with a lag of about a minute.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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
from PySide6.QtWidgets import QApplication, QGraphicsView, QMainWindow

app = QApplication(sys.argv[:1])

STALL_WINDOW_S = float(os.environ["MIF_BENCH_STALL_WINDOW"])

class FirstPaint(QObject):
    done = False
    worst = 0.0
    canvas_at = 0.0
    def eventFilter(self, watched, event):
        if (self.done and not self.canvas_at and event.type() == QEvent.Type.Paint
                and isinstance(watched.parent(), QGraphicsView)):
            self.canvas_at = time.time() - started  # the node canvas's first paint
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            print(f"{time.time() - started:.4f} {'torch' in sys.modules} {time.process_time():.4f}", flush=True)
            if not STALL_WINDOW_S:
                QTimer.singleShot(0, app.quit)
                return False
            self.last = time.perf_counter()
            self.ticks = QTimer()
            self.ticks.timeout.connect(self.tick)
            self.ticks.start(10)
            QTimer.singleShot(int(STALL_WINDOW_S * 1000), self.report)
        return False
    def tick(self):
        now = time.perf_counter()
        self.worst, self.last = max(self.worst, now - self.last), now
    def report(self):
        print(f"{self.worst:.4f} {self.canvas_at:.4f}", flush=True)
        os._exit(0)  # not waiting for the background import of torch to end

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


# The editor's settings and recovery folders for the children: a fresh user's (no crash copy of an earlier editor
# to offer in a dialog, no remembered layout), the same in every round.
CHILD_HOME = tempfile.mkdtemp(prefix="mif-startup-bench-")


def child_environment() -> dict[str, str]:
    """This environment with Python's bytecode cache on, as a normal install runs, and a fresh user's settings and
    data folders (`CHILD_HOME`).

    With ``PYTHONDONTWRITEBYTECODE`` set (as on the shared development machine) no ``.pyc`` is ever written
    and every start compiles mif's ~120 modules again (about 0.3 s of CPU before the first paint); the
    warm-up round of `report` writes them.
    """
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    environment.update(XDG_CONFIG_HOME=os.path.join(CHILD_HOME, "config"),
                       XDG_DATA_HOME=os.path.join(CHILD_HOME, "data"))
    return environment


STALL_WINDOW_S = 6.0


def first_paint(kind: str) -> tuple[float, bool, float, float, float]:
    """Seconds from spawning a process to its first painted frame, whether torch was loaded by then, the CPU
    seconds the process had used by then (less sensitive to the machine's load than the wall time), and for
    ``gui`` the longest GUI-thread stall in the `STALL_WINDOW_S` after the paint and the seconds to the node
    canvas's first paint (0 and 0 for the bare window)."""
    window = STALL_WINDOW_S if kind == "gui" else 0.0
    env = {**child_environment(), "QT_QPA_PLATFORM": "offscreen", "MIF_BENCH_T0": repr(time.time()),
           "MIF_BENCH_ROOT": str(ROOT), "MIF_BENCH_STALL_WINDOW": repr(window)}
    done = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{kind}: no paint ({done.returncode}): {done.stderr.strip()[-600:]}")
    seconds, torch_loaded, cpu = lines[0].split()
    stall, canvas = (float(value) for value in lines[1].split()) if window and len(lines) > 1 else (0.0, 0.0)
    return float(seconds), torch_loaded == "True", float(cpu), stall, canvas


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
    parser.add_argument("--wait-load", type=float, default=0.0, metavar="L",
                        help="wait until the 1-minute load average is at least L before measuring (4 min at most)")
    add_busy_option(parser)
    args = parser.parse_args()
    with busy_processes(args.busy):
        if args.busy:
            time.sleep(3)  # the load average follows the spinners with a lag; give them a head start
        wait_for_load(args.wait_load)
        report(args.repeats, args.busy)


def wait_for_load(level: float, limit_s: float = 240.0) -> None:
    """Sleep until the 1-minute load average reaches ``level`` (or ``limit_s`` has passed; then say so).

    Args:
        level: the load average to wait for (0: do not wait).
        limit_s: the longest wait.
    """
    deadline = time.monotonic() + limit_s
    while level and os.getloadavg()[0] < level:
        if time.monotonic() > deadline:
            print(f"load average still {load_average()} after {limit_s:.0f} s (wanted {level}); measuring anyway")
            return
        time.sleep(2)


def report(repeats: int, busy: int) -> None:
    """Measure ``repeats`` alternating rounds and print the medians and the load average seen.

    Args:
        repeats: rounds of (gui, bare window, --help, python floor).
        busy: the number of spinning processes (printed).
    """
    first_paint("gui")  # warm-up, not counted: writes the bytecode cache (see `child_environment`)
    help_time()
    loads = [load_average()]
    gui, bare, helps, floors, cpus, stalls, canvases = [], [], [], [], [], [], []
    torch_at_paint = torch_in_help = False
    for _ in range(repeats):  # alternating, so all share the machine's conditions
        seconds, loaded, cpu, stall, canvas = first_paint("gui")
        gui.append(seconds)
        canvases.append(canvas)
        cpus.append(cpu)
        stalls.append(stall)
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
    print(f"node canvas painted:  median {statistics.median(canvases):.2f} s (the pipeline on the canvas, built right "
          "after the first paint)")
    print(f"after the paint:      longest GUI-thread stall in the next {STALL_WINDOW_S:.0f} s: median "
          f"{statistics.median(stalls) * 1000:.0f} ms, worst {max(stalls) * 1000:.0f} ms (panels built, torch imported "
          "in the background)")
    print(f"bare Qt window paint: median {bare_median:.2f} s; ratio mif gui / bare window: "
          f"{gui_median / bare_median:.2f}")
    print(f"mif --help:           median {help_median:.3f} s (target < 0.2 s; python itself {floor_median:.3f} s); "
          f"imports torch: {'yes' if torch_in_help else 'no'}")


if __name__ == "__main__":
    main()
