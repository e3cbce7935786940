"""`mif run` puts off Python's full garbage collections while a run starts.

A run's start imports torch, MONAI (whose ``__init__`` imports nearly all of its submodules) and, from the
optimizer's constructor, ``torch._dynamo``: about 900,000 objects that live as long as the process. Python
collects its oldest generation each time the heap has grown by a quarter, so that import walks the growing heap
seven times: 0.7-1.2 s of a 4.7-6 s import on the 2-core machine (a plain PyTorch + MONAI script pays it too;
bench/peer_loop.py). While the run starts, only full collections are put off; the young generations are collected
as usual, so the short-lived cycles of that time are still freed. The first training step (its `Progress` event)
or the end of the run puts the thresholds back; the first full collection after that walks the heap once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from medical_imaging_framework.run.events import Progress

NO_FULL_COLLECTION = 1 << 30  # a threshold for the oldest generation that a run's start never reaches


class StartCollections:
    """Puts off full collections (`hold`) until `release`; does nothing where the collector is off already."""

    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None

    @property
    def held(self) -> bool:
        """Whether full collections are put off now."""
        return self.saved is not None

    def hold(self) -> None:
        """Put off full collections (the young generations keep their thresholds)."""
        if self.saved is None and gc.isenabled():
            young, middle, oldest = self.saved = gc.get_threshold()
            gc.set_threshold(young, middle, max(oldest, NO_FULL_COLLECTION))

    def release(self) -> None:
        """Give the oldest generation its threshold back (once; later calls do nothing)."""
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            self.saved = None

    def watching(self, sink: Callable[[Any], None]) -> Callable[[Any], None]:
        """``sink``, releasing at the first training step it is told of.

        Args:
            sink: the run's event sink.
        """

        def sink_that_releases(event: Any) -> None:
            if self.saved is not None and isinstance(event, Progress):
                self.release()
            sink(event)

        return sink_that_releases


@contextmanager
def full_collections_put_off() -> Iterator[StartCollections]:
    """Full collections put off inside the block (or until its `StartCollections.release`), back after it."""
    collections = StartCollections()
    collections.hold()
    try:
        yield collections
    finally:
        collections.release()


__all__ = ["NO_FULL_COLLECTION", "StartCollections", "full_collections_put_off"]
