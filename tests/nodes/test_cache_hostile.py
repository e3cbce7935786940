"""Issue 18: the on-disk transform cache (``transforms.Apply`` ``cache_dir``) is data, never code, and disposable.

Every hostile or damaged entry is refused, reported in one warning line naming its file, deleted and rebuilt;
no code in it runs and the run goes on. A marker file shows whether pickled code ran.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import random
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.transforms import disk_cache
from medical_imaging_framework.nodes.transforms.cache_entries import FORMAT, MAGIC, read_entry, write_entry
from medical_imaging_framework.nodes.transforms.cache_key import key_path
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.run.status import RunStatus
from tests.nodes.test_data_cache import CALLS, CountingStep
from tests.nodes.test_transforms import Items
from tests.support.pipelines import make_tiny_graph, run_graph


class Evil:
    """Pickled code: unpickling it (``weights_only=False``) runs ``touch MARK``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the user's own key


def _val(registry: NodeRegistry, cache: Path | None, events: list[Event], step: Any = None) -> Any:
    """Items() through a deterministic step, cached in ``cache`` (None: in memory); events go to ``events``."""
    ctx = NodeContext(node_id="apply", emit=events.append, cancel=CancelToken())
    config = {"cache": True, "cache_dir": "" if cache is None else str(cache)}
    return registry.get("transforms.Apply").run(ctx, {"transform": (step or CountingStep(),), "val": Items()},
                                                config)["val"]


def _items(dataset: Any) -> list[dict[str, Any]]:
    return [dataset[index] for index in range(len(dataset))]


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("chain-*/*.pt"))


def _warnings(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, LogLine) and e.level == "warning"]


def _signed(path: Path, content: Any) -> None:
    """An entry signed with the user's key, as if the key had leaked (computed here, not by the module)."""
    buffer = io.BytesIO()
    torch.save(content, buffer)
    payload = buffer.getvalue()
    place = f"{path.parent.name}/{path.name}\0".encode()
    tag = hmac.new(key_path().read_bytes(), MAGIC + place + payload, hashlib.sha256).digest()
    path.write_bytes(MAGIC + tag + payload)


def _assert_rebuilt(registry: NodeRegistry, cache: Path, events: list[Event], reason: str) -> None:
    """Each entry named in exactly one warning with ``reason``, every item right, every entry ours again."""
    entries = _entries(cache)
    again = _val(registry, cache, events)
    CALLS.clear()
    expected = _items(_val(registry, None, []))  # the in-memory cache: no disk at all
    for ours, theirs in zip(_items(again), expected, strict=True):
        assert torch.equal(ours["image"], theirs["image"]) and torch.equal(ours["label"], theirs["label"])
    assert len(CALLS) == len(expected) * 2, "every refused item was computed again"
    lines = _warnings(events)
    assert len(lines) == len(entries), lines
    for entry in entries:
        (line,) = [text for text in lines if f"'{entry}'" in text]
        assert line.startswith("warning: cache entry") and reason in line and "deleted; rebuilding it" in line
        assert "checkpoint" not in line
        read_entry(entry, key_path().read_bytes())  # rebuilt: a good, signed entry
    CALLS.clear()
    _items(again)
    assert len(CALLS) == 0 and len(_warnings(events)) == len(entries), "rebuilt entries are read, not refused"


@pytest.mark.parametrize("signed", [False, True], ids=["torch_save", "signed_with_a_leaked_key"])
def test_entries_holding_pickled_code_never_run_it(registry: NodeRegistry, tmp_path: Path, signed: bool) -> None:
    cache, marker = tmp_path / "cache", tmp_path / "MARK"
    _items(_val(registry, cache, []))
    for entry in _entries(cache):
        if signed:
            _signed(entry, {"format": FORMAT, "item": {"image": Evil(marker)}})
        else:
            torch.save({"image": Evil(marker)}, entry)
    events: list[Event] = []
    reason = "holds pickled Python objects besides tensors" if signed else "not a cache entry"
    _assert_rebuilt(registry, cache, events, reason)
    assert not marker.exists(), "the pickled code ran"


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "cut_to_100_bytes": lambda data: data[:100],
    "empty": lambda data: b"",
    "random_bytes": lambda data: random.Random(7).randbytes(len(data)),
    "one_bit_flipped": lambda data: data[:-9] + bytes([data[-9] ^ 1]) + data[-8:],
}
REASONS = {"cut_to_100_bytes": "signature does not match", "empty": "the file is empty",
           "random_bytes": "not a cache entry", "one_bit_flipped": "signature does not match"}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_entries_are_reported_once_deleted_and_rebuilt(registry: NodeRegistry, tmp_path: Path,
                                                               damage: str) -> None:
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    for entry in _entries(cache):
        entry.write_bytes(DAMAGE[damage](entry.read_bytes()))
    _assert_rebuilt(registry, cache, [], REASONS[damage])


def _cut_image(item: dict[str, Any]) -> None:
    item["image"] = item["image"][..., :5]


def _labels_times(factor: int) -> Callable[[dict[str, Any]], None]:
    def change(item: dict[str, Any]) -> None:
        item["label"] = item["label"] * factor
    return change


def _other_name(item: dict[str, Any]) -> None:
    item["name"] = "item9"


WRONG: dict[str, tuple[Callable[[dict[str, Any]], None], bool, str]] = {  # change, signed, reason
    "labels_x7_unsigned": (_labels_times(7), False, "not a cache entry"),
    "image_cut_unsigned": (_cut_image, False, "not a cache entry"),
    "labels_x7_by_another_key": (_labels_times(7), None, "signature does not match"),
    "image_cut_to_5_voxels_signed": (_cut_image, True, "its label has shape (8, 8) but its image has (8, 5)"),
    "labels_x100_signed": (_labels_times(100), True, "its label holds values 0, 100; labels must be class indices"),
    "labels_halved_signed": (_labels_times(0.5), True, "its label holds values 0, 0.5; labels must be class"),
    "another_item_signed": (_other_name, True, "it holds item 'item9', not 'item"),
}


