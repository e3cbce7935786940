"""The Trainer's thread choice, driven by a fake clock: fastest candidate kept, re-checked after a drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from medical_imaging_framework.training import thread_tuner
from medical_imaging_framework.training.thread_tuner import ThreadTuner, quota_cores, thread_candidates


class FakeMachine:
    """A clock whose step time depends on the thread count set, as a loaded machine's would."""

    def __init__(self, seconds_per_threads: dict[int, float]) -> None:
        self.seconds = dict(seconds_per_threads)
        self.now = 0.0
        self.threads = 0
        self.set_calls: list[int] = []
        self.lines: list[str] = []

    def set_threads(self, count: int) -> None:
        self.threads = count
        self.set_calls.append(count)

    def clock(self) -> float:
        return self.now

    def tuner(self, candidates: list[int], **options: object) -> ThreadTuner:
        return ThreadTuner(candidates, self.set_threads, self.lines.append, self.clock, **options)  # type: ignore[arg-type]

    def steps(self, tuner: ThreadTuner, count: int, warm_up: float = 5.0) -> None:
        """``count`` steps; the first after a thread change takes ``warm_up`` times longer."""
        for _ in range(count):
            changed = self.set_calls[-1:] != getattr(self, "_seen", [])
            self._seen = self.set_calls[-1:]
            self.now += self.seconds[self.threads] * (warm_up if changed else 1.0)
            tuner.step_done()


def test_it_times_each_candidate_and_keeps_the_fastest() -> None:
    machine = FakeMachine({1: 0.21, 2: 0.74})
    tuner = machine.tuner([1, 2], steps_per_candidate=2)
    tuner.begin()
    machine.steps(tuner, 6)  # 1: warm-up + 2 timed, 2: warm-up + 2 timed
    assert not tuner.measuring and tuner.threads == 1 and machine.threads == 1
    assert machine.lines == ["Using 1 torch thread: 0.21 s/step against 0.74 s/step with 2"]
    assert machine.set_calls == [1, 2, 1]  # set only on a change: nothing per step once chosen
    machine.steps(tuner, 50)
    assert machine.set_calls == [1, 2, 1] and len(machine.lines) == 1


def test_three_candidates_are_named_in_the_line() -> None:
    machine = FakeMachine({1: 0.30, 2: 0.18, 4: 0.25})
    tuner = machine.tuner([1, 2, 4], steps_per_candidate=3)
    tuner.begin()
    machine.steps(tuner, 12)
    assert tuner.threads == 2
    assert machine.lines == ["Using 2 torch threads: 0.18 s/step against 0.30 s/step with 1, 0.25 s/step with 4"]


def test_a_drift_in_step_time_makes_it_measure_again_and_switch() -> None:
    machine = FakeMachine({1: 0.30, 2: 0.15})  # quiet: two threads win
    tuner = machine.tuner([1, 2], steps_per_candidate=2, cooldown=10, window=5)
    tuner.begin()
    machine.steps(tuner, 6)
    assert tuner.threads == 2 and tuner.measurements == 1
    machine.seconds = {1: 0.32, 2: 0.90}  # another process took a core: the second thread waits
    machine.steps(tuner, 10)
    assert tuner.measurements == 2  # the moving median went 6x above 0.15 s
    machine.steps(tuner, 6)
    assert tuner.threads == 1 and machine.threads == 1
    assert machine.lines[-1] == "Using 1 torch thread: 0.32 s/step against 0.90 s/step with 2"
    assert len(machine.lines) == 2


def test_a_steady_machine_is_not_measured_again_and_a_kept_choice_is_not_logged_again() -> None:
    machine = FakeMachine({1: 0.20, 2: 0.40})
    tuner = machine.tuner([1, 2], steps_per_candidate=2, cooldown=10, window=5)
    tuner.begin()
    machine.steps(tuner, 200)
    assert tuner.measurements == 1 and len(machine.lines) == 1
    machine.seconds = {1: 0.50, 2: 0.90}  # slower everywhere, but one thread still wins
    machine.steps(tuner, 200)
    assert tuner.measurements == 2 and tuner.threads == 1
    assert len(machine.lines) == 1  # the choice did not change: no second line


def test_it_does_not_oscillate_when_the_step_time_keeps_jumping() -> None:
    machine = FakeMachine({1: 0.20, 2: 0.30})
    tuner = machine.tuner([1, 2], steps_per_candidate=2, cooldown=10, window=5)
    tuner.begin()
    machine.steps(tuner, 6)
    for round_ in range(20):  # the load flips every 30 steps, each flip kept the same winner
        machine.seconds = {1: 0.20, 2: 0.30} if round_ % 2 else {1: 0.60, 2: 0.90}
        machine.steps(tuner, 30)
    # the cool-down doubles after each re-check that kept the count (10, 20, 40, ... steps): in 600 steps at
    # most 6 measurements, where a fixed cool-down would measure about 37 times
    assert tuner.measurements <= 6 and tuner.threads == 1 and len(machine.lines) == 1


def test_one_candidate_is_used_without_measuring() -> None:
    machine = FakeMachine({3: 0.5})
    tuner = machine.tuner([3], reason="num_threads is 3")
    tuner.begin()
    machine.steps(tuner, 40)
    assert machine.set_calls == [3] and tuner.measurements == 0 and not tuner.measuring
    assert machine.lines == ["Using 3 torch threads: num_threads is 3"]


def test_begin_leaves_the_time_between_epochs_out() -> None:
    machine = FakeMachine({1: 0.2, 2: 0.4})
    tuner = machine.tuner([1, 2], steps_per_candidate=2)
    tuner.begin()
    machine.steps(tuner, 3)  # candidate 1 timed
    machine.now += 100.0  # validation and a checkpoint save
    tuner.begin()
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


def test_a_clearly_slower_candidate_is_timed_no_longer() -> None:
    machine = FakeMachine({1: 0.20, 2: 1.00})  # a busy machine: the second thread costs seconds a step
    tuner = machine.tuner([1, 2], steps_per_candidate=3)
    tuner.begin()
    machine.steps(tuner, 4)  # 1: warm-up + 3 timed
    assert tuner.measuring and machine.threads == 2
    machine.steps(tuner, 2)  # 2: warm-up + 1 timed step over 2x the best figure: enough
    assert not tuner.measuring and machine.threads == 1
    assert machine.lines == ["Using 1 torch thread: 0.20 s/step against 1.00 s/step with 2"]
