"""`mif run` puts off Python's full garbage collections while the run starts (`cli/start_collections.py`): until
the first training step, or the end of the run, and never longer."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.cli import run_options
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.cli.start_collections import (
    NO_FULL_COLLECTION,
    StartCollections,
    full_collections_put_off,
)
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.run.events import LogLine, Progress
from tests.support.pipelines import make_tiny_graph


@pytest.fixture(autouse=True)
def thresholds_kept() -> Iterator[tuple[int, int, int]]:
    """The collector's thresholds as the test found them; a test that leaves them changed fails."""
    before = gc.get_threshold()
    yield before
    assert gc.get_threshold() == before, "the thresholds were not given back"
    gc.set_threshold(*before)


def test_hold_puts_off_only_the_oldest_generation_and_release_gives_it_back(
        thresholds_kept: tuple[int, int, int]) -> None:
    young, middle, oldest = thresholds_kept
    collections = StartCollections()
    collections.hold()
    assert collections.held
    assert gc.get_threshold() == (young, middle, NO_FULL_COLLECTION)
    collections.hold()  # a second hold keeps the first one's thresholds to give back
    collections.release()
    assert gc.get_threshold() == thresholds_kept and not collections.held
    gc.set_threshold(young, middle, oldest + 5)
    collections.release()  # released already: does nothing
    assert gc.get_threshold() == (young, middle, oldest + 5)
    gc.set_threshold(*thresholds_kept)


def test_a_collector_switched_off_is_left_alone(thresholds_kept: tuple[int, int, int]) -> None:
    gc.disable()
    try:
        with full_collections_put_off() as collections:
            assert not collections.held and gc.get_threshold() == thresholds_kept
    finally:
        gc.enable()


def test_the_first_training_step_releases_and_every_event_goes_on() -> None:
    seen: list[tuple[str, int]] = []
    with full_collections_put_off() as collections:
        sink = collections.watching(lambda event: seen.append((type(event).__name__, gc.get_threshold()[2])))
        sink(LogLine("UNet: 1 parameter", node_id="unet"))
        assert collections.held, "a log line is not a training step"
        sink(Progress("trainer", 1, 2, 1, 4))
        assert not collections.held
        sink(Progress("trainer", 1, 2, 2, 4))
    assert [name for name, _ in seen] == ["LogLine", "Progress", "Progress"]
    assert seen[0][1] == NO_FULL_COLLECTION and seen[1][1] != NO_FULL_COLLECTION


def test_the_block_gives_the_thresholds_back_when_it_raises(thresholds_kept: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), full_collections_put_off():
        assert gc.get_threshold()[2] == NO_FULL_COLLECTION
        raise RuntimeError("a failed run")
    assert gc.get_threshold() == thresholds_kept


def _recording_sink(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """What `mif run`'s sink is told, each event with the oldest generation's threshold at that moment."""
    seen: list[tuple[str, int]] = []
    make_sink = run_options.make_sink

    def recording(*args: Any) -> Any:
        sink = make_sink(*args)

        def record(event: Any) -> None:
            seen.append((type(event).__name__, gc.get_threshold()[2]))
            sink(event)

        return record

    monkeypatch.setattr(run_options, "make_sink", recording)
    return seen


def test_mif_run_puts_off_full_collections_until_its_first_training_step(
        registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        thresholds_kept: tuple[int, int, int]) -> None:
    seen = _recording_sink(monkeypatch)
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, ""), path)
    assert main(["run", str(path)]) == 0
    names = [name for name, _ in seen]
    first_step = names.index("Progress")
    assert "NodeFinished" in names[:first_step], "the nodes before the Trainer ran while it was put off"
    assert {threshold for _, threshold in seen[:first_step]} == {NO_FULL_COLLECTION}
    assert {threshold for _, threshold in seen[first_step:]} == {thresholds_kept[2]}


def test_a_run_that_fails_before_training_gives_the_thresholds_back(registry: NodeRegistry, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _recording_sink(monkeypatch)
    (tmp_path / "damaged.pt").write_bytes(b"not a checkpoint")
    path = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, "", resume_from=str(tmp_path / "damaged.pt")), path)
    assert main(["run", str(path)]) == 1
    assert "Progress" not in [name for name, _ in seen]
    assert "NodeFailed" in [name for name, _ in seen]