@pytest.mark.parametrize("case", WRONG)
def test_entries_with_wrong_content_are_refused_and_rebuilt(registry: NodeRegistry, tmp_path: Path,
                                                            case: str) -> None:
    """Unsigned or foreign entries fail the signature; signed ones (a leaked key) the checks fresh data passes."""
    change, signed, reason = WRONG[case]
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    key = key_path().read_bytes()
    for entry in _entries(cache):
        item = read_entry(entry, key)
        change(item)
        if signed is None:
            write_entry(entry, item, bytes(32))
        elif signed:
            write_entry(entry, item, key)
        else:
            torch.save(item, entry)
    _assert_rebuilt(registry, cache, [], reason)


def test_an_entry_moved_onto_another_items_name_is_refused(registry: NodeRegistry, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    first, *others = _entries(cache)
    for entry in others:
        entry.write_bytes(first.read_bytes())
    events: list[Event] = []
    items = _items(_val(registry, cache, events))
    assert [item["name"] for item in items] == [f"item{index}" for index in range(4)]
    assert len(_warnings(events)) == len(others) and all("signature does not match" in line
                                                          for line in _warnings(events))


def test_a_cache_from_another_user_is_rebuilt_with_few_lines(registry: NodeRegistry, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "colleague"))
    monkeypatch.setattr(disk_cache, "MAX_NOTES", 2)
    events: list[Event] = []
    _items(_val(registry, cache, events))
    lines = _warnings(events)
    assert len(lines) == 3 and all("signature does not match your cache key" in line for line in lines[:2])
    assert lines[2] == f"warning: cache: further problems with entries in '{_entries(cache)[0].parent}' are not listed"
    assert all(read_entry(entry, key_path().read_bytes()) for entry in _entries(cache)), "rebuilt with their key"


def test_the_key_is_the_users_own_and_outside_the_cache(registry: NodeRegistry, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    key = key_path()
    assert key == tmp_path / "config" / "medical-imaging-framework" / "cache-key"
    assert len(key.read_bytes()) == 32 and stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    _items(_val(registry, cache, []))
    assert key.read_bytes() == before, "made once, then reused"
    assert not [path for path in cache.rglob("*") if path.is_file() and path.suffix != ".pt"]


class Unpicklable:
    """A value no cache entry can hold (not a tensor, number, string or container)."""


class AddsObject(CountingStep):
    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**super().__call__(data), "extra": Unpicklable()}


def test_items_that_cannot_be_stored_or_written_are_computed_each_time(registry: NodeRegistry,
                                                                      tmp_path: Path) -> None:
    events: list[Event] = []
    items = _items(_val(registry, tmp_path / "odd", events, AddsObject()))
    assert all(isinstance(item["extra"], Unpicklable) for item in items) and not _entries(tmp_path / "odd")
    assert _warnings(events) == ["warning: cache: item 'item0' holds a tests.nodes.test_cache_hostile.Unpicklable, "
                                 "which a cache entry cannot hold; it is computed each time"]
    cache = tmp_path / "cache"
    _items(_val(registry, cache, []))
    blocked = _entries(cache)[0]
    blocked.unlink()
    blocked.mkdir()  # a folder where the entry should go: it cannot be written
    events.clear()
    items = _items(_val(registry, cache, events))
    assert [item["name"] for item in items] == [f"item{index}" for index in range(4)]
    (line,) = _warnings(events)
    assert line.startswith(f"warning: cache entry '{blocked}' cannot be written (")
    assert line.endswith("); the item is computed each time")


def test_a_pipeline_runs_through_a_poisoned_and_damaged_cache(registry: NodeRegistry, tmp_path: Path) -> None:
    """What `mif run` does: phantoms -> Apply (cache_dir) -> loaders -> Trainer, twice, the cache spoilt between."""
    graph = make_tiny_graph(registry, "", num_epochs=1)
    graph.nodes["phantoms"].config.update(count=8, size=16)
    graph.add_node(registry.create("transforms.NormalizeIntensity", "normalize"))
    graph.add_node(registry.create("transforms.Apply", "apply", cache_dir=str(tmp_path / "cache")))
    graph.links = [link for link in graph.links if link.source != "split"]
    graph.connect("normalize", "transform", "apply", "transform")
    for port in ("train", "val"):
        graph.connect("split", port, "apply", port)
        graph.connect("apply", port, f"{port}_loader", "dataset")
    first, _ = run_graph(graph)
    assert first.status == RunStatus.DONE, first.error
    entries = _entries(tmp_path / "cache")
    assert len(entries) == 8
    marker = tmp_path / "MARK"
    for index, entry in enumerate(entries):
        spoil = index % 4
        if spoil == 0:
            torch.save({"image": Evil(marker)}, entry)
        else:
            entry.write_bytes([b"", entry.read_bytes()[:100], os.urandom(4000)][spoil - 1])
    result, events = run_graph(graph)
    assert not marker.exists(), "the pickled code ran"
    assert result.status == RunStatus.DONE, result.error
    lines = [e.text for e in events if isinstance(e, LogLine) and e.node_id == "apply" and e.level == "warning"]
    assert sorted(lines) == sorted({line for line in lines}) and len(lines) == len(entries)
    assert all(sum(f"'{entry}'" in line for line in lines) == 1 for entry in entries)
