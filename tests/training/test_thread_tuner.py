"""The Trainer's thread choice, driven by a fake clock: fastest candidate kept, re-checked after a drift."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medical_imaging_framework.training import thread_tuner
from medical_imaging_framework.training.thread_tuner import (
    ThreadTuner,
    candidates_reason,
    first_candidate,
    quota_cores,
    thread_candidates,
)


class FakeMachine:
    """A clock whose step time depends on the thread count set, as a loaded machine's would."""

    def __init__(self, seconds_per_threads: dict[int, float]) -> None:
        self.seconds = dict(seconds_per_threads)
        self.now = 0.0
        self.threads = 0
        self.set_calls: list[int] = []
        self.lines: list[str] = []
        self.steps_at: dict[int, int] = {}  # steps run at each thread count
        self.started = False
        self.idle = 0.0  # cores nobody uses
        self.idle_seconds = 0.0

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.set_calls.append(count)

    def clock(self) -> float:
        return self.now

    def tuner(self, candidates: list[int], **options: object) -> ThreadTuner:
        return ThreadTuner(candidates, self.set_threads, self.lines.append, self.clock, **options)  # type: ignore[arg-type]

    def steps(self, tuner: ThreadTuner, count: int, first_step: float = 5.0) -> None:
        """``count`` steps; the run's first takes ``first_step`` times longer (allocations, first batch)."""
        for _ in range(count):
            step = self.seconds[self.threads] * (1.0 if self.started else first_step)
            self.now += step
            self.idle_seconds += self.idle * step
            self.started = True
            self.steps_at[self.threads] = self.steps_at.get(self.threads, 0) + 1
            tuner.step_done()


def test_it_times_each_candidate_and_keeps_the_fastest() -> None:
    machine = FakeMachine({1: 0.21, 2: 0.74})
    tuner = machine.tuner([1, 2], probe_steps=2)
    tuner.begin()
    machine.steps(tuner, 5)  # 1: warm-up + 3 timed, 2: one step 3.5x slower: dropped
    assert not tuner.measuring and tuner.threads == 1 and machine.threads == 1
    assert machine.lines == ["Using 1 torch thread: 0.21 s/step against 0.74 s/step with 2"]
    assert machine.set_calls == [1, 2, 1]  # set only on a change: nothing per step once chosen
    machine.steps(tuner, 40)
    assert machine.set_calls == [1, 2, 1] and len(machine.lines) == 1


def test_a_larger_count_is_not_tried_while_no_core_is_idle_and_is_once_one_is() -> None:
    machine = FakeMachine({1: 0.20, 2: 5.00})  # the other core busy: a 2-thread step would cost seconds
    tuner = machine.tuner([1, 2], idle_clock=lambda: machine.idle_seconds, recheck=30)
    tuner.begin()
    machine.steps(tuner, 4)  # warm-up + 3 timed at 1 thread, with no core idle meanwhile
    assert not tuner.measuring and 2 not in machine.steps_at and machine.set_calls == [1]
    assert machine.lines == ["Using 1 torch thread: 0.20 s/step (2 not tried: 0.0 cores idle)"]
    machine.steps(tuner, 200)
    assert 2 not in machine.steps_at  # each re-check found no idle core: no 2-thread step at all
    machine.seconds, machine.idle = {1: 0.20, 2: 0.12}, 1.0  # the other process ended: a core is idle
    machine.steps(tuner, 300)
    assert tuner.threads == 2 and machine.lines[-1] == "Using 2 torch threads: 0.12 s/step against 0.20 s/step with 1"


def test_the_idle_cores_are_read_from_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 20 300 50 0 0 0 0 0\ncpu0 5 0 10 150 25 0 0 0 0 0\n")
    assert thread_tuner.idle_cpu_seconds(stat) == pytest.approx(350 / os.sysconf("SC_CLK_TCK"))
    stat.write_text("garbage")
    assert thread_tuner.idle_cpu_seconds(stat) is None
    assert thread_tuner.idle_cpu_seconds(tmp_path / "missing") is None


def test_three_candidates_are_named_in_the_line() -> None:
    machine = FakeMachine({1: 0.30, 2: 0.18, 4: 0.25})
    tuner = machine.tuner([1, 2, 4])
    tuner.begin()
    machine.steps(tuner, 7)  # 1: warm-up + 3, 2: 2 faster steps, 4: one step slower than 2's figure
    assert tuner.threads == 2 and not tuner.measuring
    assert machine.lines == ["Using 2 torch threads: 0.18 s/step against 0.30 s/step with 1, 0.25 s/step with 4"]


