"""The Trainer's intra-op thread count, chosen by measuring a few candidates over its first steps.

A fixed guess is wrong somewhere: on a busy 2-core machine a second intra-op thread only waits (and spins,
seconds a step), while on an idle workstation it halves the step time. `ThreadTuner` times the count the
load average favours over a few steps, probes each other candidate for one or two steps (dropped at the
first step clearly slower than the best figure, so a bad candidate costs one step), keeps the fastest, and
re-checks when the step time drifts either way or, less and less often, without a drift (a machine that
got quieter does not make one thread faster). It is pure: the clock and the function that sets the thread
count are injected, so a test drives it with a fake clock. torch's ``set_num_threads`` is process-wide, so
the editor's run thread, ``mif run``, a separate process and each torchrun rank (with its share of the
cores) all use it the same way. torch has no such tuner; this is ours.
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


def candidates_reason(cores: int, ranks: int = 1, loader_workers: int = 0, cap: int | None = None) -> str:
    """The arithmetic behind `thread_candidates`, for the log line when it leaves one count.

    Args:
        cores: the CPUs this process may use.
        ranks: processes training on this machine at once.
        loader_workers: DataLoader worker processes.
        cap: ``OMP_NUM_THREADS`` when set, or None.
    """
    text = f"{cores} core{'' if cores == 1 else 's'} for " + (f"{ranks} ranks" if ranks > 1 else "this process")
    if loader_workers > 0:
        text += f" less {loader_workers} DataLoader worker{'' if loader_workers == 1 else 's'}"
    if cap is not None:
        text += f", OMP_NUM_THREADS is {cap}"
    return text


def first_candidate(candidates: Sequence[int], load: float | None, machine_cores: int) -> int:
    """The count to time first: the largest candidate that fits the cores the load average leaves idle.

    Starting there keeps the first steps cheap on a busy machine (1 thread) and on a quiet one (all cores);
    the other candidates are then probed one or two steps each.

    Args:
        candidates: the thread counts to try.
        load: the machine's 1-minute load average (``os.getloadavg``), None where unknown (the smallest).
        machine_cores: the machine's CPU count.
    """
    ordered = sorted(set(candidates)) or [1]
    if load is None:
        return ordered[0]
    idle = machine_cores - load
    fitting = [count for count in ordered if count <= idle + 0.5]
    return fitting[-1] if fitting else ordered[0]


def idle_cpu_seconds(stat: Path | None = None) -> float | None:
    """CPU seconds the machine's cores have idled since boot, summed (``/proc/stat``: idle + iowait), None
    where the system does not say. Its growth over a few steps, divided by their wall time, is the number
    of cores nobody used meanwhile: a second thread is worth timing only where there is one.

    Args:
        stat: the kernel's ``/proc/stat`` (a test passes its own).
    """
    try:
        fields = (stat or Path("/proc/stat")).read_text().split("\n", 1)[0].split()
        if fields[0] != "cpu":
            return None
        return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def load_average() -> float | None:
    """The machine's 1-minute load average, None where the system does not give one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _threads_text(count: int) -> str:
    return f"{count} torch thread" + ("" if count == 1 else "s")


