"""The pipeline graph: nodes with config dicts, typed links, and validation."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from medical_imaging_framework.core.annotations import Annotation
from medical_imaging_framework.core.checks import CheckContext, Facts
from medical_imaging_framework.core.link_index import LinkList, inputs_by_target, outgoing_targets
from medical_imaging_framework.core.node_ids import NODE_ID_PATTERN, free_id
from medical_imaging_framework.core.node_spec import NodeSpec
from medical_imaging_framework.core.params import ParamError
from medical_imaging_framework.core.text import printable


@dataclass
class Node:
    """One node of a pipeline.

    Args:
        id: unique within the graph (letters, digits, ``_`` and ``-``).
        spec: the node type.
        config: parameter values by name; set them freely, ``Graph.validate`` checks them.
        position: canvas position (x, y).
    """

    id: str
    spec: NodeSpec
    config: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)

    @property
    def type_id(self) -> str:
        """The node type id, e.g. ``training.Trainer``."""
        return self.spec.type_id

    def parsed_config(self) -> dict[str, Any]:
        """Config with every value parsed by its parameter; raises the first `ParamError`."""
        parsed = {}
        for param in self.spec.params:
            parsed[param.name] = param.parse(self.config.get(param.name, param.default), self.id)
        return parsed

    def set_param(self, name: str, text: Any) -> None:
        """Parse ``text`` for parameter ``name`` and store it; raises `ParamError` and keeps the old value."""
        param = self.spec.param(name)
        if param is None:
            raise ParamError(self.id, name, f"unknown parameter for {self.type_id}")
        self.config[name] = param.parse(text, self.id)


@dataclass(frozen=True)
class Link:
    """A directed link from an output port to an input port."""

    source: str
    source_port: str
    target: str
    target_port: str

    def __str__(self) -> str:
        return f"{self.source}.{self.source_port} -> {self.target}.{self.target_port}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph, naming the node (and field, where there is one)."""

    node_id: str
    message: str
    field: str = ""

    def __str__(self) -> str:
        where = f"node '{printable(self.node_id)}'" if self.node_id else "pipeline"
        if self.field:
            where += f", field '{printable(self.field)}'"
        return f"{where}: {printable(self.message)}"


class LinkError(ValueError):
    """A link that cannot be made (unknown node/port, kind mismatch, occupied input, cycle)."""


