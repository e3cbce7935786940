"""The one atomic file writer (issue 17): temp file, fsync, replace, folder fsync; permission bits kept or
from the umask; nothing half-written and no temp file after a failure."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from medical_imaging_framework.core import NodeRegistry, load_pipeline, save_pipeline
from medical_imaging_framework.core.atomic_file import write_atomically
from tests.support.pipelines import DEFAULT_PIPELINE

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def umask() -> Iterator[Any]:
    """Sets the process umask for a test (``umask(value)``) and restores it afterwards."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bytes_text_and_stream_content(tmp_path: Path) -> None:
    assert write_atomically(tmp_path / "a.bin", b"\x00\x01") == 2
    assert write_atomically(tmp_path / "b.txt", "é\n") == 3
    assert (tmp_path / "b.txt").read_bytes() == "é\n".encode()
    write_atomically(tmp_path / "c.bin", lambda stream: stream.write(b"streamed"))
    assert (tmp_path / "c.bin").read_bytes() == b"streamed"
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "b.txt", "c.bin"], "no temp file left"


def test_file_is_synced_renamed_then_its_folder_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(source: Any, target: Any) -> None:
        calls.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomically(tmp_path / "f.txt", "x")
    assert calls == ["fsync", "replace", "fsync"]


@posix_only
@pytest.mark.parametrize("value", [0o022, 0o077, 0o002])
def test_a_new_file_honours_the_umask(tmp_path: Path, umask: Any, value: int) -> None:
    umask(value)
    write_atomically(tmp_path / "new.txt", "x")
    assert mode(tmp_path / "new.txt") == 0o666 & ~value


@posix_only
def test_a_saved_pipeline_keeps_the_mode_of_the_file_it_replaces(registry: NodeRegistry, tmp_path: Path,
                                                                   umask: Any) -> None:
    graph = load_pipeline(DEFAULT_PIPELINE, registry)
    target = tmp_path / "p.json"
    target.write_text("old")
    target.chmod(0o644)
    umask(0o077)  # the old writer's mkstemp gave 0600 whatever the umask; the file's own bits win
    save_pipeline(graph, target)
    assert mode(target) == 0o644
    target.chmod(0o664)
    save_pipeline(graph, target)
    assert mode(target) == 0o664
    save_pipeline(graph, tmp_path / "fresh.json")
    assert mode(tmp_path / "fresh.json") == 0o600, "a new file: 0o666 less the umask"
    assert load_pipeline(target, registry).nodes.keys() == graph.nodes.keys()


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, failure: BaseException) -> None:
    target = tmp_path / "metrics.csv"
    target.write_text("old content")

    def half_then_fail(stream: BinaryIO) -> None:
        stream.write(b"new con")
        raise failure

    with pytest.raises(type(failure)):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["metrics.csv"], "the temp file is removed"


def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")

    def refuse(source: object, destination: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomically(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.html"]


def test_temp_names_are_recognised_for_every_file_the_writer_replaces(tmp_path: Path) -> None:
    from medical_imaging_framework.checkpoints.atomic import clean_temp_files
    from medical_imaging_framework.core.atomic_file import is_temp_name, temp_path

    left = [temp_path(tmp_path / name) for name in ("metrics.csv", "best_model.pt", "report.html")]
    for path in left:
        path.write_bytes(b"half")
        assert is_temp_name(path.name)
    kept = [tmp_path / name for name in ("metrics.csv", ".hidden.tmp", "notes.1-abc.tmp", "best_model.pt")]
    for path in kept:
        path.write_bytes(b"mine")
    assert not any(is_temp_name(path.name) for path in kept)
    assert clean_temp_files(tmp_path) == sorted(left)  # a crash mid-rewrite of metrics.csv leaves nothing behind
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_a_name_that_only_ends_like_a_temp_name_is_not_one(tmp_path: Path) -> None:
    from medical_imaging_framework.checkpoints.atomic import clean_temp_files
    from medical_imaging_framework.core.atomic_file import is_temp_name

    mine = tmp_path / ".notes.1-abcdef12.tmp\n"  # "$" matched before the final line break: deleted as stale
    mine.write_bytes(b"mine")
    assert not is_temp_name(mine.name)
    assert clean_temp_files(tmp_path) == []
    assert mine.read_bytes() == b"mine"
