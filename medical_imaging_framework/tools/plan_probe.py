"""The planner's measurements: memory and time of one real training step (MONAI UNet, DiceCE, Adam).

They run in a child process (``python -m medical_imaging_framework.tools.plan_probe``, one JSON request per line
on stdin, one JSON answer per line on stdout), for two reasons: a patch too large for the machine is killed there,
not in the editor or `mif plan`; and the memory a step takes is measured from a clean start. On CUDA the probe
reads ``torch.cuda.max_memory_allocated``; on CPU the growth of the process' peak resident memory (Linux ``VmHWM``,
reset before each step through ``/proc/self/clear_refs``, and freed memory handed back with ``malloc_trim``).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medical_imaging_framework.tools.planning import MIN_BATCH, Plan, PlanError, channels_for, make_plan

# A median of several steps after untimed ones: the first steps pay for allocations and kernel choices, and one
# step slowed by another process on a loaded machine moves a median less than a mean (2 steps once planned 4.85 s
# a step where training ran under 2.2 s)
WARMUP_STEPS = 2
TIMED_STEPS = 5


class Probe:
    """A running probe process; use as a context manager.

    Args:
        device: ``cpu``, ``cuda`` or "" (cuda when the child's PyTorch sees one).
        in_channels: image channels.
        out_channels: model outputs.
        threads: torch intra-op threads in the child (0: training's rule, `training.threads.policy_threads`).
    """

    def __init__(self, device: str, in_channels: int, out_channels: int, threads: int = 0) -> None:
        self.args = {"in_channels": in_channels, "out_channels": out_channels}
        # stderr into a file, not a pipe: the child's warnings can never fill a pipe nobody reads and block it
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - open as long as the child; close() ends it
        self.process = subprocess.Popen([sys.executable, "-m", "medical_imaging_framework.tools.plan_probe"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True)
        try:
            info = self._ask({"info": True, "device": device, "threads": threads})
        except PlanError:
            self.close()  # `with` was not entered yet: the child ends here
            raise
        self.device: str = info["device"]
        self.available: int = int(info["available"])

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the child (it ends by itself when its stdin closes)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.close()

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.process.kill()
            self.process.wait()
            self.errors.seek(0)
            error = [line for line in self.errors.read().strip().splitlines() if line.strip()]
            patch = request.get("patch")
            what = f"measuring a training step at patch {patch}" if patch else "starting"
            raise PlanError(f"the memory probe died {what} (out of memory?): "
                            f"{error[-1] if error else 'no message'}; lower --memory-gb")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            where = f" at patch {request['patch']}" if "patch" in request else ""
            raise PlanError(f"the memory probe failed{where}: {answer['error']}")
        return answer

    def memory(self, patch: list[int], depth: int) -> int:
        """Bytes one training step takes at ``patch`` (batch `MIN_BATCH`)."""
        return int(self._ask({**self.args, "patch": patch, "depth": depth, "steps": 0})["bytes"])

    def seconds(self, patch: list[int], depth: int) -> float:
        """Seconds of one training step at ``patch``: the median of `TIMED_STEPS` after `WARMUP_STEPS` untimed."""
        return float(self._ask({**self.args, "patch": patch, "depth": depth, "steps": TIMED_STEPS,
                                "warmup": WARMUP_STEPS})["seconds"])

    def case_seconds(self, shape: list[int], depth: int) -> float:
        """Seconds of the validation forward pass of one whole case of ``shape`` (batch 1, no gradients): the
        median of `TIMED_STEPS` after one untimed."""
        return float(self._ask({**self.args, "patch": shape, "depth": depth, "steps": TIMED_STEPS, "warmup": 1,
                                "forward_only": True})["seconds"])


def plan_with_probe(fingerprint: dict[str, Any], memory_gb: float = 0.0, device: str = "", minutes: float = 60.0,
                    threads: int = 0) -> Plan:
    """`planning.make_plan` with real measurements from a `Probe`.

    Args:
        fingerprint: a 3D fingerprint.
        memory_gb: the memory one training step may take; 0: half of what the device has free now.
        device: ``cpu``, ``cuda`` or "" (cuda when available).
        minutes: the training time budget.
        threads: torch threads in the probe (0: the count training uses, `training.threads.policy_threads`).

    Raises:
        PlanError: see `planning.make_plan`, or the probe failed.
    """
    if memory_gb < 0 or minutes <= 0:
        raise PlanError(f"--memory-gb must be 0 (automatic) or more and --time-budget more than 0 minutes, got "
                        f"{memory_gb:g} and {minutes:g}")
    if fingerprint.get("spatial_dims") != 3 or not fingerprint.get("read_count"):
        return make_plan(fingerprint, lambda p, d: 0, 0, lambda p, d: 0.0, minutes, device or "cpu")  # its error
    classes = [int(c) for c in fingerprint.get("classes", [0, 1])]
    out = max(len(fingerprint.get("class_names") or []), max(classes) + 1)
    with Probe(device, int(fingerprint.get("channels", 1)), 1 if out <= 2 else out, threads) as probe:
        budget = int(memory_gb * 2**30) if memory_gb else probe.available // 2
        return make_plan(fingerprint, probe.memory, budget, probe.seconds, minutes, probe.device, probe.case_seconds)


def _available(device: str) -> int:
    import torch

    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def _resident(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _release_cpu_memory() -> None:
    """Give freed heap memory back to the system, so the next step's growth is its own (glibc only)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _step(request: dict[str, Any], device: str) -> dict[str, Any]:
    import torch
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    depth, patch = int(request["depth"]), [int(v) for v in request["patch"]]
    out = int(request["out_channels"])
    cuda = device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
    else:
        _release_cpu_memory()
        with contextlib.suppress(OSError):  # without it (not Linux) the peak is the process' own
            Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
        start = _resident("VmRSS")
    model = UNet(3, int(request["in_channels"]), out, channels=channels_for(depth), strides=[2] * depth,
                 num_res_units=2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_function = DiceCELoss(sigmoid=out == 1, softmax=out > 1, to_onehot_y=out > 1)
    forward_only = bool(request.get("forward_only"))
    batch = 1 if forward_only else MIN_BATCH
    image = torch.randn(batch, int(request["in_channels"]), *patch, device=device)
    label = torch.randint(0, max(2, out), (batch, 1, *patch), device=device).float()
    steps, warmup = int(request.get("steps", 0)), int(request.get("warmup", 1))
    times = []
    model.train(not forward_only)
    for index in range(warmup + steps):
        began = time.perf_counter()
        if forward_only:
            with torch.no_grad():
                loss = loss_function(model(image), label)
        else:
            optimizer.zero_grad()
            loss = loss_function(model(image), label)
            loss.backward()
            optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        if index >= warmup:
            times.append(time.perf_counter() - began)
    used = (torch.cuda.max_memory_allocated() - start) if cuda else max(0, _resident("VmHWM") - start)
    del model, optimizer, image, label, loss
    return {"bytes": int(used), "seconds": statistics.median(times) if times else 0.0}


def main() -> None:
    """The child: answer each request line until stdin closes."""
    import torch

    from medical_imaging_framework.training.threads import policy_threads, usable_cores

    device = "cpu"
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request.get("info"):
                asked = request.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
                if asked == "cuda" and not torch.cuda.is_available():
                    answer: dict[str, Any] = {"error": "--device cuda: PyTorch sees no CUDA device"}
                else:
                    device = asked
                    # the threads a training run uses (one core left over): on a busy 2-core machine torch's default
                    # of 2 threads made a step 2-3x slower than the run's 1 thread, and the plan's epochs too few
                    torch.set_num_threads(int(request.get("threads") or policy_threads(usable_cores())))
                    # one first step at the smallest patch: what torch and MONAI set up once (thread pools, kernels)
                    # is not counted in the first measured patch
                    _step({"patch": [8, 8, 8], "depth": 1, "in_channels": 1, "out_channels": 2}, device)
                    answer = {"device": device, "available": _available(device)}
            else:
                answer = _step(request, device)
        except Exception as error:  # reported to the parent as one line naming the patch
            answer = {"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
    # The probe holds no file or state worth a teardown, and the interpreter's own, with torch and MONAI (and the
    # mlflow and scipy it imports) loaded, took 2-3 s that `mif plan` and the editor waited for in `Probe.close`.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
