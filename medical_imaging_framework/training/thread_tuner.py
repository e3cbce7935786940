"""The Trainer's intra-op thread count, chosen by measuring a few candidates over its first steps.

A fixed guess is wrong somewhere: on a busy 2-core machine a second intra-op thread only waits (and spins),
while on an idle workstation it halves the step time. `ThreadTuner` times each candidate over a few steps
(the first step after a change is a warm-up and is not counted), keeps the fastest, then watches a moving
median of the step times and measures again when it drifts far from the chosen figure (the machine's load
changed). It is pure: the clock and the function that sets the thread count are injected, so a test drives
it with a fake clock. torch's ``set_num_threads`` is process-wide, so the editor's run thread, ``mif run``,
a separate process and each torchrun rank (with its share of the cores) all use it the same way.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def quota_cores(root: Path | None = None) -> int | None:
    """The CPUs a cgroup CPU quota allows (cgroup v2 ``cpu.max`` or v1 ``cfs_quota_us``), None without one.

    Args:
        root: the cgroup file system's mount point (`CGROUP_ROOT`).
    """
    root = CGROUP_ROOT if root is None else root
    try:
        text = (root / "cpu.max").read_text().split()
        quota, period = (text[0], text[1]) if len(text) >= 2 else ("max", "1")
    except OSError:
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    if quota_us <= 0 or period_us <= 0:  # v1 writes -1 for no quota
        return None
    return max(1, math.ceil(quota_us / period_us))


def process_cores() -> int:
    """The CPUs this process may use: its affinity (``sched_getaffinity``), capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = quota_cores()
    return max(1, min(cores, quota) if quota else cores)


def thread_candidates(cores: int, ranks: int = 1, loader_workers: int = 0, cap: int | None = None) -> list[int]:
    """The intra-op thread counts worth timing: 1, this rank's share of the cores, and one between.

    Args:
        cores: the CPUs this process may use.
        ranks: processes training on this machine at once (each gets cores / ranks).
        loader_workers: DataLoader worker processes, counted against the same cores.
        cap: an upper bound the user set (``OMP_NUM_THREADS``), or None.
    """
    share = max(1, cores // max(1, ranks) - max(0, loader_workers))
    if cap is not None:
        share = max(1, min(share, cap))
    between = (1 + share) // 2
    return sorted({1, between, share})


GIVE_UP = 2.0  # a candidate whose steps all take this many times the best figure yet is timed no longer


def _threads_text(count: int) -> str:
    return f"{count} torch thread" + ("" if count == 1 else "s")


class ThreadTuner:
    """Picks the fastest intra-op thread count by timing steps; call `begin` before a run of steps
    (an epoch) and `step_done` after each step.

    Args:
        candidates: thread counts to try (one candidate: used without measuring).
        set_threads: sets the thread count (``torch.set_num_threads``); called only on a change.
        log: receives the choice line (once at each choice that changes the count).
        clock: seconds, monotonic (``time.perf_counter``).
        steps_per_candidate: steps timed per candidate, after one warm-up step (fewer for a candidate
            whose every step so far took over `GIVE_UP` times the fastest figure yet: on a busy machine a
            slow candidate costs seconds a step, and more of them would not change the choice).
        drift: re-measure when the moving median is this many times above or below the chosen figure.
        window: steps in the moving median.
        cooldown: steps after a choice before the drift is looked at; doubled after each re-check that
            kept the count, so a noisy machine does not keep the Trainer measuring.
        reason: the log line's reason when there is one candidate (nothing to measure).
    """

    def __init__(
        self, candidates: Sequence[int], set_threads: Callable[[int], None], log: Callable[[str], None],
        clock: Callable[[], float] = time.perf_counter, steps_per_candidate: int = 3, drift: float = 1.5,
        window: int = 5, cooldown: int = 20, reason: str = "the only candidate on the cores this process may use",
    ) -> None:
        self.candidates = sorted(set(candidates)) or [1]
        self._set_threads, self._log, self._clock = set_threads, log, clock
        self._per_candidate, self._drift, self._window = max(1, steps_per_candidate), drift, max(1, window)
        self._base_cooldown = self._cooldown = max(self._window, cooldown)
        self.threads = 0  # none set yet
        self.chosen_seconds: float | None = None
        self.measurements = 0  # how many times the candidates were timed
        self._queue: list[int] = []
        self._samples: dict[int, list[float]] = {}
        self._skip_next = False
        self._recent: deque[float] = deque(maxlen=self._window)
        self._since_choice = 0
        self._mark: float | None = None
        self._previous_choice = 0
        if len(self.candidates) == 1:
            self._apply(self.candidates[0])
            self._log(f"Using {_threads_text(self.threads)}: {reason}")
        else:
            self._start_measuring()

    @property
    def measuring(self) -> bool:
        """True while candidates are being timed."""
        return bool(self._queue)

    def begin(self) -> None:
        """Start timing from now (call at the start of an epoch, so validation and saving are not counted)."""
        self._mark = self._clock()

    def step_done(self) -> None:
        """Record one step's time (since the previous step or `begin`) and act on it."""
        now = self._clock()
        if self._mark is None:
            self._mark = now
            return
        seconds, self._mark = now - self._mark, now
        if self._skip_next:  # the first step after a change warms the new thread pool up
            self._skip_next = False
            return
        if self._queue:
            self._record_candidate(seconds)
        else:
            self._watch(seconds)

    def _start_measuring(self) -> None:
        self.measurements += 1
        self._queue = list(self.candidates)
        self._samples = {count: [] for count in self.candidates}
        self._apply(self._queue[0])

    def _record_candidate(self, seconds: float) -> None:
        samples = self._samples[self._queue[0]]
        samples.append(seconds)
        done = [statistics.median(times) for count, times in self._samples.items()
                if times and count not in self._queue]
        clearly_slower = bool(done) and min(samples) > GIVE_UP * min(done)
        if len(samples) < self._per_candidate and not clearly_slower:
            return
        self._queue.pop(0)
        if self._queue:
            self._apply(self._queue[0])
            return
        figures = {count: statistics.median(times) for count, times in self._samples.items()}
        best = min(figures, key=lambda count: (figures[count], count))  # a tie goes to fewer threads
        changed = best != self._previous_choice
        if changed:
            others = ", ".join(f"{figures[c]:.2f} s/step with {c}" for c in self.candidates if c != best)
            self._log(f"Using {_threads_text(best)}: {figures[best]:.2f} s/step against {others}")
            self._cooldown = self._base_cooldown
        else:
            self._cooldown *= 2
        self._previous_choice = best
        self._apply(best)
        self.chosen_seconds = figures[best]
        self._recent.clear()
        self._since_choice = 0

    def _watch(self, seconds: float) -> None:
        self._recent.append(seconds)
        self._since_choice += 1
        if self._since_choice < self._cooldown or len(self._recent) < self._window or not self.chosen_seconds:
            return
        ratio = statistics.median(self._recent) / self.chosen_seconds
        if ratio > self._drift or ratio < 1 / self._drift:
            self._start_measuring()

    def _apply(self, count: int) -> None:
        if count != self.threads:
            self._set_threads(count)
            self.threads = count
            self._skip_next = True
