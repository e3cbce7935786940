"""Edits of a pipeline as undoable commands on the core `Graph`, and the observers that follow them.

The `Graph` is the document. A `GraphEditor` owns its undo history: every user edit (add or remove
nodes, link, unlink, set parameters, move) is one command pushed on that history, and every change it
makes to the graph is announced to the registered `GraphObserver` objects (the canvas is one).
Undo puts nodes and links back at their old places in the graph's order, so the file form of the
graph after ``n`` edits and ``n`` undos is exactly the one before. Qt-free: the editor in ``app``
observes; nothing here knows that a GUI exists.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from medical_imaging_framework.core.annotation_edits import AnnotationEdits, _AddAnnotation
from medical_imaging_framework.core.annotations import Annotation
from medical_imaging_framework.core.edit_history import Command, CompositeCommand, EditHistory
from medical_imaging_framework.core.graph import Graph, Link, LinkError, Node
from medical_imaging_framework.core.node_edits import NodeEdits
from medical_imaging_framework.core.node_ids import new_node_id
from medical_imaging_framework.core.registry import NodeSpec

Position = tuple[float, float]


class GraphObserver:
    """Receives every change an editor makes to its graph. Override what you need; the rest do nothing."""

    def node_added(self, node: Node) -> None:
        """``node`` is now in the graph."""

    def node_removed(self, node: Node) -> None:
        """``node`` left the graph (its links were removed first, each announced)."""

    def link_added(self, link: Link) -> None:
        """``link`` is now in the graph."""

    def link_removed(self, link: Link) -> None:
        """``link`` left the graph."""

    def config_changed(self, node: Node) -> None:
        """``node.config`` was replaced."""

    def position_changed(self, node: Node) -> None:
        """``node.position`` changed."""

    def annotation_added(self, annotation: Annotation) -> None:
        """A note or group is now in ``graph.annotations``."""

    def annotation_removed(self, annotation: Annotation) -> None:
        """A note or group left ``graph.annotations``."""

    def annotation_changed(self, annotation: Annotation) -> None:
        """Fields of a note or group (title, text, place, size) changed."""


class GraphEditor(NodeEdits, AnnotationEdits):
    """The one way to change an open pipeline: commands on ``graph`` recorded in ``history``.

    Args:
        graph: the pipeline; the editor changes it in place and never replaces it.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.history = EditHistory()
        self._observers: list[GraphObserver] = []

    # -- observers ---------------------------------------------------------------------------
    def add_observer(self, observer: GraphObserver) -> None:
        """Announce every later change of the graph to ``observer``."""
        self._observers.append(observer)

    def remove_observer(self, observer: GraphObserver) -> None:
        """Stop announcing changes to ``observer``."""
        if observer in self._observers:
            self._observers.remove(observer)

    def _notify(self, method: str, subject: Any) -> None:
        for observer in list(self._observers):
            getattr(observer, method)(subject)

    # -- primitive changes (called by the commands only) -------------------------------------
    def _insert_node(self, node: Node, index: int) -> None:
        items = list(self.graph.nodes.items())
        items.insert(index, (node.id, node))
        self.graph.nodes = dict(items)
        self._notify("node_added", node)

    def _take_node(self, node_id: str) -> int:
        index = list(self.graph.nodes).index(node_id)
        node = self.graph.nodes.pop(node_id)
        self._notify("node_removed", node)
        return index

    def _insert_link(self, link: Link, index: int) -> None:
        self.graph.links.insert(index, link)
        self._notify("link_added", link)

    def _take_link(self, link: Link) -> int:
        index = self.graph.links.index(link)
        del self.graph.links[index]
        self._notify("link_removed", link)
        return index

    def _set_config(self, node_id: str, config: dict[str, Any]) -> None:
        node = self.graph.nodes[node_id]
        node.config = copy.deepcopy(config)
        self._notify("config_changed", node)

    def _set_position(self, node_id: str, position: Position) -> None:
        node = self.graph.nodes[node_id]
        node.position = position
        self._notify("position_changed", node)

    # -- queries -----------------------------------------------------------------------------
    def new_id(self, type_id: str, also_taken: Iterable[str] = ()) -> str:
        """A free, readable id for a new node of ``type_id`` (see `new_node_id`)."""
        return new_node_id(type_id, set(self.graph.nodes) | set(also_taken))

    def link_refusal(self, link: Link, replacing: Sequence[Link] = ()) -> str:
        """Why ``link`` cannot be made ("" when it can), once the links in ``replacing`` are gone.

        Args:
            link: the proposed link.
            replacing: links that the same edit removes first (e.g. the one on an occupied input).
        """
        return self._refusal_with(link, replacing, ())

    # -- commands ----------------------------------------------------------------------------
    def _push(self, text: str, commands: Sequence[Command]) -> None:
        if commands:
            self.history.push(commands[0] if len(commands) == 1 else CompositeCommand(text, commands))

    def add_node(self, node: Node) -> Node:
        """Add ``node`` (its id must be new) as one undo step."""
        if node.id in self.graph.nodes:
            raise ValueError(f"node id '{node.id}' is already used")
        Graph().add_node(node)  # the id rules of Graph.add_node, without touching this graph
        self._push(f"add '{node.id}'", [_AddNode(self, node)])
        return node

    def create_node(self, spec: NodeSpec, position: Position = (0.0, 0.0), config: Mapping[str, Any] | None = None,
                    node_id: str | None = None) -> Node:
        """Add a new node of ``spec`` with its defaults (updated by ``config``) as one undo step.

        Args:
            spec: the node type.
            position: canvas position.
            config: parameter values replacing defaults.
            node_id: the id; a readable free one (`new_node_id`) when None.
        """
        settings = spec.defaults()
        settings.update(copy.deepcopy(dict(config or {})))
        node = Node(id=node_id or self.new_id(spec.type_id), spec=spec, config=settings, position=position)
        return self.add_node(node)

    def remove_nodes(self, node_ids: Iterable[str], annotations: Iterable[Annotation] = ()) -> None:
        """Remove nodes and every link touching them (and ``annotations``, notes or groups), as one undo step."""
        ids = [i for i in dict.fromkeys(node_ids) if i in self.graph.nodes]
        commands: list[Command] = []
        touching = [ln for ln in self.graph.links if ln.source in ids or ln.target in ids]
        commands += [_RemoveLink(self, ln) for ln in touching]
        commands += [_RemoveNode(self, node_id) for node_id in ids]
        commands += self.annotation_removals(list(annotations))
        self._push("delete " + ", ".join(f"'{i}'" for i in ids), commands)

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> Link:
        """Link ``source.source_port -> target.target_port`` as one undo step; raises `LinkError`."""
        link = Link(source, source_port, target, target_port)
        self.rewire([], [link])
        return link

    def disconnect(self, links: Iterable[Link]) -> None:
        """Remove ``links`` (those present) as one undo step."""
        self.rewire(list(links), [])

    def rewire(self, unlink: Sequence[Link], link: Sequence[Link]) -> None:
        """Remove ``unlink`` then add ``link``, as one undo step; nothing changes when a link is refused.

        Raises:
            LinkError: naming the first refused link and why.
        """
        present = [ln for ln in dict.fromkeys(unlink) if ln in self.graph.links]
        new = [ln for ln in dict.fromkeys(link) if ln not in self.graph.links or ln in present]
        accepted: list[Link] = []
        for candidate in new:
            gone = [ln for ln in self.graph.links if ln in present]
            problem = self._refusal_with(candidate, gone, accepted)
            if problem:
                raise LinkError(problem)
            accepted.append(candidate)
        commands: list[Command] = [_RemoveLink(self, ln) for ln in present]
        commands += [_AddLink(self, ln) for ln in accepted]
        self._push("link" if accepted else "unlink", commands)

    def _refusal_with(self, link: Link, gone: Sequence[Link], added: Sequence[Link]) -> str:
        probe = Graph(self.graph.name)
        probe.nodes = self.graph.nodes
        probe.links = [ln for ln in self.graph.links if ln not in gone] + list(added)
        try:
            probe.connect(link.source, link.source_port, link.target, link.target_port)
        except LinkError as error:
            return str(error)
        return ""

    def set_config(self, node_id: str, config: Mapping[str, Any]) -> None:
        """Replace the parameters of ``node_id`` as one undo step (no step when nothing changes)."""
        old = self.graph.nodes[node_id].config
        if dict(config) != old:
            self._push(f"edit parameters of '{node_id}'", [_SetConfig(self, node_id, old, dict(config))])

    def move_nodes(self, positions: Mapping[str, Position],
                   annotations: Mapping[Annotation, Position] | None = None) -> None:
        """Move nodes to ``positions`` (node id -> (x, y)), and notes or groups to theirs, as one undo step."""
        moves = {
            node_id: (self.graph.nodes[node_id].position, (float(xy[0]), float(xy[1])))
            for node_id, xy in positions.items()
            if node_id in self.graph.nodes and tuple(self.graph.nodes[node_id].position) != tuple(xy)
        }
        commands: list[Command] = [_MoveNodes(self, moves)] if moves else []
        commands += self.annotation_moves(annotations or {})
        self._push("move " + ", ".join(f"'{i}'" for i in moves), commands)

    def insert(self, nodes: Sequence[Node], links: Sequence[Link], text: str = "paste",
               annotations: Sequence[Annotation] = ()) -> None:
        """Add ``nodes``, the ``links`` among (or to) them and ``annotations`` as one undo step (paste, templates).

        Raises:
            LinkError: a link that cannot be made; nothing is added then.
            ValueError: a node id already used.
        """
        taken = set(self.graph.nodes)
        for node in nodes:
            if node.id in taken:
                raise ValueError(f"node id '{node.id}' is already used")
            taken.add(node.id)
        probe = Graph(self.graph.name)
        probe.nodes = {**self.graph.nodes, **{node.id: node for node in nodes}}
        probe.links = list(self.graph.links)
        for link in links:
            probe.connect(link.source, link.source_port, link.target, link.target_port)
        commands: list[Command] = [_AddNode(self, node) for node in nodes]
        commands += [_AddLink(self, link) for link in links]
        commands += [_AddAnnotation(self, annotation) for annotation in annotations]
        self._push(text, commands)

    def paste_graph(self, part: Graph, offset: Position = (0.0, 0.0)) -> list[str]:
        """Add copies of the nodes, links and annotations (notes, groups) of ``part``, the nodes under new
        readable ids, shifted by ``offset`` (positions rounded to 1/100, as every canvas position), as one
        undo step; returns the new node ids (links to nodes outside ``part`` are dropped).

        Args:
            part: e.g. the copied nodes read back from the clipboard.
            offset: added to every position.
        """
        renamed: dict[str, str] = {}
        nodes = []
        for node in part.nodes.values():
            renamed[node.id] = self.new_id(node.type_id, renamed.values())
            position = (round(node.position[0] + offset[0], 2), round(node.position[1] + offset[1], 2))
            nodes.append(Node(renamed[node.id], node.spec, copy.deepcopy(node.config), position))
        links = [Link(renamed[ln.source], ln.source_port, renamed[ln.target], ln.target_port)
                 for ln in part.links if ln.source in renamed and ln.target in renamed]
        annotations = [dataclasses.replace(a, x=round(a.x + offset[0], 2), y=round(a.y + offset[1], 2))
                       for a in part.annotations]
        self.insert(nodes, links, annotations=annotations)
        return [node.id for node in nodes]

    def undo(self) -> bool:
        """Undo the last step; False when there is none."""
        return self.history.undo()

    def redo(self) -> bool:
        """Redo the next step; False when there is none."""
        return self.history.redo()


