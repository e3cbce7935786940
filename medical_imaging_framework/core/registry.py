"""Node types (`NodeSpec`) and the registry that creates nodes from them.

Built-in nodes and third-party nodes are found the same way: through the entry-point group
``medical_imaging_framework.nodes``, whose entries are ``register(registry)`` functions. That keeps
core free of any import of the node library.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from medical_imaging_framework.core.graph import Node
from medical_imaging_framework.core.node_ids import readable_id
from medical_imaging_framework.core.node_spec import NodeSpec, RunFunction

ENTRY_POINT_GROUP = "medical_imaging_framework.nodes"

log = logging.getLogger(__name__)

__all__ = ["ENTRY_POINT_GROUP", "NodeRegistry", "NodeSpec", "RunFunction", "UnknownNodeType"]


class UnknownNodeType(KeyError):
    """No node type with that id is registered."""

    def __init__(self, type_id: str) -> None:
        self.type_id = type_id
        super().__init__(type_id)

    def __str__(self) -> str:
        return f"unknown node type '{self.type_id}'"


class NodeRegistry:
    """The set of node types a pipeline can use.

    Args:
        discover: load the built-in and third-party node types from the entry-point group
            on first use. Pass False for an empty registry (tests, embedding).
    """

    def __init__(self, discover: bool = True) -> None:
        self._specs: dict[str, NodeSpec] = {}
        self._discover_pending = discover
        self.plugin_errors: list[str] = []  # one line per plugin that failed; filled by `load_plugins`

    def register(self, spec: NodeSpec) -> None:
        """Add a node type; a second type with the same id is refused."""
        if spec.type_id in self._specs:
            raise ValueError(f"node type '{spec.type_id}' is already registered")
        self._specs[spec.type_id] = spec

    def register_all(self, specs: Iterable[NodeSpec]) -> None:
        """Add several node types."""
        for spec in specs:
            self.register(spec)

    def get(self, type_id: str) -> NodeSpec:
        """The spec for ``type_id``; raises `UnknownNodeType`."""
        self.load_plugins()
        try:
            return self._specs[type_id]
        except KeyError:
            raise UnknownNodeType(type_id) from None

    def __contains__(self, type_id: object) -> bool:
        self.load_plugins()
        return type_id in self._specs

    def specs(self) -> list[NodeSpec]:
        """All registered types, sorted by category then title."""
        self.load_plugins()
        return sorted(self._specs.values(), key=lambda s: (s.category, s.title))

    def create(self, type_id: str, node_id: str | None = None, **config: Any) -> Node:
        """A new node of ``type_id`` whose config holds every default, updated by ``config``.

        Args:
            type_id: e.g. ``"training.Trainer"``.
            node_id: the node's id; derived from the type when omitted.
            config: parameter values to set (not validated here; see ``Graph.validate``).
        """
        spec = self.get(type_id)
        settings = spec.defaults()
        settings.update(config)
        return Node(id=node_id or _default_id(type_id), spec=spec, config=settings)

    def load_plugins(self) -> list[str]:
        """Load the entry-point plugins now (only the first call does), and return `plugin_errors`.

        A plugin that raises is skipped; its line (``node plugin 'NAME' (VALUE) failed to load: ...``)
        is kept in `plugin_errors` for the command line and the editor to show.
        """
        if self._discover_pending:
            self._discover_pending = False
            from importlib import metadata  # with email and zipfile: ~10 ms that a start which reads no spec skips

            for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    entry.load()(self)
                except Exception as error:  # a broken plugin must not take the application down
                    message = (f"node plugin '{entry.name}' ({entry.value}) failed to load: "
                               f"{type(error).__name__}: {error}")
                    log.info(message)  # shown by the caller (cli, editor), not twice through logging's last resort
                    self.plugin_errors.append(message)
        return self.plugin_errors

def _default_id(type_id: str) -> str:
    """``data.SyntheticPhantoms`` -> ``synthetic_phantoms``; ``models.UNet`` -> ``unet`` (see `readable_id`)."""
    return readable_id(type_id)
