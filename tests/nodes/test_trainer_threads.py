"""The Trainer's ``num_threads``: auto measures the candidates in a real (tiny) run and logs its choice; a
number fixes the count; a bad value is refused before training with the field and the rule named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.training import run as trainer_run
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training import threads as threads_module
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
    monkeypatch.setattr(threads_module, "process_cores", lambda: 2)  # candidates 1 and 2 on any machine
    monkeypatch.setattr(threads_module, "idle_cpu_seconds", lambda: None)  # both tried, however busy the machine
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
    monkeypatch.setattr(threads_module, "process_cores", lambda: 8)
    _, events = run_events(tiniest_graph(registry, tmp_path / "ck", num_epochs=1))
    assert thread_lines(lines_of(events)) == ["Using 1 torch thread: 8 cores for this process, OMP_NUM_THREADS is 1"]


def test_the_device_line_names_no_thread_count_the_tuner_then_changes(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads_module, "process_cores", lambda: 1)
    lines = lines_of(run_events(tiniest_graph(registry, tmp_path / "ck", num_epochs=1))[1])
    device = next(line for line in lines if line.startswith("Training on cpu"))
    assert re.fullmatch(r"Training on cpu \((PyTorch sees no CUDA device|device set to cpu)\)", device), device
    assert thread_lines(lines) == ["Using 1 torch thread: 1 core for this process"]


def test_each_rank_gets_its_share_of_the_cores(registry: NodeRegistry, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # what torchrun sets in each of 2 ranks on this machine
    monkeypatch.setattr(threads_module, "process_cores", lambda: 2)
    _, events = run_events(tiniest_graph(registry, tmp_path / "ck", num_epochs=1))
    assert thread_lines(lines_of(events)) == ["Using 1 torch thread: 2 cores for 2 ranks"]


def test_dataloader_workers_count_against_the_same_cores(registry: NodeRegistry, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "process_cores", lambda: 2)
    graph = tiniest_graph(registry, tmp_path / "ck", num_epochs=1)
    graph.nodes["train_loader"].config["num_workers"] = 1
    _, events = run_events(graph)
    assert thread_lines(lines_of(events)) == ["Using 1 torch thread: 2 cores for this process less 1 DataLoader worker"]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_a_bad_num_threads_is_refused_before_training(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DEFAULT_PIPELINE), "--set", f"trainer.num_threads={value}"]) == 2
    err = capsys.readouterr().err
    rule = ("must be 'auto' (measure the fastest thread count) or a whole number >= 1" if value
            else "must not be empty")
    assert f"field 'num_threads': {rule} (got '{value}')" in err


def test_the_predictor_measures_its_count_too(registry: NodeRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "process_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "load_average", lambda: None)  # start from 1 thread
    seen: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    items = [{"image": torch.zeros(1, 8, 8)} for _ in range(12)]
    spec = registry.get("inference.Predictor")
    settings = {param.name: param.parse(param.default) for param in spec.params} | {"device": "cpu"}
    ctx = NodeContext(node_id="predictor", emit=lambda event: None, cancel=CancelToken())
    out = spec.run(ctx, {"model": torch.nn.Conv2d(1, 1, 1), "data": DataLoader(items, batch_size=1)}, settings)
    assert len(out["predictions"].cases) == 12
    assert seen[:2] == [1, 2]  # 1 thread timed, then 2 probed: not a fixed count
    assert seen[-1] == torch.get_num_threads()  # torch's count restored at the end
