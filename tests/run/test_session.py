"""The run session: validation once per launch, one progress throttle, one stop escalation, one status map,
and results that say where the run's files went in every way to run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.run.control import ProgressThrottle, StopEscalation
from medical_imaging_framework.run.event_stream import event_to_json
from medical_imaging_framework.run.events import (
    CheckpointSaved,
    CheckpointsConfigured,
    EpochEnded,
    Event,
    LogLine,
    MetricsReported,
    Progress,
    RunFinished,
)
from medical_imaging_framework.run.launch import VALIDATED_FLAG, torchrun_command
from medical_imaging_framework.run.session import RunSession
from medical_imaging_framework.run.status import RunStatus, exit_code, status_of_exit_code
from tests.support.pipelines import make_tiny_graph


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def progress(batch: int, of: int = 10) -> Progress:
    return Progress("trainer", 1, 2, batch, of)


def test_progress_throttle_keeps_one_event_per_interval_and_every_epochs_last_batch() -> None:
    clock = FakeClock()
    throttle = ProgressThrottle(interval=0.1, clock=clock)
    admitted = []
    for batch in range(1, 11):
        clock.now = batch * 0.04
        admitted.append(throttle.admit(progress(batch)))
    assert admitted == [True, False, False, True, False, False, True, False, False, True]  # last batch always
    assert throttle.admit(LogLine("other events always pass"))


def test_a_second_stop_asks_to_abort() -> None:
    stops = StopEscalation()
    assert [stops.request(), stops.request(), stops.request()] == ["graceful", "abort", "abort"]
    assert stops.count == 3


def test_one_map_between_statuses_and_exit_codes() -> None:
    assert [exit_code(status) for status in RunStatus] == [0, 1, 130, 2]
    assert all(status_of_exit_code(exit_code(status)) is status for status in RunStatus)
    assert status_of_exit_code(-9) is None
    assert RunStatus.DONE == "done" and json.dumps(RunStatus.CANCELLED) == '"cancelled"'


def test_the_pipeline_is_validated_once_per_launch(registry: NodeRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = Graph.validate
    monkeypatch.setattr(Graph, "validate", lambda self: calls.append(self.name) or real(self))
    graph = make_tiny_graph(registry, "", num_epochs=1)
    result = RunSession(graph).run_here()
    assert result.status == RunStatus.DONE and len(calls) == 1
    calls.clear()
    assert RunSession(graph, validated=True).run_here().status == RunStatus.DONE and calls == []
    # the ranks of a torchrun launch are told the launcher validated the pipeline
    assert VALIDATED_FLAG in torchrun_command("p.json", 2)
    assert VALIDATED_FLAG in RunSession(graph, processes=2).child_arguments("p.json")


def test_an_invalid_pipeline_is_not_run(registry: NodeRegistry) -> None:
    graph = make_tiny_graph(registry, "")
    graph.nodes["trainer"].config["num_epochs"] = 0
    events: list[Event] = []
    result = RunSession(graph, sink=events.append).run_here()
    assert result.status == RunStatus.INVALID and result.problems and events == []


def test_the_session_runs_its_own_copy_when_given_the_registry(registry: NodeRegistry) -> None:
    graph = make_tiny_graph(registry, "")
    session = RunSession(graph, registry)
    graph.nodes["trainer"].config["num_epochs"] = 99
    assert session.graph is not graph and session.graph.nodes["trainer"].config["num_epochs"] == 2
    assert RunSession(graph).graph is graph


def test_a_childs_lines_become_events_and_the_result_says_where_its_files_went(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    events: list[Event] = []
    session = RunSession(make_tiny_graph(registry, ""), sink=events.append, separate_process=True)
    lines = [
        CheckpointsConfigured("trainer", " runs/a "),  # as typed: spaces and a relative path
        CheckpointsConfigured("other", "~/ckpt"),
        EpochEnded("trainer", 1, 1, 0.5, None, 1.0),
        CheckpointSaved("trainer", "best", "runs/a/best_model.pt", 1, 0.5),
        MetricsReported("evaluate", {"dice": 0.9}),
        RunFinished(RunStatus.DONE, 2.0),
    ]
    for event in lines:
        session.take_line(event_to_json(event))
    session.take_line("stray text on stdout")
    result = session.child_result(0, "")
    assert result.status == RunStatus.DONE
    assert result.checkpoint_folders == [str(tmp_path / "runs" / "a"), str(tmp_path / "home" / "ckpt")]
    assert result.metrics == {"evaluate": {"dice": 0.9}}
    assert [type(event).__name__ for event in events] == [
        "CheckpointsConfigured", "CheckpointsConfigured", "EpochEnded", "CheckpointSaved", "MetricsReported",
        "RunFinished", "LogLine"]


@pytest.mark.parametrize(("code", "stopped", "expected"), [
    (130, False, RunStatus.CANCELLED), (1, True, RunStatus.CANCELLED), (-1, False, RunStatus.FAILED),
])
def test_a_child_that_ended_without_its_last_event(registry: NodeRegistry, code: int, stopped: bool,
                                                   expected: RunStatus) -> None:
    events: list[Event] = []
    session = RunSession(make_tiny_graph(registry, ""), sink=events.append, separate_process=True)
    if stopped:
        assert session.stop() == "graceful" and session.cancel.cancelled
    result = session.child_result(code, "line one\nSegmentation fault")
    assert result.status == expected
    if expected == RunStatus.FAILED:
        assert result.error == "the run process ended: Segmentation fault"
        assert isinstance(events[-1], LogLine) and events[-1].level == "error"


def test_child_arguments_name_this_interpreter_and_the_process_count(registry: NodeRegistry, tmp_path: Path) -> None:
    session = RunSession(make_tiny_graph(registry, ""), registry, processes=2)
    path = session.write_pipeline(tmp_path)
    command = session.child_command(path)
    assert command[:5] == [sys.executable, "-m", "medical_imaging_framework", "run", str(path)]
    assert command[-2:] == ["--nproc", "2"] and session.in_child_processes
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "mif-pipeline"
