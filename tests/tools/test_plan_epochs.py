"""The epochs rule counts the validation pass, and the probe's step time is a median after warm-up steps (issue 22
point 5, bench finding 2). Fake probes and a scripted clock: no timing of this machine is asserted."""

from __future__ import annotations

import types
from typing import Any

from medical_imaging_framework.tools import plan_probe
from medical_imaging_framework.tools.planning import make_plan
from tests.tools.test_planning import fake_memory, fingerprint


def test_the_epochs_fit_the_budget_with_the_validation_pass_counted() -> None:
    cases: list[tuple[list[int], int]] = []

    def per_case(shape: list[int], depth: int) -> float:
        cases.append((list(shape), depth))
        return 1.0

    shapes = [[50, 41, 15]] * 6
    plan = make_plan(fingerprint([[0.8, 0.8, 2.5]] * 6, shapes), fake_memory([]), 10**12, lambda p, d: 2.0, 10.0,
                     "cpu", per_case)

    # 6 cases, 5 folds: 4 train (2 steps of 2 s) + 2 validation cases of 1 s = 6 s an epoch; 10 min x 90% -> 90
    assert plan.epochs == 90
    [(shape, depth)] = cases
    assert depth == plan.depth
    assert all(v % 2 ** depth == 0 and v >= m for v, m in zip(shape, shapes[0], strict=True))  # as DivisiblePad
    assert "validation 2 whole case(s) at 1 s each, 6 s an epoch -> 90 epoch(s)" in plan.reason("epochs")


def test_the_probe_times_the_median_of_its_steps_after_untimed_warm_up(monkeypatch: Any) -> None:
    # a warm-up step reads the clock once (its start), a timed step twice: timed durations 1, 1, 9, 1, 2 s
    durations = [1.0, 1.0, 9.0, 1.0, 2.0]
    readings = iter([0.0] * plan_probe.WARMUP_STEPS + [v for d in durations for v in (0.0, d)])
    monkeypatch.setattr(plan_probe, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))
    answer = plan_probe._step({"patch": [8, 8, 8], "depth": 1, "in_channels": 1, "out_channels": 3,
                               "steps": plan_probe.TIMED_STEPS, "warmup": plan_probe.WARMUP_STEPS}, "cpu")

    assert len(durations) == plan_probe.TIMED_STEPS and plan_probe.WARMUP_STEPS >= 1
    assert next(readings, None) is None  # every reading used: warm-up steps were run, and not timed
    assert answer["seconds"] == 1.0  # the median; the mean would be 2.8


def test_the_case_probe_times_a_forward_pass_without_gradients(monkeypatch: Any) -> None:
    import torch

    def no_backward(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a validation pass computes no gradients")

    readings = iter([0.0] + [v for d in (3.0, 1.0, 2.0, 9.0, 4.0) for v in (0.0, d)])
    monkeypatch.setattr(plan_probe, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))
    monkeypatch.setattr(torch.Tensor, "backward", no_backward)
    answer = plan_probe._step({"patch": [12, 8, 8], "depth": 1, "in_channels": 1, "out_channels": 3,
                               "steps": 5, "warmup": 1, "forward_only": True}, "cpu")

    assert answer["seconds"] == 3.0  # the median; the mean would be 3.8


def test_the_probe_child_times_steps_with_the_thread_count_training_uses(monkeypatch: Any,
                                                                         capsys: Any) -> None:
    import io
    import json
    import sys

    import torch

    from medical_imaging_framework.training import threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 5)  # training's rule: 4 threads, one core left over
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"info": True, "device": "cpu", "threads": 0}) + "\n"))
    previous = torch.get_num_threads()
    try:
        plan_probe.main()
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)

    assert json.loads(capsys.readouterr().out)["device"] == "cpu"
    assert used == threads.policy_threads(5) == 4
