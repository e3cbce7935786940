"""``mif run`` of the default pipeline against a hand-written PyTorch + MONAI loop (`bench/peer_train.py`):
the same model, data, seed and checkpoint scheme, each a whole process timed from start to exit.

mif runs with its defaults (the Trainer's ``num_threads: auto`` measures the thread count); the peer with
torch's default thread count, as a plain script gets. Two conditions: quiet, and with one core kept busy by
a ``while True`` process this bench starts (and ends). Within a condition the runs alternate (A/B, then B/A)
so both share the machine's conditions; the figure is the median of the per-pair ratios mif/peer wall
time. Target: <= 0.9 in both conditions. The load average at each run's start is printed: on a shared
machine the "quiet" condition is only as quiet as the others let it be.

    python bench/peer_loop.py                 3 epochs, 3 pairs per condition
    python bench/peer_loop.py --quick         2 epochs, 3 pairs (for `make bench`; 3, so the median is one pair)
    python bench/peer_loop.py --conditions busy --pairs 4
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

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "medical_imaging_framework" / "resources" / "pipelines" / "segmentation_train.json"
SPINNER = "while True: pass"
TARGET = 0.9


def run_process(command: list[str], cwd: Path) -> tuple[float, str]:
    """Seconds from start to exit of ``command`` and its output; a failed run stops the bench."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def mif_command(epochs: int, save_every: int, folder: Path) -> list[str]:
    return [sys.executable, "-m", "medical_imaging_framework", "run", str(PIPELINE),
            "--set", f"trainer.num_epochs={epochs}", "--set", f"trainer.save_every_n_epochs={save_every}",
            "--set", f"trainer.checkpoint_dir={folder}"]


def peer_command(epochs: int, save_every: int, folder: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "peer_train.py"), "--epochs", str(epochs),
            "--save-every", str(save_every), "--out", str(folder)]


def measure(condition: str, pairs: int, epochs: int, save_every: int, work: Path) -> float:
    """Median mif/peer wall-time ratio over ``pairs`` alternating pairs, printing each run."""
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER]) if condition == "busy" else None
    ratios: list[float] = []
    try:
        time.sleep(1.0 if spinner else 0.0)  # let the busy process take its core
        for pair in range(pairs):
            times: dict[str, float] = {}
            for side in (("mif", "peer") if pair % 2 == 0 else ("peer", "mif")):
                folder = work / f"{condition}-{pair}-{side}"
                command = (mif_command if side == "mif" else peer_command)(epochs, save_every, folder)
                load = os.getloadavg()[0]
                times[side], output = run_process(command, work)
                choice = next((line for line in output.splitlines() if "torch thread" in line), "")
                print(f"  {condition} pair {pair + 1} {side:4s}: {times[side]:6.1f} s  (load {load:.1f})"
                      + (f"  {choice}" if choice else ""), flush=True)
            ratios.append(times["mif"] / times["peer"])
            print(f"  {condition} pair {pair + 1} mif/peer: {ratios[-1]:.2f}", flush=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each run (default 3)")
    parser.add_argument("--save-every", type=int, default=2, help="periodic checkpoint every N epochs (default 2)")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per condition (default 3)")
    parser.add_argument("--conditions", default="quiet,busy", help="quiet, busy or both (default quiet,busy)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 3 pairs per condition")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.pairs = 2, 3
    conditions = [name.strip() for name in args.conditions.split(",") if name.strip()]
    if not set(conditions) <= {"quiet", "busy"}:
        parser.error(f"--conditions: quiet and/or busy, got {args.conditions!r}")
    print(f"mif run (num_threads auto) vs hand-written loop (torch's {os.cpu_count()}-core default threads): "
          f"{args.epochs} epochs, checkpoint every {args.save_every}, {args.pairs} A/B pairs")
    results = {}
    with tempfile.TemporaryDirectory(prefix="mif-peer-") as folder:
        for condition in conditions:
            results[condition] = measure(condition, args.pairs, args.epochs, args.save_every, Path(folder))
    for condition, ratio in results.items():
        verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
        print(f"{condition}: mif/peer wall median {ratio:.2f} (target <= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