class Graph:
    """Nodes plus links. Mutate through the methods; ``validate()`` reports every problem at once.

    Args:
        name: pipeline name shown in titles and logs.
    """

    def __init__(self, name: str = "pipeline") -> None:
        self.name = name
        self.description = ""  # one line, shown in the editor's File > Examples menu
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.annotations: list[Annotation] = []  # notes and groups on the canvas: saved, never run

    @property
    def links(self) -> list[Link]:
        """The links, in order (a list that keeps a by-target index up to date; assign or mutate freely)."""
        return self._links

    @links.setter
    def links(self, links: list[Link]) -> None:
        self._links = LinkList(links)

    def add_node(self, node: Node) -> Node:
        """Add ``node``; its id must be new and well formed."""
        if not NODE_ID_PATTERN.fullmatch(node.id):
            raise ValueError(
                f"node id '{printable(node.id)}' must start with a letter or _ and hold only letters, digits, _ or -"
            )
        if node.id in self.nodes:
            raise ValueError(f"node id '{printable(node.id)}' is already used")
        self.nodes[node.id] = node
        return node

    def unique_id(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``... whichever is free (see `core.node_ids`)."""
        return free_id(base, self.nodes)

    def remove_node(self, node_id: str) -> None:
        """Remove a node and every link touching it."""
        del self.nodes[node_id]
        self.links = [ln for ln in self.links if node_id not in (ln.source, ln.target)]

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> Link:
        """Link ``source.source_port`` to ``target.target_port``; raises `LinkError` if illegal."""
        link = Link(source, source_port, target, target_port)
        problem = self.link_problem(link)
        if problem:
            raise LinkError(problem)
        if self._reaches(target, source):
            raise LinkError(f"{link}: would make a cycle")
        self.links.append(link)
        return link

    def disconnect(self, link: Link) -> None:
        """Remove ``link`` if present."""
        if link in self.links:
            self.links.remove(link)

    def link_problem(self, link: Link, check_occupied: bool = True) -> str:
        """Why ``link`` is illegal, or "" when it is fine (cycles aside)."""
        src, dst = self.nodes.get(link.source), self.nodes.get(link.target)
        if src is None or dst is None:
            missing = link.source if src is None else link.target
            return f"{link}: no node '{missing}'"
        out_port, in_port = src.spec.output(link.source_port), dst.spec.input(link.target_port)
        if out_port is None:
            return f"{link}: {src.type_id} has no output '{link.source_port}'"
        if in_port is None:
            return f"{link}: {dst.type_id} has no input '{link.target_port}'"
        if out_port.kind != in_port.kind:
            return f"{link}: cannot link {out_port.kind} output to {in_port.kind} input"
        if check_occupied and any(
            ln.target == link.target and ln.target_port == link.target_port for ln in self.links
        ):
            return f"{link}: input '{link.target_port}' of '{link.target}' is already linked"
        return ""

    def link_problems(self) -> dict[Link, list[str]]:
        """Every illegal link (cycles aside) and why, in link order: an unknown node or port, a kind mismatch,
        or a second link into one input (the first link there stays the legal one)."""
        found: dict[Link, list[str]] = {}
        first_at: dict[tuple[str, str], Link] = {}
        for link in self.links:
            message = self.link_problem(link, check_occupied=False)
            if message:
                found.setdefault(link, []).append(message)
            key = (link.target, link.target_port)
            if key in first_at:
                found.setdefault(link, []).append(
                    f"input '{link.target_port}' has more than one link: {link} (already linked from "
                    f"{first_at[key].source}.{first_at[key].source_port}; an input takes one link)")
            else:
                first_at[key] = link
        return found

    def inputs_of(self, node_id: str) -> dict[str, Link]:
        """Links arriving at ``node_id``, by input port name."""
        return dict(inputs_by_target(self._links).get(node_id, {}))

    def upstream(self, node_id: str) -> Graph:
        """A graph of ``node_id`` and every node it depends on, with the links between them (the same nodes).

        Args:
            node_id: a node of this graph.
        """
        wanted, stack = {node_id}, [node_id]
        while stack:
            for link in self.inputs_of(stack.pop()).values():
                if link.source not in wanted:
                    wanted.add(link.source)
                    stack.append(link.source)
        part = Graph(f"{self.name}: {node_id}")
        for current in self.nodes:
            if current in wanted:
                part.nodes[current] = self.nodes[current]
        part.links = [link for link in self.links if link.source in wanted and link.target in wanted]
        return part

    def topological_order(self) -> list[str]:
        """Node ids so that every node comes after its inputs; raises `LinkError` on a cycle."""
        order, cyclic = self._kahn()
        if cyclic:
            raise LinkError("the pipeline has a cycle through: " + ", ".join(cyclic))
        return order

    def validate(self) -> list[Problem]:
        """Every problem in the graph (empty when it can run).

        Parameters are checked one by one, then the links, then (without a cycle) each node's own
        check hook in dependency order, fed the facts its upstream nodes stated (see `core.checks`).
        """
        problems: list[Problem] = []
        parsed: dict[str, dict[str, Any]] = {}
        for node in self.nodes.values():
            node_problems, config = self._node_problems(node)
            problems.extend(node_problems)
            if config is not None:
                parsed[node.id] = config
        bad_links = self.link_problems()
        for link, messages in bad_links.items():
            problems.extend(Problem(link.target if link.target in self.nodes else link.source, message)
                            for message in messages)
        order, cyclic = self._kahn()
        if cyclic:
            problems.append(Problem(cyclic[0], "the pipeline has a cycle through: " + ", ".join(cyclic)))
        else:
            problems.extend(self._check_problems(order, parsed, bad_links))
        return _unique(problems)

    def _check_problems(
        self, order: list[str], parsed: dict[str, dict[str, Any]], bad_links: set[Link]
    ) -> list[Problem]:
        """Run each node's check hook in ``order``; a node whose parameters failed states no facts."""
        outputs: dict[str, dict[str, Facts]] = {}
        problems: list[Problem] = []
        for node_id in order:
            node = self.nodes[node_id]
            config = parsed.get(node_id)
            if config is None:
                continue
            inputs = {
                port: outputs.get(link.source, {}).get(link.source_port, {})
                for port, link in self.inputs_of(node_id).items()
                if link not in bad_links
            }
            context = CheckContext(node_id=node_id, config=config, inputs=inputs)
            if node.spec.check is not None:
                node.spec.check(context)
            merged = context.merged_inputs()
            outputs[node_id] = {port.name: context.outputs.get(port.name, merged) for port in node.spec.outputs}
            problems.extend(Problem(where, message, field_name) for where, field_name, message in context.problems)
        return problems

    def _node_problems(self, node: Node) -> tuple[list[Problem], dict[str, Any] | None]:
        """The node's own problems, and its parsed config (None when a parameter or input is missing)."""
        if node.spec.placeholder:  # its type is not installed: one problem, and it states no facts
            return [Problem(node.id, node.spec.description)], None
        problems = []
        for name in node.config:
            if node.spec.param(name) is None:
                problems.append(Problem(node.id, f"unknown parameter for {node.type_id}", name))
        parsed: dict[str, Any] | None = {}
        for param in node.spec.params:
            try:
                value = param.parse(node.config.get(param.name, param.default), node.id)
            except ParamError as error:
                problems.append(Problem(node.id, error.rule, param.name))
                parsed = None
            else:
                if parsed is not None:
                    parsed[param.name] = value
        linked = self.inputs_of(node.id)
        for port in node.spec.inputs:
            if port.required and port.name not in linked:
                problems.append(Problem(node.id, f"required input '{port.name}' ({port.kind}) is not linked"))
                parsed = None
        return problems, parsed

    def _reaches(self, start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(outgoing_targets(self._links).get(current, ()))
        return False

    def _kahn(self) -> tuple[list[str], list[str]]:
        """(order, nodes left on a cycle) over the links between existing nodes."""
        valid = [ln for ln in self.links if ln.source in self.nodes and ln.target in self.nodes]
        indegree = {node_id: 0 for node_id in self.nodes}
        for link in valid:
            indegree[link.target] += 1
        targets = outgoing_targets(valid)  # linear time: one pass over the links, not one per node
        ready = deque(node_id for node_id, d in indegree.items() if d == 0)
        order: list[str] = []
        while ready:
            current = ready.popleft()
            order.append(current)
            for target in targets.get(current, ()):
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
        placed = set(order)
        left = {node_id for node_id in self.nodes if node_id not in placed}
        # Peel off nodes that only lead away from the cycle, so the message names the cycle itself.
        peeled = True
        while peeled:
            peeled = False
            for node_id in list(left):
                if not any(target in left for target in targets.get(node_id, ())):
                    left.discard(node_id)
                    peeled = True
        return order, [node_id for node_id in self.nodes if node_id in left]


def _unique(problems: list[Problem]) -> list[Problem]:
    """``problems`` without repeats (two nodes may report the same conflict), in first-seen order."""
    return list(dict.fromkeys(problems))
