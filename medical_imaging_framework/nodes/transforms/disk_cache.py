"""An on-disk cache of the deterministic transform steps (MONAI ``PersistentDataset``), for data sets larger
than memory: each item's result up to the first random step is written once to a folder and read back in
later epochs (and later runs), so memory stays flat as the number of cases grows.

Items are keyed by their index and name, and the folder gets one subfolder per transform chain, so changing
the deterministic steps never reads a stale result. Delete the folder when the images themselves change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monai.data import PersistentDataset
from monai.transforms import MapTransform, Transform

from medical_imaging_framework.run.control import NodeError


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

    Args:
        data: the source dataset (items are dicts with a ``name``).
        compose: the MONAI ``Compose`` to apply (random steps run every time, after the cached ones).
        cache_dir: the folder (created when missing); a subfolder per transform chain is used inside.
        failure: ``failure(data, index, error) -> message`` for a step that fails on an item.
    """

    def __init__(self, data: Any, compose: Any, cache_dir: str | Path, failure: Any) -> None:
        self.source, self._failure = data, failure
        steps = tuple(compose.transforms)
        folder = Path(cache_dir).expanduser() / f"chain-{chain_fingerprint(steps)}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise NodeError(f"cache_dir '{cache_dir}': cannot create the cache folder: {error.strerror or error}") \
                from None
        compose.transforms = (FetchItem(data), *steps)
        keys = [{"index": index, "name": _item_name(data, index)} for index in range(len(data))]
        super().__init__(data=keys, transform=compose, cache_dir=folder, track_meta=True, weights_only=False)

    def _transform(self, index: int) -> Any:
        with failures_named(self.source, index, self._failure):
            return super()._transform(index)
