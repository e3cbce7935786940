"""How many intra-op threads torch uses while the Trainer and the Predictor compute: one policy for every way
to run. On a CPU both measure their count (`measured_threads`, a `training.thread_tuner.ThreadTuner` fed one
step per batch); on a GPU, where the CPU only feeds the device, the fixed `policy_threads` applies.

The editor thread, ``mif run``, a separate process and each torchrun rank apply the same policy. A measured
count can differ between runs, and with it the last bits of the numbers (the order of a parallel sum
depends on the thread count); the Trainer's fixed ``num_threads`` gives the same numbers everywhere. The
fixed rule on a GPU: the cores this process may use, shared among the ranks on this machine, less one left
for the editor's GUI thread, data loading and the rest of the machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import torch

from medical_imaging_framework.training.thread_tuner import (
    ThreadTuner,
    candidates_reason,
    first_candidate,
    idle_cpu_seconds,
    load_average,
    process_cores,
    thread_candidates,
)


def usable_cores() -> int:
    """The CPUs this process may run on (``sched_getaffinity`` where it exists, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def policy_threads(cores: int, ranks_on_machine: int = 1) -> int:
    """Intra-op threads for one rank: its share of ``cores``, one left over when the share is above one.

    Args:
        cores: the CPUs this process may use.
        ranks_on_machine: processes training on this machine at once (torchrun's ``LOCAL_WORLD_SIZE``).
    """
    share = max(1, cores // max(1, ranks_on_machine))
    return share - 1 if share > 1 else 1


def ranks_on_this_machine() -> int:
    """``LOCAL_WORLD_SIZE`` under torchrun, else 1."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` when the user set it to a whole number >= 1 (an upper bound), else None."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def measured_threads(device: torch.device, fixed: int | None, loader_workers: int,
                     log: Callable[[str], None]) -> ThreadTuner:
    """The thread count of a node that computes batch by batch: fixed, or measured by a `ThreadTuner`.

    Args:
        device: where the node computes (on a GPU the CPU clock cannot time the steps: the fixed policy).
        fixed: a count the user set (the Trainer's ``num_threads``), None to measure.
        loader_workers: the node's DataLoader workers, counted against the same cores.
        log: receives the choice line.
    """
    if fixed is not None:
        return ThreadTuner([fixed], torch.set_num_threads, log, reason=f"num_threads is {fixed}")
    if device.type != "cpu":  # steps are not synchronised with the GPU, so a CPU clock cannot time them
        count = policy_threads(process_cores(), ranks_on_this_machine())
        return ThreadTuner([count], torch.set_num_threads, log, reason=f"training on {device.type}")
    cap, cores, ranks = omp_threads(), process_cores(), ranks_on_this_machine()
    candidates = thread_candidates(cores, ranks, loader_workers, cap)
    first = first_candidate(candidates, load_average(), os.cpu_count() or cores)
    return ThreadTuner(candidates, torch.set_num_threads, log, idle_clock=idle_cpu_seconds, first=first,
                       reason=candidates_reason(cores, ranks, loader_workers, cap))


@contextlib.contextmanager
def torch_threads_restored() -> Iterator[None]:
    """Restore torch's intra-op thread count when the block ends (a `ThreadTuner` changes it inside)."""
    previous = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(previous)
