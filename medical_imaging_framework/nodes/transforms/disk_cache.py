"""An on-disk cache of the deterministic transform steps (MONAI ``PersistentDataset``), for data sets larger
than memory: each item's result up to the first random step is written once to a folder and read back in
later epochs (and later runs), so memory stays flat as the number of cases grows.

Items are keyed by their index and name, and the folder gets one subfolder per transform chain, so changing
the deterministic steps never reads a stale result. Delete the folder when the images themselves change.
What an entry holds, and why reading one cannot run code: `cache_entries`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

from monai.data import PersistentDataset
from monai.transforms import MapTransform, Transform

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.transforms.cache_entries import BadEntry, Unstorable, read_entry, write_entry
from medical_imaging_framework.nodes.transforms.cache_key import user_cache_key
from medical_imaging_framework.nodes.transforms.item_checks import item_problem
from medical_imaging_framework.nodes.transforms.item_keys import IMAGE
from medical_imaging_framework.run.control import NodeError

MAX_NOTES = 20


class FetchItem(Transform):
    """The first (cached) step: turns ``{"index": i}`` into item ``i`` of the source dataset."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(self.source[int(data["index"])])


def _item_name(data: Any, index: int) -> str:
    try:
        return str(data[index].get("name", f"#{index}"))
    except Exception:
        return f"#{index}"


def chain_fingerprint(steps: Sequence[MapTransform]) -> str:
    """A short, stable hash of the steps' types and plain settings (names a cache subfolder).

    Args:
        steps: the transform steps whose results are cached.
    """
    described = []
    for step in steps:
        settings = {key: repr(value) for key, value in sorted(vars(step).items())
                    if isinstance(value, (bool, int, float, str, tuple, list)) and not key.startswith("_")}
        described.append([type(step).__module__, type(step).__qualname__, settings])
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


@contextmanager
def failures_named(data: Any, index: int, failure: Callable[[Any, int, Exception], str]) -> Iterator[None]:
    """Turn an error while item ``index`` of ``data`` is prepared into a `NodeError` worded by ``failure``.

    Args:
        data: the source dataset.
        index: the item being prepared.
        failure: ``failure(data, index, error) -> message``.
    """
    try:
        yield
    except NodeError:
        raise
    except Exception as error:
        raise NodeError(failure(data, index, error)) from None


class DiskCachedDataset(PersistentDataset):
    """``data`` seen through ``compose``, with the steps before the first random one cached in ``cache_dir``.

    Entries are signed with the user's key and hold tensors and plain values only (`cache_entries`), so
    reading the folder never runs code. The cache is disposable: an entry that is damaged, not signed with
    the user's key, or fails the checks fresh data passes (`item_checks`) is reported once (naming the
    file), deleted and rebuilt; one that cannot be written is computed each time. No cache problem stops
    a run.

    Args:
        data: the source dataset (items are dicts with a ``name``).
        compose: the MONAI ``Compose`` to apply (random steps run every time, after the cached ones).
        cache_dir: the folder (created when missing); a subfolder per transform chain is used inside.
        failure: ``failure(data, index, error) -> message`` for a step that fails on an item.
        log: ``log(line)`` for the lines about the cache (the Apply node's log); standard error without.
        spatial_dims: the dimensionality the chain checks its images for (None: that of the first item).
    """

    def __init__(self, data: Any, compose: Any, cache_dir: str | Path, failure: Any,
                 log: Callable[[str], None] | None = None, spatial_dims: int | None = None) -> None:
        self.source, self._failure = data, failure
        self._log, self._log_pid, self._logged = log, os.getpid(), set[str]()
        steps = tuple(compose.transforms)
        folder = Path(cache_dir).expanduser() / f"chain-{chain_fingerprint(steps)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise NodeError(f"cache_dir '{cache_dir}': cannot create the cache folder: {error.strerror or error}") \
                from None
        self._key = user_cache_key(lambda line: self._note(line, once="key"))
        self._dims = spatial_dims
        compose.transforms = (FetchItem(data), *steps)
        keys = [{"index": index, "name": _item_name(data, index)} for index in range(len(data))]
        super().__init__(data=keys, transform=compose, cache_dir=folder, track_meta=True, weights_only=True)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_log"] = None  # the run's event sink stays in the process that runs the pipeline
        return state

    def _transform(self, index: int) -> Any:
        with failures_named(self.source, index, self._failure):
            return super()._transform(index)

    def _cachecheck(self, item_transformed: Any) -> Any:
        """The cached part's result for one item: read back from its entry, or computed and written."""
        name = str(item_transformed["name"])
        entry = Path(self.cache_dir) / f"{self.hash_func(item_transformed).decode('utf-8')}.pt"
        if entry.is_file():
            try:
                item = read_entry(entry, self._key)
                problem = item_problem(item, name, self._dims)
                if problem is not None:
                    raise BadEntry(problem)
                return self._seen(item)
            except BadEntry as bad:
                self._discard(entry, str(bad))
        item = self._pre_transform(deepcopy(item_transformed))
        try:
            write_entry(entry, item, self._key)
        except Unstorable as error:
            self._note(f"cache: item '{name}' holds {error}, which a cache entry cannot hold; it is computed "
                       "each time", once="unstorable")
        except OSError as error:
            self._note(f"cache entry '{entry}' cannot be written ({error.strerror or error}); the item is computed "
                       "each time", once=str(entry))
        return self._seen(item)

    def _seen(self, item: Any) -> Any:
        image = item.get(IMAGE) if isinstance(item, dict) else None
        if self._dims is None and image is not None and hasattr(image, "ndim"):
            self._dims = image.ndim - 1
        return item

    def _discard(self, entry: Path, reason: str) -> None:
        try:
            entry.unlink(missing_ok=True)
            done = "deleted; rebuilding it"
        except OSError as error:
            done = f"it cannot be deleted ({error.strerror or error}); the item is computed this time"
        self._note(f"cache entry '{entry}' refused: {reason}; {done}", once=str(entry))

    def _note(self, line: str, once: str) -> None:
        """Report ``line`` once per ``once`` key, at most `MAX_NOTES` lines (each names its file)."""
        if once in self._logged:
            return
        self._logged.add(once)
        if len(self._logged) > MAX_NOTES + 1:
            return
        if len(self._logged) == MAX_NOTES + 1:
            line = f"cache: further problems with entries in '{self.cache_dir}' are not listed"
        if self._log is not None and os.getpid() == self._log_pid:
            self._log(printable(line))
        else:  # a loader worker process: the run's events cannot be reached from here
            print(f"warning: {printable(line)}", file=sys.stderr, flush=True)
