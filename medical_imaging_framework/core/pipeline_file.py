"""Pipeline files: versioned JSON, read and written with an exact round trip. Never pickle."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from medical_imaging_framework.core.annotations import annotation_from_dict
from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.core.examples import resolve_pipeline
from medical_imaging_framework.core.graph import NODE_ID_PATTERN, Graph, Link, Node
from medical_imaging_framework.core.missing_node import UNKNOWN_KIND, missing_spec
from medical_imaging_framework.core.node_spec import NodeSpec
from medical_imaging_framework.core.params import shown_value
from medical_imaging_framework.core.registry import NodeRegistry, UnknownNodeType
from medical_imaging_framework.core.text import printable

FORMAT = "mif-pipeline"
VERSION = 1
ANNOTATED_VERSION = 2  # version 2 adds "annotations"; a file without any is still written as version 1
MAX_DEPTH = 64  # nesting of lists/objects; pipeline files need 4, Python's parser fails near 1000
MAX_DIGITS = 4300  # Python's own limit for turning digits into an int


class PipelineFileError(ValueError):
    """A pipeline file that cannot be read; the message names the file and where."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = str(path)
        self.detail = printable(message, keep_newlines=True)
        super().__init__(f"{printable(self.path)}: {self.detail}")


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    """The JSON-ready form of ``graph``: version 1, or version 2 when it holds annotations (notes, groups),
    so that a file without them stays readable by the mif versions that read version 1 only."""
    described = {"description": graph.description} if graph.description else {}
    annotated = {"annotations": [a.to_dict() for a in graph.annotations]} if graph.annotations else {}
    return {
        "format": FORMAT,
        "version": ANNOTATED_VERSION if graph.annotations else VERSION,
        "name": graph.name,
        **described,
        "nodes": [
            {
                "id": node.id,
                "type": node.type_id,
                "position": [_plain_number(node.position[0]), _plain_number(node.position[1])],
                "params": dict(node.config),
            }
            for node in graph.nodes.values()
        ],
        "links": [
            {"from": f"{ln.source}.{ln.source_port}", "to": f"{ln.target}.{ln.target_port}"}
            for ln in graph.links
        ],
        **annotated,
    }


def dumps(graph: Graph) -> str:
    """Serialise ``graph`` to the canonical JSON text (2-space indent, trailing newline)."""
    return json.dumps(graph_to_dict(graph), indent=2, ensure_ascii=False) + "\n"