class ThreadTuner:
    """Picks the fastest intra-op thread count by timing steps; call `begin` before a run of steps
    (an epoch) and `step_done` after each step.

    The first candidate is timed over `baseline_steps` steps (its median is the figure to beat); each other
    candidate is then probed, nearest first, for at most `probe_steps` steps and dropped at the first step
    slower than `margin` times the best figure (on a busy machine a second thread can cost seconds a step:
    one such step is all a probe may cost), and the candidates beyond a dropped one are not probed. Every
    step trains; only the slower ones cost. Once chosen, the moving median of the step times is watched: a
    drift either way (the machine's load changed) re-checks after `cooldown` steps, and the other
    candidates are re-probed anyway after `recheck` steps (a quieter machine does not make one thread
    faster, so no drift would show it). A re-check takes the moving median as the chosen count's figure and
    probes the others; both waits double after a re-check that kept the count, so a noisy machine does not
    keep the Trainer probing, and reset when it changed.

    Args:
        candidates: thread counts to try (one candidate: used without measuring).
        set_threads: sets the thread count (``torch.set_num_threads``); called only on a change.
        log: receives the choice line (at the first choice and at each re-check that changes the count).
        clock: seconds, monotonic (``time.perf_counter``).
        idle_clock: the machine's idle CPU seconds so far (`idle_cpu_seconds`), or None: a larger count is
            probed only when the last steps left enough cores idle for its extra threads (on a busy machine
            a probe then costs nothing); None probes every candidate.
        first: the candidate timed first (`first_candidate`); None: the smallest.
        baseline_steps: steps timed for the first candidate (after the run's first step, a warm-up).
        probe_steps: the most steps a probed candidate is timed.
        margin: a probe step slower than this many times the best figure drops the candidate.
        drift: re-check when the moving median is this many times above or below the chosen figure.
        window: steps in the moving median.
        cooldown: steps after a choice before the drift is looked at.
        recheck: steps after a choice before the other candidates are probed again without a drift.
        reason: the log line's reason when there is one candidate (nothing to measure).
    """

    def __init__(
        self, candidates: Sequence[int], set_threads: Callable[[int], None], log: Callable[[str], None],
        clock: Callable[[], float] = time.perf_counter, *, idle_clock: Callable[[], float | None] | None = None,
        first: int | None = None, baseline_steps: int = 3,
        probe_steps: int = 2, margin: float = 1.1, drift: float = 1.5, window: int = 5, cooldown: int = 20,
        recheck: int = 50, reason: str = "the only candidate on the cores this process may use",
    ) -> None:
        self.candidates = sorted(set(candidates)) or [1]
        self._set_threads, self._log, self._clock, self._idle_clock = set_threads, log, clock, idle_clock
        self._idle_marks: deque[tuple[float, float]] = deque(maxlen=max(1, window) + 1)
        self.idle_cores: float | None = None  # cores left idle over the steps before the latest measurement
        self.skipped: list[int] = []  # larger counts not probed at the latest measurement: no idle core for them
        self._baseline_steps, self._probe_steps = max(1, baseline_steps), max(1, probe_steps)
        self._margin, self._drift, self._window = margin, drift, max(1, window)
        self._base_cooldown = self._cooldown = max(self._window, cooldown)
        self._base_recheck = self._recheck = max(self._base_cooldown, recheck)
        self.threads = 0  # none set yet
        self.chosen_seconds: float | None = None
        self.measurements = 0  # the first choice and each re-check
        self.figures: dict[int, float] = {}  # s/step per candidate at the latest measurement
        self._phase = "fixed"
        self._samples: list[float] = []
        self._queue: list[int] = []
        self._origin = 0
        self._choice = 0
        self._skip_next = True  # the run's first step: first allocations, first batch
        self._recent: deque[float] = deque(maxlen=self._window)
        self._since_choice = 0
        self._mark: float | None = None
        if len(self.candidates) == 1:
            self._apply(self.candidates[0])
            self._log(f"Using {_threads_text(self.threads)}: {reason}")
        else:
            self.measurements = 1
            self._phase = "baseline"
            self._apply(first if first in self.candidates else self.candidates[0])

    @property
    def measuring(self) -> bool:
        """True while candidates are being timed."""
        return self._phase in ("baseline", "probe")

    def begin(self) -> None:
        """Start timing from now (call at the start of an epoch, so validation and saving are not counted;
        the epoch's first step, which also starts the loader's iterator and workers, is not a sample)."""
        self._mark = self._clock()
        self._skip_next = True

    def step_done(self) -> None:
        """Record one step's time (since the previous step or `begin`) and act on it."""
        now = self._clock()
        if self._mark is None:
            self._mark = now
            return
        seconds, self._mark = now - self._mark, now
        idle = self._idle_clock() if self._idle_clock is not None else None
        if idle is not None:
            self._idle_marks.append((now, idle))
        if self._skip_next:
            self._skip_next = False
            return
        if self._phase == "baseline":
            self._samples.append(seconds)
            if len(self._samples) >= self._baseline_steps:
                self.figures = {self.threads: statistics.median(self._samples)}
                self._start_probes(self.threads)
        elif self._phase == "probe":
            self._record_probe(seconds)
        elif self._phase == "watch":
            self._watch(seconds)

    def _start_probes(self, origin: int) -> None:
        self._origin = origin
        self.idle_cores = self._idle_over_marks()
        self.skipped = [count for count in self.candidates if count > origin and self.idle_cores is not None
                        and count - origin > self.idle_cores + 0.5]
        others = [count for count in self.candidates if count != origin and count not in self.skipped]
        self._queue = sorted(others, key=lambda count: (abs(count - origin), count))
        self._samples = []
        if self._queue:
            self._phase = "probe"
            self._apply(self._queue[0])
        else:
            self._choose()

    def _idle_over_marks(self) -> float | None:
        if len(self._idle_marks) < 2:
            return None
        (start, idle_start), (end, idle_end) = self._idle_marks[0], self._idle_marks[-1]
        return max(0.0, (idle_end - idle_start) / (end - start)) if end > start else None

    def _record_probe(self, seconds: float) -> None:
        count = self._queue[0]
        self._samples.append(seconds)
        if seconds > self._margin * min(self.figures.values()):
            self.figures[count] = seconds  # one slower step is enough, and so are those beyond it
            side = count - self._origin
            self._queue = [self._queue[0]] + [
                other for other in self._queue[1:]
                if not ((other - self._origin) * side > 0 and abs(other - self._origin) > abs(side))]
        elif len(self._samples) >= self._probe_steps:
            self.figures[count] = statistics.median(self._samples)
        else:
            return
        self._queue.pop(0)
        self._samples = []
        if self._queue:
            self._apply(self._queue[0])
        else:
            self._choose()

    def _choose(self) -> None:
        figures = self.figures
        best = min(figures, key=lambda count: (figures[count], count))  # a tie goes to fewer threads
        if best != self._choice:
            others = ", ".join(f"{figures[c]:.2f} s/step with {c}" for c in sorted(figures) if c != best)
            line = f"Using {_threads_text(best)}: {figures[best]:.2f} s/step" + (f" against {others}" if others else "")
            if self.skipped and self.idle_cores is not None:
                untried = ", ".join(str(count) for count in self.skipped)
                line += f" ({untried} not tried: {self.idle_cores:.1f} cores idle)"
            self._log(line)
            self._cooldown, self._recheck = self._base_cooldown, self._base_recheck
        else:
            self._cooldown, self._recheck = self._cooldown * 2, self._recheck * 2
        self._choice = best
        self._apply(best)
        self.chosen_seconds = figures[best]
        self._phase = "watch"
        self._recent.clear()
        self._since_choice = 0

    def _watch(self, seconds: float) -> None:
        self._recent.append(seconds)
        self._since_choice += 1
        if len(self._recent) < self._window or not self.chosen_seconds:
            return
        ratio = statistics.median(self._recent) / self.chosen_seconds
        drifted = self._since_choice >= self._cooldown and (ratio > self._drift or ratio < 1 / self._drift)
        if drifted or self._since_choice >= self._recheck:
            self.measurements += 1
            self.figures = {self.threads: statistics.median(self._recent)}  # the chosen count, as of now
            self._start_probes(self.threads)

    def _apply(self, count: int) -> None:
        if count != self.threads:
            self._set_threads(count)
            self.threads = count
