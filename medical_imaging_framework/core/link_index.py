"""Indexes over a graph's links, so that validating and ordering a pipeline take linear time.

`LinkList` is a list that counts its changes; the by-target and by-source indexes built from it are
cached until the next change, so ``Graph.inputs_of`` is a dict lookup instead of a scan of every link.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, SupportsIndex


class Link(Protocol):
    """What the indexes read of a link (`core.graph.Link` has it); a protocol keeps this module below graph."""

    source: str
    target: str
    target_port: str


def _changes(method_name: str) -> Any:
    method = getattr(list, method_name)

    def changed(self: LinkList, *args: Any, **kwargs: Any) -> Any:
        self.version += 1
        self.cache.clear()
        return method(self, *args, **kwargs)

    changed.__name__ = method_name
    return changed


class LinkList(list):  # type: ignore[type-arg]
    """A list of links that drops its cached indexes on every change."""

    def __init__(self, links: Iterable[Link] = ()) -> None:
        super().__init__(links)
        self.version = 0
        self.cache: dict[str, Any] = {}

    for _name in ("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "__setitem__",
                  "__delitem__", "__iadd__", "__imul__"):
        locals()[_name] = _changes(_name)
    del _name

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (list, (list(self),))


def _cached(links: list[Link], key: str, build: Any) -> Any:
    if not isinstance(links, LinkList):
        return build(links)
    if key not in links.cache:
        links.cache[key] = build(links)
    return links.cache[key]


def _by_target(links: list[Link]) -> dict[str, dict[str, Link]]:
    index: dict[str, dict[str, Link]] = {}
    for link in links:
        index.setdefault(link.target, {})[link.target_port] = link
    return index


def _by_source(links: list[Link]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for link in links:
        index.setdefault(link.source, []).append(link.target)
    return index


def inputs_by_target(links: list[Link]) -> dict[str, dict[str, Link]]:
    """``{target node: {input port: link}}`` (the last link wins where an input has several); do not mutate.

    Args:
        links: a graph's links.
    """
    return _cached(links, "by_target", _by_target)


def outgoing_targets(links: list[Link]) -> dict[str, list[str]]:
    """``{source node: [target node, ...]}`` in link order (cached for a `LinkList`); do not mutate.

    Args:
        links: a graph's links (or any list of them).
    """
    return _cached(links, "by_source", _by_source)
