"""The Trainer's ``num_threads``: auto measures the candidates in a real (tiny) run and logs its choice; a
number fixes the count; a bad value is refused before training with the field and the rule named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.training import run as trainer_run
from tests.support.pipelines import DEFAULT_PIPELINE
from tests.support.tiny import lines_of, run_events, tiniest_graph

CHOICE = re.compile(r"^Using ([12]) torch threads?: (\d+\.\d\d) s/step against (\d+\.\d\d) s/step "
                    r"with ([12])$")


def thread_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "torch thread" in line]


def test_auto_times_one_and_two_threads_in_a_real_run_and_logs_its_choice(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(trainer_run, "process_cores", lambda: 2)  # candidates 1 and 2 on any machine
    graph = tiniest_graph(registry, tmp_path / "ck", num_epochs=3)
    graph.nodes["train_loader"].config["batch_size"] = 1  # 3 steps an epoch: 2 x (warm-up + 3 timed) in 3 epochs
    before = torch.get_num_threads()
    _, events = run_events(graph)
    lines = thread_lines(lines_of(events))
    assert len(lines) == 1, lines
    match = CHOICE.match(lines[0])
    assert match is not None, lines[0]
    assert {match[1], match[4]} == {"1", "2"}  # both candidates were timed, the other one is named
    assert float(match[2]) <= float(match[3])  # the kept one is the faster
    assert torch.get_num_threads() == before  # torch's count is restored after the run


def test_a_number_fixes_the_count_without_measuring(registry: NodeRegistry, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(trainer_run.torch, "set_num_threads", lambda count: seen.append(count))
    graph = tiniest_graph(registry, tmp_path / "ck", num_threads="1", num_epochs=1)
    _, events = run_events(graph)
    assert thread_lines(lines_of(events)) == ["Using 1 torch thread: num_threads is 1"]
    assert seen[0] == 1 and len(seen) == 2  # set once, then torch's previous count restored


def test_omp_num_threads_caps_auto(registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(trainer_run, "process_cores", lambda: 8)
    _, events = run_events(tiniest_graph(registry, tmp_path / "ck", num_epochs=1))
    assert thread_lines(lines_of(events)) == ["Using 1 torch thread: OMP_NUM_THREADS is 1"]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_a_bad_num_threads_is_refused_before_training(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT_PIPELINE), "--set", f"trainer.num_threads={value}"]) == 2
    err = capsys.readouterr().err
    rule = ("must be 'auto' (measure the fastest thread count) or a whole number >= 1" if value
            else "must not be empty")
    assert f"field 'num_threads': {rule} (got '{value}')" in err