def save_pipeline(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` atomically (`write_atomically`), so a failed save loses nothing.

    Args:
        graph: the pipeline.
        path: the JSON file; an existing file keeps its permission bits.

    Raises:
        PipelineFileError: the file cannot be written (the old file, if any, is intact).
    """
    try:
        write_atomically(path, dumps(graph))
    except OSError as error:
        raise PipelineFileError(path, f"cannot write: {error.strerror or error}") from None


def load_pipeline(path: str | os.PathLike[str], registry: NodeRegistry, placeholders: bool = False) -> Graph:
    """Read a pipeline file.

    Args:
        path: the JSON file, or the name of a bundled example (see `resolve_pipeline`).
        registry: node types the file may use.
        placeholders: open a node of an unknown type as a placeholder that keeps its parameters and links
            and that `Graph.validate` refuses (the editor), instead of refusing the file (``mif``).

    Raises:
        PipelineFileError: missing/unreadable file, not JSON, wrong format, unknown node type,
            malformed node or link. Parameter values and graph rules are checked by ``Graph.validate``.
    """
    path = resolve_pipeline(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PipelineFileError(path, f"cannot read: {getattr(error, 'strerror', None) or error}") from None
    return loads(text, registry, source=path, placeholders=placeholders)


def loads(text: str, registry: NodeRegistry, source: str | os.PathLike[str] = "<text>",
          placeholders: bool = False) -> Graph:
    """Parse pipeline JSON text; see `load_pipeline`."""
    try:
        data = json.loads(_flatten_deep_values(text), parse_int=_parse_int, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise PipelineFileError(source, f"not valid JSON ({where}: {error.msg})") from None
    except RecursionError:  # only an unclosed run of brackets gets here: closed ones were cut above
        deep = f"lists/objects nested more than {MAX_DEPTH} levels deep"
        raise PipelineFileError(source, f"not valid JSON ({deep})") from None
    except ValueError as error:  # defensive: the number guard above should leave none
        raise PipelineFileError(source, f"not valid JSON ({shown_value(str(error))})") from None
    duplicates: list[str] = []
    data = _mark_deep_values(data, None, duplicates)
    if duplicates:
        raise PipelineFileError(source, _join(source, duplicates))
    return graph_from_dict(data, registry, source, placeholders)


class OutOfRange:
    """Stands for a value the loader refused to build: an integer of more than `MAX_DIGITS` digits or a
    list/object nested deeper than `MAX_DEPTH`. No parameter accepts it, so validation names its node
    and field instead of the whole file failing."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


_DEEP_MARKER = "\0mif:nested-too-deeply"  # turned into `OutOfRange` right after parsing
_DEEP_JSON = '"\\u0000mif:nested-too-deeply"'
_STRUCTURE = re.compile(r'["\[\]{}]')  # what `_flatten_deep_values` looks at: a string's start, a bracket


def _parse_int(digits: str) -> int | OutOfRange:
    if len(digits.lstrip("+-")) > MAX_DIGITS:
        return OutOfRange(f"a whole number of {len(digits.lstrip('+-'))} digits")
    return int(digits)


def _flatten_deep_values(text: str) -> str:
    """``text`` with every list/object nested deeper than `MAX_DEPTH` replaced by a marker string.

    Python's parser recurses once per level and fails with RecursionError near 1000 levels; this keeps
    the rest of the file readable so the error can name the node and field holding the deep value.
    One pass over the text: each string is skipped by the json module's own scanner (C), which resumes
    after its closing quote. (A regex for whole strings was tried again from every escaped quote of an
    unclosed string: quadratic, 122 s for a 160 KB file of ``\\"``.)
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return text
    pieces: list[str] = []
    depth, copied_to, cut_start, position = 0, 0, -1, 0
    while (match := _STRUCTURE.search(text, position)) is not None:
        token, position = match.group(), match.end()
        if token == '"':
            try:
                position = json.decoder.scanstring(text, position, False)[1]  # False: raw controls are the parser's
            except ValueError:  # an unclosed string or a bad escape: the parser reports where
                break
        elif token in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1 and cut_start < 0:
                cut_start = match.start()
        else:
            depth -= 1
            if depth == MAX_DEPTH and cut_start >= 0:
                pieces += [text[copied_to:cut_start], _DEEP_JSON]
                copied_to, cut_start = position, -1
    if cut_start >= 0:  # unbalanced or unclosed: let the parser report where the text goes wrong
        return text
    return "".join([*pieces, text[copied_to:]])


class _Duplicated(dict[str, Any]):
    """A JSON object that held a key more than once; ``duplicates`` names those keys."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The ``object_pairs_hook`` of `loads`: a dict that remembers keys given twice (plain JSON keeps the last)."""
    built = dict(pairs)
    if len(built) == len(pairs):
        return built
    marked = _Duplicated(built)
    marked.duplicates = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
    return marked


_Where = tuple[Any, str | int] | None  # (the parent's place, key or index), rendered only for a message


def _mark_deep_values(data: Any, where: _Where, duplicates: list[str]) -> Any:
    """Replace the marker strings left by `_flatten_deep_values` with `OutOfRange` (depth <= MAX_DEPTH),
    and add to ``duplicates`` one message per key given twice in an object (``where``: the object's place)."""
    if isinstance(data, str) and data == _DEEP_MARKER:
        return OutOfRange(f"a value nested more than {MAX_DEPTH} levels deep")
    if isinstance(data, list):
        return [_mark_deep_values(item, (where, index), duplicates) for index, item in enumerate(data)]
    if isinstance(data, dict):
        if isinstance(data, _Duplicated):
            place = f"in {_path(where)}" if where else "at the top level"
            duplicates += [f"key '{shown_value(key)}' is given more than once {place} (a key may appear once "
                           "in an object)" for key in data.duplicates]
        return {key: _mark_deep_values(value, (where, key), duplicates) for key, value in data.items()}
    return data


def _path(where: _Where) -> str:
    """``nodes[2].params`` for a place built by `_mark_deep_values` (odd keys as ``["a key"]``)."""
    parts: list[str] = []
    while where is not None:
        where, step = where
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step.isidentifier() and step.isascii():
            parts.append(f".{step}")
        else:
            parts.append(f"[{shown_value(json.dumps(step))}]")
    return "".join(reversed(parts)).lstrip(".")


def graph_from_dict(data: Any, registry: NodeRegistry, source: str | os.PathLike[str] = "<data>",
                    placeholders: bool = False) -> Graph:
    """Build a graph from the parsed JSON of a pipeline file; see `load_pipeline`.

    Every malformed node and link is reported at once (with the parameter problems of the nodes that
    did load), in one `PipelineFileError`.

    Args:
        data: the parsed file.
        registry: node types the file may use.
        source: the file, for messages.
        placeholders: a node of an unknown type becomes a placeholder (`core.missing_node`) instead of an error.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PipelineFileError(source, f"not a pipeline file (expected \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if isinstance(version, bool) or version not in (VERSION, ANNOTATED_VERSION):
        raise PipelineFileError(
            source, f"unsupported version {shown_value(version)} (this program reads versions {VERSION} and "
            f"{ANNOTATED_VERSION})"
        )
    nodes, links, annotations = data.get("nodes"), data.get("links", []), data.get("annotations", [])
    if not isinstance(nodes, list) or not isinstance(links, list):
        raise PipelineFileError(source, "\"nodes\" and \"links\" must be lists")
    if not isinstance(annotations, list):
        raise PipelineFileError(source, "\"annotations\" must be a list")
    name = data.get("name")
    graph = Graph(name=name if isinstance(name, str) and name.isprintable() else Path(str(source)).stem)
    description = data.get("description")
    graph.description = description if isinstance(description, str) else ""
    errors: list[str] = []
    skipped: set[str] = set()
    known = _KnownPorts(nodes, links, registry) if placeholders else None
    for index, entry in enumerate(nodes):
        try:
            graph.add_node(_node_from_dict(entry, index, registry, graph, known))
        except _EntryError as error:
            errors.append(str(error))
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                skipped.add(entry["id"])
    for index, entry in enumerate(links):
        try:
            graph.links.append(_link_from_dict(entry, index, graph, skipped))
        except _EntryError as error:
            errors.append(str(error))
        except _SkippedLink:
            continue
    for index, entry in enumerate(annotations):
        try:
            graph.annotations.append(annotation_from_dict(entry))
        except ValueError as error:
            errors.append(f"annotations[{index}]: {error}")
    if errors:
        errors += [str(p) for p in graph.validate() if p.field]  # parameter problems of the nodes that loaded
        raise PipelineFileError(source, _join(source, errors))
    return graph


class _EntryError(ValueError):
    """One malformed node or link entry."""


class _SkippedLink(Exception):
    """A link to a node that was already reported as malformed."""


def _join(source: str | os.PathLike[str], errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} problems:\n" + "\n".join(f"  {source}: {error}" for error in errors)


class _KnownPorts:
    """The ports a placeholder needs: those the file's links name at its node, with the kind of the other end."""

    def __init__(self, nodes: list[Any], links: list[Any], registry: NodeRegistry) -> None:
        self.types = {e.get("id"): e.get("type") for e in nodes if isinstance(e, dict) and isinstance(e.get("id"), str)}
        self.links = [(e["from"].partition("."), e["to"].partition(".")) for e in links
                      if isinstance(e, dict) and isinstance(e.get("from"), str) and isinstance(e.get("to"), str)]
        self.registry = registry

    def spec(self, node_id: str, type_id: str) -> NodeSpec:
        inputs: dict[str, str] = {}
        outputs: dict[str, str] = {}
        for (source, _, out_port), (target, _, in_port) in self.links:
            if target == node_id and in_port:
                inputs.setdefault(in_port, self._kind(source, out_port, output=True))
            if source == node_id and out_port:
                outputs.setdefault(out_port, self._kind(target, in_port, output=False))
        return missing_spec(type_id, inputs, outputs)

    def _kind(self, node_id: str, port_name: str, output: bool) -> str:
        type_id = self.types.get(node_id)
        if not isinstance(type_id, str) or type_id not in self.registry:
            return UNKNOWN_KIND
        spec = self.registry.get(type_id)
        port = spec.output(port_name) if output else spec.input(port_name)
        return port.kind if port is not None else UNKNOWN_KIND


def _node_from_dict(entry: Any, index: int, registry: NodeRegistry, graph: Graph,
                    known: _KnownPorts | None = None) -> Node:
    if not isinstance(entry, dict):
        raise _EntryError(f"nodes[{index}] must be an object")
    node_id, type_id = entry.get("id"), entry.get("type")
    if not isinstance(node_id, str) or not NODE_ID_PATTERN.fullmatch(node_id):
        rule = "must be letters, digits, _ or -, starting with a letter or _"
        raise _EntryError(f"nodes[{index}]: id '{shown_value(node_id)}' {rule}")
    if node_id in graph.nodes:
        raise _EntryError(f"node '{node_id}': id is used twice")
    try:
        spec = registry.get(str(type_id))
    except UnknownNodeType:
        if known is None or not isinstance(type_id, str) or not type_id.isprintable() or not type_id.strip():
            raise _EntryError(f"node '{node_id}': unknown node type '{shown_value(type_id)}'") from None
        spec = known.spec(node_id, type_id)
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise _EntryError(f"node '{node_id}': \"params\" must be an object")
    position = entry.get("position", [0, 0])
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position)
        or not all(_finite(v) for v in position)
    ):
        raise _EntryError(f"node '{node_id}', field 'position': must be [x, y], two finite numbers")
    config = spec.defaults()
    config.update(params)  # a placeholder keeps them as they are, for Save to write back
    return Node(id=node_id, spec=spec, config=config, position=(position[0], position[1]))


def _link_from_dict(entry: Any, index: int, graph: Graph, skipped: set[str]) -> Link:
    if not isinstance(entry, dict) or not isinstance(entry.get("from"), str) or not isinstance(entry.get("to"), str):
        raise _EntryError(f"links[{index}] must be {{\"from\": \"node.port\", \"to\": \"node.port\"}}")
    ends = []
    for key in ("from", "to"):
        node_id, dot, port = entry[key].partition(".")
        if not dot or not port:
            raise _EntryError(f"links[{index}].{key} '{shown_value(entry[key])}' must be \"node.port\"")
        if node_id in skipped:
            raise _SkippedLink
        if node_id not in graph.nodes:
            raise _EntryError(f"links[{index}].{key}: no node '{shown_value(node_id)}'")
        ends.append((node_id, port))
    return Link(ends[0][0], ends[0][1], ends[1][0], ends[1][1])


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond the float range
        return False


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)
