"""How many intra-op threads torch uses while the Predictor computes (and the Trainer on a GPU): one policy
for every way to run. The Trainer on a CPU measures its count instead (`training.thread_tuner`).

The editor thread, ``mif run``, a separate process and each torchrun rank apply the same rule, so the
same pipeline and seed give the same numbers everywhere (the order of a parallel sum depends on the
thread count). The rule: the cores this process may use (its CPU affinity), shared among the ranks on
this machine, less one left for the editor's GUI thread, data loading and the rest of the machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


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


@contextlib.contextmanager
def thread_policy() -> Iterator[int]:
    """Use `policy_threads` intra-op threads inside the block (yields the count), then restore torch's."""
    previous = torch.get_num_threads()
    threads = policy_threads(usable_cores(), ranks_on_this_machine())
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
