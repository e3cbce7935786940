"""Re-run only what changed: each node's key and the cache of its outputs (docs/gui/RUNS.md).

A node's key is a hash of its type, its parsed parameters, the keys of the nodes it reads from (with their
ports) and the size and modification time of the files and folders its spec says it reads (``watch``), as
ComfyUI keys its nodes: a change anywhere upstream changes every key below it. The cache holds opaque values
and knows no torch: ``memory`` entries are the outputs themselves, the last ones of each node in this process;
``reference`` entries are small JSON files in ``.mif/cache`` of the working folder, from which the node's spec
rebuilds its outputs (a Trainer: its checkpoint), so that a later process can reuse them too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.core.graph import Graph
from medical_imaging_framework.core.node_spec import MEMORY, NEVER, REFERENCE, CachePolicy
from medical_imaging_framework.run.launch_env import NO_CACHE_FLAG  # in launch_env: `mif --help` imports no core

KEY_FORMAT = 1  # part of every key: a change of what a key covers makes every old entry a miss
CACHE_FOLDER = Path(".mif") / "cache"


def file_fingerprint(path: str) -> list[Any]:
    """``[path, size, mtime_ns]`` of a file, each file of a folder (walked, sorted), or ``[path, "missing"]``.

    Size and modification time, not a hash of the contents: reading every image of a data set to hash it
    would cost as much as the run it spares; a file rewritten within the same nanosecond tick at the same size
    is not noticed (docs/gui/RUNS.md, limits).

    Args:
        path: a file or folder as typed in a parameter (``~`` allowed; relative to the working folder).
    """
    full = os.path.abspath(os.path.expanduser(path.strip()))
    if os.path.isfile(full):
        stat = os.stat(full)
        return [full, stat.st_size, stat.st_mtime_ns]
    if not os.path.isdir(full):
        return [full, "missing"]
    entries: list[Any] = [full]
    for root, folders, files in os.walk(full):
        folders.sort()
        for name in sorted(files):
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:  # gone while walking: counts as changed
                continue
            entries.append([os.path.relpath(os.path.join(root, name), full), stat.st_size, stat.st_mtime_ns])
    return entries


def node_key(type_id: str, config: dict[str, Any], inputs: dict[str, tuple[str, str]],
             watched: list[str]) -> str:
    """The key of one node: sha256 of the working folder, its type, parameters, input keys and watched files
    (canonical JSON).

    Args:
        type_id: the node's type.
        config: its parsed parameters.
        inputs: by input port, the upstream node's key and output port.
        watched: the files and folders it reads (`CachePolicy.watch`).
    """
    document = {
        "format": KEY_FORMAT,
        "folder": os.getcwd(),  # relative paths in parameters (checkpoint_dir: ck) mean another file elsewhere
        "type": type_id,
        "params": config,
        "inputs": sorted([port, key, source_port] for port, (key, source_port) in inputs.items()),
        "files": [file_fingerprint(path) for path in watched],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def graph_keys(graph: Graph) -> dict[str, str | None]:
    """Every node's key, in dependency order; None for a node that is not reusable this time (its spec's
    ``watch`` said so, or a node it reads from is not).

    Computed when a run starts, from the files as they are then: a file that a node of the same run writes
    and a later node reads counts as changed at the next run (that node runs once more, then is reused).

    Args:
        graph: a validated pipeline.
    """
    keys: dict[str, str | None] = {}
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        inputs: dict[str, tuple[str, str]] = {}
        for port, link in graph.inputs_of(node_id).items():
            upstream = keys.get(link.source)
            if upstream is None:
                break
            inputs[port] = (upstream, link.source_port)
        else:
            config = node.parsed_config()
            watched = node.spec.cache.watch(config) if node.spec.cache.watch is not None else []
            keys[node_id] = None if watched is None else node_key(node.type_id, config, inputs, watched)
            continue
        keys[node_id] = None
    return keys


def reused_nodes(graph: Graph, cache: ResultCache | None) -> set[str]:
    """The nodes whose outputs a run of ``graph`` would take from ``cache``, as far as can be told before it
    starts (a reference's own last checks happen in the run). Empty without a cache.

    Args:
        graph: a validated pipeline.
        cache: the cache the run would use.
    """
    if cache is None:
        return set()
    try:
        keys = graph_keys(graph)
    except Exception:  # the run says why (see `Executor.run`)
        return set()
    return {node_id for node_id, key in keys.items() if cache.holds(node_id, key, graph.nodes[node_id].spec.cache)}


def products_present(policy: CachePolicy, config: dict[str, Any]) -> bool:
    """Whether every file or folder the node writes (`CachePolicy.products`) is still there."""
    if policy.products is None:
        return True
    return all(os.path.exists(os.path.expanduser(path.strip())) for path in policy.products(config))


class ResultCache:
    """Node outputs kept for later runs: in memory (this process) and by reference (the working folder).

    Args:
        folder: where reference entries go (``<folder>/<key>.json``); None: ``.mif/cache`` of the working
            folder at the time of each use.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._memory: dict[str, tuple[str, dict[str, Any]]] = {}  # node id -> (key, outputs): the last ones only

    def _index(self) -> Path:
        return self.folder if self.folder is not None else Path.cwd() / CACHE_FOLDER

    def recall(self, node_id: str, key: str) -> dict[str, Any] | None:
        """The outputs ``node_id`` last produced in this process under ``key``, or None."""
        entry = self._memory.get(node_id)
        return entry[1] if entry is not None and entry[0] == key else None

    def keep(self, node_id: str, key: str, outputs: dict[str, Any]) -> None:
        """Keep ``outputs`` of ``node_id`` in memory (replacing its previous ones)."""
        self._memory[node_id] = (key, outputs)

    def forget(self, node_id: str) -> None:
        """Drop what is kept in memory for ``node_id``."""
        self._memory.pop(node_id, None)

    def reference(self, key: str) -> dict[str, Any] | None:
        """The reference entry stored under ``key``, or None: missing, unreadable (a miss, never an error), or
        one of the files it names under ``"files"`` (path -> [size, mtime_ns]) changed or gone."""
        try:
            entry = json.loads((self._index() / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        reference = entry.get("reference") if isinstance(entry, dict) else None
        if not isinstance(reference, dict):
            return None
        files = reference.get("files", {})
        if not isinstance(files, dict) or any(file_fingerprint(path)[1:] != list(stamp)
                                              for path, stamp in files.items()):
            return None
        return reference

    def holds(self, node_id: str, key: str | None, policy: CachePolicy) -> bool:
        """Whether a run would find ``node_id``'s outputs under ``key`` (before its spec's last checks).

        Args:
            node_id: the node.
            key: its key in the coming run (`graph_keys`).
            policy: its spec's cache policy.
        """
        if key is None or not reusable(policy):
            return False
        if policy.mode == REFERENCE:
            return self.reference(key) is not None
        return self.recall(node_id, key) is not None

    def store_reference(self, key: str, node_id: str, type_id: str, reference: dict[str, Any]) -> str:
        """Write the reference entry of ``key``; returns "" or why it could not be written.

        Args:
            key: the node's key.
            node_id: the node (written for a person reading the folder).
            type_id: its type.
            reference: the JSON-ready reference (`CachePolicy.reference`).
        """
        entry = {"format": KEY_FORMAT, "node": node_id, "type": type_id, "reference": reference}
        try:
            self._index().mkdir(parents=True, exist_ok=True)
            write_atomically(self._index() / f"{key}.json", json.dumps(entry, indent=1, sort_keys=True))
        except OSError as error:
            return f"{self._index()}: {error.strerror or error}"
        return ""


def reusable(policy: CachePolicy) -> bool:
    """Whether a node of this policy is ever reused (``never``: it runs every time)."""
    return policy.mode != NEVER


__all__ = ["CACHE_FOLDER", "MEMORY", "NO_CACHE_FLAG", "ResultCache", "file_fingerprint", "node_key", "products_present",
           "reusable", "reused_nodes"]