def test_a_faster_probe_is_timed_over_two_steps_and_kept() -> None:
    machine = FakeMachine({1: 0.30, 2: 0.15})  # quiet: two threads win
    tuner = machine.tuner([1, 2])
    tuner.begin()
    machine.steps(tuner, 5)
    assert tuner.measuring and machine.threads == 2  # one fast step is not enough to switch
    machine.steps(tuner, 1)
    assert not tuner.measuring and tuner.threads == 2
    assert machine.lines == ["Using 2 torch threads: 0.15 s/step against 0.30 s/step with 1"]


def test_a_slower_candidate_costs_one_step_and_so_does_each_re_check() -> None:
    machine = FakeMachine({1: 0.20, 2: 5.00})  # one core busy elsewhere: each 2-thread step costs seconds
    tuner = machine.tuner([1, 2])
    tuner.begin()
    machine.steps(tuner, 400)
    assert tuner.threads == 1 and machine.lines == ["Using 1 torch thread: 0.20 s/step against 5.00 s/step with 2"]
    # re-checks without a drift after 50, 100, 200 steps: one 2-thread step each, 4 in all over 400 steps
    assert machine.steps_at[2] == tuner.measurements == 4
    best_fixed = 400 * 0.20 + 4 * 0.20  # fixed 1 thread (with the same first step)
    assert machine.now - best_fixed == pytest.approx(4 * (5.00 - 0.20))


def test_a_dropped_candidate_drops_those_beyond_it() -> None:
    machine = FakeMachine({1: 0.20, 2: 0.50, 4: 0.90})
    tuner = machine.tuner([1, 2, 4])
    tuner.begin()
    machine.steps(tuner, 6)
    assert machine.set_calls == [1, 2, 1] and 4 not in machine.steps_at  # 4 threads never tried
    assert machine.lines == ["Using 1 torch thread: 0.20 s/step against 0.50 s/step with 2"]


def test_it_starts_with_the_count_the_load_favours_and_probes_down() -> None:
    machine = FakeMachine({1: 0.40, 2: 0.20})  # a quiet machine
    tuner = machine.tuner([1, 2], first=first_candidate([1, 2], load=0.2, machine_cores=2))
    tuner.begin()
    machine.steps(tuner, 5)  # 2: warm-up + 3, 1: one step 2x slower: dropped
    assert machine.set_calls == [2, 1, 2] and machine.steps_at[1] == 1
    assert machine.lines == ["Using 2 torch threads: 0.20 s/step against 0.40 s/step with 1"]


@pytest.mark.parametrize(("load", "expected"), [(0.1, 2), (0.6, 1), (1.2, 1), (7.9, 1), (None, 1)])
def test_the_first_candidate_fits_the_idle_cores(load: float | None, expected: int) -> None:
    assert first_candidate([1, 2], load, machine_cores=2) == expected


def test_a_drift_in_step_time_makes_it_measure_again_and_switch() -> None:
    machine = FakeMachine({1: 0.30, 2: 0.15})  # quiet: two threads win
    tuner = machine.tuner([1, 2], cooldown=10, window=5)
    tuner.begin()
    machine.steps(tuner, 6)
    assert tuner.threads == 2 and tuner.measurements == 1
    machine.seconds = {1: 0.32, 2: 0.90}  # another process took a core: the second thread waits
    machine.steps(tuner, 10)
    assert tuner.measurements == 2  # the moving median went 6x above 0.15 s
    machine.steps(tuner, 2)
    assert tuner.threads == 1 and machine.threads == 1
    assert machine.lines[-1] == "Using 1 torch thread: 0.32 s/step against 0.90 s/step with 2"
    assert len(machine.lines) == 2


def test_a_quieter_machine_is_noticed_without_a_drift() -> None:
    machine = FakeMachine({1: 0.30, 2: 1.20})  # busy: one thread wins
    tuner = machine.tuner([1, 2], cooldown=10, recheck=30)
    tuner.begin()
    machine.steps(tuner, 5)
    assert tuner.threads == 1
    machine.seconds = {1: 0.30, 2: 0.15}  # the other process ended: one thread is no faster, two are
    machine.steps(tuner, 29)
    assert tuner.threads == 1 and tuner.measurements == 1  # no drift: 1 thread's steps did not change
    machine.steps(tuner, 3)  # the re-check after 30 steps probes 2 threads for two steps
    assert tuner.threads == 2 and tuner.measurements == 2
    assert machine.lines[-1] == "Using 2 torch threads: 0.15 s/step against 0.30 s/step with 1"


