"""Node edits beyond add/remove, mixed into `GraphEditor`: renaming a node (its links follow) and adding
a node linked to a port (a link dropped where no port is), each one undo step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medical_imaging_framework.core.edit_history import Command
from medical_imaging_framework.core.graph import Graph, Link, LinkError, Node
from medical_imaging_framework.core.node_ids import id_refusal
from medical_imaging_framework.core.node_spec import NodeSpec

Position = tuple[float, float]


class NodeEdits:
    """The rename and linked-add commands of `GraphEditor` (which provides ``graph``, ``_push``, ``insert``,
    ``new_id`` and the primitive changes)."""

    graph: Graph

    def _push(self, text: str, commands: Sequence[Command]) -> None:
        raise NotImplementedError

    def new_id(self, type_id: str, also_taken: Any = ()) -> str:
        raise NotImplementedError

    def insert(self, nodes: Sequence[Node], links: Sequence[Link], text: str = "paste") -> None:
        raise NotImplementedError

    def create_linked_node(self, spec: NodeSpec, position: Position, node_id: str, port: str,
                           from_output: bool) -> tuple[Node, Link]:
        """Add a new node of ``spec`` linked to ``node_id.port`` through its first port of the same kind,
        as one undo step (a link dragged from a port and dropped where no port is).

        Args:
            spec: the new node's type.
            position: its canvas position.
            node_id: the node the link was dragged from.
            port: that node's port.
            from_output: whether ``port`` is an output (the new node then takes it on an input).

        Raises:
            LinkError: ``spec`` has no port of that kind, or the link is refused; nothing is added then.
        """
        start = self.graph.nodes[node_id].spec
        start_port = start.output(port) if from_output else start.input(port)
        if start_port is None:
            raise LinkError(f"'{node_id}' has no {'output' if from_output else 'input'} '{port}'")
        end_port = spec.port_of_kind(start_port.kind, on_input=from_output)
        if end_port is None:
            side = "input" if from_output else "output"
            raise LinkError(f"{spec.title} has no {side} of kind {start_port.kind}")
        node = Node(self.new_id(spec.type_id), spec, spec.defaults(), position)
        link = (Link(node_id, port, node.id, end_port.name) if from_output
                else Link(node.id, end_port.name, node_id, port))
        self.insert([node], [link], text=f"add '{node.id}' linked to '{node_id}'")
        return node, link

    def rename_refusal(self, node_id: str, new_id: str) -> str:
        """Why ``node_id`` cannot be renamed ``new_id`` ("" when it can; see `id_refusal`)."""
        if node_id not in self.graph.nodes:
            return f"there is no node '{node_id}'"
        return id_refusal(new_id, set(self.graph.nodes) - {node_id})

    def rename_node(self, node_id: str, new_id: str) -> bool:
        """Give ``node_id`` the id ``new_id``; its links follow. One undo step; False when nothing changes.

        Args:
            node_id: the node's current id.
            new_id: the new id (the id rule of `id_refusal`).

        Raises:
            ValueError: ``new_id`` breaks the id rule or is used by another node (the message says which).
        """
        if new_id == node_id:
            return False
        problem = self.rename_refusal(node_id, new_id)
        if problem:
            raise ValueError(problem)
        self._push(f"rename '{node_id}' to '{new_id}'", [_RenameNode(self, node_id, new_id)])
        return True


class _RenameNode:
    """Swap the node for a copy under the new id at the same place in the graph's order, and every link
    touching it for the renamed link at the same place (announced as removals and additions)."""

    def __init__(self, editor: Any, old_id: str, new_id: str) -> None:
        self.editor, self.old_id, self.new_id = editor, old_id, new_id
        self.text = f"rename '{old_id}' to '{new_id}'"

    def redo(self) -> None:
        self._swap(self.old_id, self.new_id)

    def undo(self) -> None:
        self._swap(self.new_id, self.old_id)

    def _swap(self, old: str, new: str) -> None:
        editor = self.editor
        touching = [(i, ln) for i, ln in enumerate(editor.graph.links) if old in (ln.source, ln.target)]
        for _, link in reversed(touching):
            editor._take_link(link)
        node = editor.graph.nodes[old]
        index = editor._take_node(old)
        editor._insert_node(Node(new, node.spec, node.config, node.position), index)
        for i, ln in touching:
            editor._insert_link(Link(new if ln.source == old else ln.source, ln.source_port,
                                     new if ln.target == old else ln.target, ln.target_port), i)
