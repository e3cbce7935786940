"""Distribution helpers in one process, `resume_from: auto`, elastic restarts and the `--nproc` launcher."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from medical_imaging_framework.cli.main import build_parser
from medical_imaging_framework.cli.run_options import RankFilter, launch_command
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import Cancelled, CancelToken
from medical_imaging_framework.run.events import EpochEnded, Event, LogLine, NodeFailed, TrainingResumed
from medical_imaging_framework.run.executor import run_graph
from medical_imaging_framework.training import distributed
from tests.support.pipelines import make_tiny_graph


@pytest.mark.parametrize(("length", "shards"), [(16, 2), (17, 3), (2, 4), (0, 2)])
def test_shards_cover_every_item_once_and_interleave_restores_the_order(length: int, shards: int) -> None:
    parts = [list(distributed.ShardSampler(length, shard, shards)) for shard in range(shards)]
    assert sorted(index for part in parts for index in part) == list(range(length))
    assert distributed.interleave(parts) == list(range(length))


def test_one_process_helpers_are_no_ops() -> None:
    assert not distributed.is_active()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.all_reduce_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.all_gather_objects({"a": 1}) == [{"a": 1}]
    assert distributed.broadcast_object("x") == "x"
    assert distributed.gather_sharded([3, 1]) == [3, 1]
    assert distributed.run_on_main(lambda: 7) == 7
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(model, torch.device("cpu")) is model
    loader = DataLoader(list(range(5)), batch_size=2)
    assert distributed.shard_loader(loader, training=True) is loader
    assert distributed.rank_device(torch.device("cpu")) == torch.device("cpu")
    token = distributed.SharedCancelToken(CancelToken())
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_torchrun_variables_are_read_before_the_group_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RANK": "3", "WORLD_SIZE": "4", "MASTER_ADDR": "h", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert distributed.launched_by_torchrun()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (3, 4, False)
    assert distributed.restart_count() == 2


def _resume_events(registry: NodeRegistry, folder: Path, **trainer: object) -> list[Event]:
    events: list[Event] = []
    result = run_graph(make_tiny_graph(registry, folder, **trainer), events.append)
    assert result.status == "done", [e for e in events if isinstance(e, NodeFailed)]
    return events


def test_resume_auto_and_elastic_restarts(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ck"
    first = _resume_events(registry, folder, num_epochs=2, save_every_n_epochs=1, resume_from="auto")
    assert not [e for e in first if isinstance(e, TrainingResumed)]  # nothing saved yet: a fresh start
    assert [e.epoch for e in first if isinstance(e, EpochEnded)] == [1, 2]
    second = _resume_events(registry, folder, num_epochs=3, save_every_n_epochs=1, resume_from="auto")
    assert [e.epoch for e in second if isinstance(e, TrainingResumed)] == [2]
    assert [e.epoch for e in second if isinstance(e, EpochEnded)] == [3]
    # torchrun restarted the group: the newest checkpoint is used without resume_from being set
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    third = _resume_events(registry, folder, num_epochs=4, save_every_n_epochs=1)
    assert any(isinstance(e, LogLine) and "Restart 1 of the worker group" in e.text for e in third)
    assert [e.epoch for e in third if isinstance(e, TrainingResumed)] == [3]
    # without a checkpoint_dir, auto trains from the start instead of failing
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT")
    fourth = _resume_events(registry, "", num_epochs=1, resume_from="auto")
    assert [e.epoch for e in fourth if isinstance(e, EpochEnded)] == [1]


def test_nproc_builds_a_torchrun_command() -> None:
    args = build_parser().parse_args(
        ["run", "p.json", "--nproc", "3", "--max-restarts", "2", "--set", "trainer.num_epochs=4", "--events", "jsonl"]
    )
    command = launch_command(args)
    assert command[1:3] == ["-m", "medical_imaging_framework.training.torchrun_main"]  # torchrun, quiet on Ctrl-C
    assert "--nproc-per-node=3" in command and "--max-restarts=2" in command and "--standalone" in command
    tail = command[command.index("medical_imaging_framework") + 1:]
    assert tail == ["run", "p.json", "--events", "jsonl", "--validated", "--set", "trainer.num_epochs=4"]
    for bad in (["--nproc", "0"], ["--max-restarts", "-1"], ["--nproc", "two"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["run", "p.json", *bad])


def test_only_rank_zero_prints_and_others_report_failures() -> None:
    seen: list[Event] = []
    stream = io.StringIO()
    other = RankFilter(seen.append, rank=1, stream=stream)
    other(LogLine("hello"))
    other(NodeFailed("trainer", "boom"))
    assert seen == [] and stream.getvalue().startswith("[rank 1] ✗ Node 'trainer' failed: boom")
    RankFilter(seen.append, rank=0, stream=stream)(LogLine("hello"))
    assert seen == [LogLine("hello")]
    assert isinstance(build_parser().parse_args(["run", "p.json"]), argparse.Namespace)


def test_nproc_checks_the_pipeline_once_before_starting_processes(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from medical_imaging_framework.cli import commands
    from medical_imaging_framework.cli.main import main
    from medical_imaging_framework.core import save_pipeline

    started: list[object] = []
    monkeypatch.setattr(commands, "launch_torchrun", lambda command, stops: started.append(command) or 0)
    graph = make_tiny_graph(registry, "", num_epochs=0)
    save_pipeline(graph, tmp_path / "bad.json")
    assert main(["run", str(tmp_path / "bad.json"), "--nproc", "2"]) == 2
    assert started == [] and "num_epochs" in capsys.readouterr().err
    graph.nodes["trainer"].config["num_epochs"] = 1
    save_pipeline(graph, tmp_path / "good.json")
    assert main(["run", str(tmp_path / "good.json"), "--nproc", "2"]) == 0
    assert len(started) == 1