class _AddNode:
    def __init__(self, editor: GraphEditor, node: Node) -> None:
        self.editor, self.node, self.text = editor, node, f"add '{node.id}'"

    def redo(self) -> None:
        self.editor._insert_node(self.node, len(self.editor.graph.nodes))

    def undo(self) -> None:
        self.editor._take_node(self.node.id)


class _RemoveNode:
    def __init__(self, editor: GraphEditor, node_id: str) -> None:
        self.editor, self.node, self.text = editor, editor.graph.nodes[node_id], f"delete '{node_id}'"
        self.index = -1

    def redo(self) -> None:
        self.index = self.editor._take_node(self.node.id)

    def undo(self) -> None:
        self.editor._insert_node(self.node, self.index)


class _AddLink:
    def __init__(self, editor: GraphEditor, link: Link) -> None:
        self.editor, self.link, self.text = editor, link, f"link {link}"

    def redo(self) -> None:
        self.editor._insert_link(self.link, len(self.editor.graph.links))

    def undo(self) -> None:
        self.editor._take_link(self.link)


class _RemoveLink:
    def __init__(self, editor: GraphEditor, link: Link) -> None:
        self.editor, self.link, self.text = editor, link, f"unlink {link}"
        self.index = -1

    def redo(self) -> None:
        self.index = self.editor._take_link(self.link)

    def undo(self) -> None:
        self.editor._insert_link(self.link, self.index)


class _SetConfig:
    def __init__(self, editor: GraphEditor, node_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.editor, self.node_id, self.text = editor, node_id, f"edit parameters of '{node_id}'"
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def redo(self) -> None:
        self.editor._set_config(self.node_id, self.new)

    def undo(self) -> None:
        self.editor._set_config(self.node_id, self.old)


class _MoveNodes:
    def __init__(self, editor: GraphEditor, moves: dict[str, tuple[Position, Position]]) -> None:
        self.editor, self.moves, self.text = editor, moves, "move " + ", ".join(f"'{i}'" for i in moves)

    def redo(self) -> None:
        for node_id, (_, new) in self.moves.items():
            self.editor._set_position(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.moves.items():
            self.editor._set_position(node_id, old)