def test_a_drift_to_faster_steps_re_checks_before_the_periodic_probe() -> None:
    machine = FakeMachine({1: 0.90, 2: 3.00})  # the chosen thread shares its core with others
    tuner = machine.tuner([1, 2], cooldown=10, recheck=1000)
    tuner.begin()
    machine.steps(tuner, 5)
    machine.seconds = {1: 0.30, 2: 0.15}  # the load went away: 3x faster
    machine.steps(tuner, 12)
    assert tuner.measurements == 2 and tuner.threads == 2
    assert machine.lines[-1] == "Using 2 torch threads: 0.15 s/step against 0.30 s/step with 1"


def test_a_steady_machine_is_re_checked_less_and_less_and_a_kept_choice_is_not_logged_again() -> None:
    machine = FakeMachine({1: 0.20, 2: 0.40})
    tuner = machine.tuner([1, 2], cooldown=10, window=5, recheck=20)
    tuner.begin()
    machine.steps(tuner, 300)
    assert tuner.measurements == 1 + 3  # re-checks after 20, 40, 80 steps (the next is due after 160)
    assert len(machine.lines) == 1 and machine.steps_at[2] == 4
    machine.seconds = {1: 0.50, 2: 0.90}  # slower everywhere, but one thread still wins
    machine.steps(tuner, 300)
    assert tuner.threads == 1 and len(machine.lines) == 1  # the choice did not change: no second line


def test_it_does_not_oscillate_when_the_step_time_keeps_jumping() -> None:
    machine = FakeMachine({1: 0.20, 2: 0.30})
    tuner = machine.tuner([1, 2], cooldown=10, window=5)
    tuner.begin()
    machine.steps(tuner, 6)
    for round_ in range(20):  # the load flips every 30 steps, each flip kept the same winner
        machine.seconds = {1: 0.20, 2: 0.30} if round_ % 2 else {1: 0.60, 2: 0.90}
        machine.steps(tuner, 30)
    # the waits double after each re-check that kept the count (10, 20, 40, ... steps): in 600 steps at
    # most 6 measurements, where fixed waits would measure about 30 times
    assert tuner.measurements <= 6 and tuner.threads == 1 and len(machine.lines) == 1


def test_one_candidate_is_used_without_measuring() -> None:
    machine = FakeMachine({3: 0.5})
    tuner = machine.tuner([3], reason="num_threads is 3")
    tuner.begin()
    machine.steps(tuner, 40)
    assert machine.set_calls == [3] and tuner.measurements == 0 and not tuner.measuring
    assert machine.lines == ["Using 3 torch threads: num_threads is 3"]


def test_begin_leaves_the_time_between_epochs_and_the_epochs_first_step_out() -> None:
    machine = FakeMachine({1: 0.2, 2: 0.4})
    tuner = machine.tuner([1, 2])
    tuner.begin()
    machine.steps(tuner, 3)  # warm-up + 2 timed at 1 thread
    machine.now += 100.0  # validation and a checkpoint save
    tuner.begin()
    machine.now += 30.0  # the loader's workers start
    machine.steps(tuner, 3)
    assert machine.lines == ["Using 1 torch thread: 0.20 s/step against 0.40 s/step with 2"]


@pytest.mark.parametrize(("cores", "ranks", "workers", "cap", "expected"), [
    (1, 1, 0, None, [1]), (2, 1, 0, None, [1, 2]), (4, 1, 0, None, [1, 2, 4]), (16, 1, 0, None, [1, 8, 16]),
    (16, 4, 0, None, [1, 2, 4]), (4, 2, 0, None, [1, 2]), (4, 1, 2, None, [1, 2]), (2, 1, 2, None, [1]),
    (16, 1, 0, 1, [1]), (16, 1, 0, 4, [1, 2, 4]),
])
def test_candidates_share_the_cores_among_ranks_and_loader_workers(
    cores: int, ranks: int, workers: int, cap: int | None, expected: list[int],
) -> None:
    assert thread_candidates(cores, ranks, workers, cap) == expected


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "150000 100000\n"}, 2), ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None), ({}, None),
])
def test_a_cgroup_cpu_quota_caps_the_cores(tmp_path: Path, files: dict[str, str], expected: int | None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert quota_cores(tmp_path) == expected
    monkeypatch.setattr(thread_tuner, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(thread_tuner.os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert thread_tuner.process_cores() == (expected or 8)


@pytest.mark.parametrize(("args", "expected"), [
    ((1,), "1 core for this process"), ((2, 2), "2 cores for 2 ranks"),
    ((4, 1, 3), "4 cores for this process less 3 DataLoader workers"),
    ((16, 1, 0, 1), "16 cores for this process, OMP_NUM_THREADS is 1"),
])
def test_the_reason_for_one_candidate_gives_the_arithmetic(args: tuple[int, ...], expected: str) -> None:
    assert candidates_reason(*args) == expected
