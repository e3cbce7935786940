"""Runs a graph: validate, topological order, each node with its inputs; events to a sink."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from medical_imaging_framework.core.graph import Graph, Problem
from medical_imaging_framework.core.node_spec import REFERENCE
from medical_imaging_framework.core.pipeline_file import graph_to_dict
from medical_imaging_framework.run.cache import ResultCache, graph_keys, products_present, reusable
from medical_imaging_framework.run.control import Cancelled, CancelToken, NodeError, worker_message
from medical_imaging_framework.run.events import (
    Event,
    EventSink,
    LogLine,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    RunFinished,
    RunStarted,
)
from medical_imaging_framework.run.status import RunStatus


@dataclass
class NodeContext:
    """What a running node may use besides its inputs and config.

    Args:
        node_id: the node being run.
        emit: the run's event sink.
        cancel: the run's cancel token.
        pipeline: the JSON-ready pipeline being run (stored in checkpoints).
    """

    node_id: str
    emit: EventSink
    cancel: CancelToken
    pipeline: dict[str, Any] = field(default_factory=dict)

    def log(self, text: str) -> None:
        """Emit a log line from this node."""
        self.emit(LogLine(text=text, node_id=self.node_id))


@dataclass
class RunResult:
    """Outcome of a run.

    Args:
        status: how it ended (see `RunStatus`).
        outputs: each node's outputs by port name (runs in this process only: objects do not cross processes).
        problems: why the pipeline is invalid (status ``invalid``).
        failed_node: the node that failed (status ``failed``).
        error: the failure's message.
        checkpoint_folders: the absolute folders the run's Trainers used for checkpoints and ``metrics.csv``
            (filled by the `RunSession` from the events, in every way to run).
        metrics: each evaluating node's mean metrics (filled by the `RunSession`, in every way to run).
        record_files: the run records (``run.json``) written by this process (`RunSession`; empty for a run in
            child processes, which record their own).
    """

    status: RunStatus
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    failed_node: str = ""
    error: str = ""
    checkpoint_folders: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    record_files: list[str] = field(default_factory=list)


class Executor:
    """Runs every node of a graph once, in dependency order.

    Args:
        graph: the pipeline.
        sink: receives every event, from the thread that calls `run`.
        cancel: stop flag; a new one is made when omitted.
        validated: the caller has validated ``graph`` already (a `RunSession` validates once per launch).
        cache: reuse the outputs of nodes whose key did not change (`run.cache`); None runs every node.
    """

    def __init__(
        self, graph: Graph, sink: EventSink | None = None, cancel: CancelToken | None = None, validated: bool = False,
        cache: ResultCache | None = None,
    ) -> None:
        self.graph = graph
        self.sink: EventSink = sink or (lambda event: None)
        self.cancel = cancel or CancelToken()
        self.validated = validated
        self.cache = cache
        self.keys: dict[str, str | None] = {}  # each node's key in this run (None: not reusable this time)

    def run(self) -> RunResult:
        """Validate (unless done already) then execute; never raises for a node's failure (see `RunResult`)."""
        problems = [] if self.validated else self.graph.validate()
        if problems:
            return RunResult(status=RunStatus.INVALID, problems=problems)
        started = time.perf_counter()
        order = self.graph.topological_order()
        self._emit(RunStarted(pipeline=self.graph.name, node_count=len(order)))
        result = RunResult(status=RunStatus.DONE)
        pipeline = graph_to_dict(self.graph)
        if self.cache is not None:
            try:
                self.keys = graph_keys(self.graph)
            except Exception as error:  # e.g. a watched folder that cannot be listed: this run reuses nothing
                self._emit(LogLine(f"warning: results of earlier runs are not reused this time: {error}",
                                   level="warning"))
        for node_id in order:
            status = self._run_node(node_id, result, pipeline)
            if status != RunStatus.DONE:
                result.status = status
                break
        self._emit(RunFinished(status=result.status, seconds=time.perf_counter() - started))
        return result

    def _run_node(self, node_id: str, result: RunResult, pipeline: dict[str, Any]) -> RunStatus:
        node = self.graph.nodes[node_id]
        inputs = {
            port: result.outputs[link.source][link.source_port]
            for port, link in self.graph.inputs_of(node_id).items()
        }
        context = NodeContext(node_id=node_id, emit=self._emit, cancel=self.cancel, pipeline=pipeline)
        self._emit(NodeStarted(node_id=node_id, type_id=node.type_id))
        node_started = time.perf_counter()
        try:
            self.cancel.raise_if_cancelled()
            config = node.parsed_config()
            key = self.keys.get(node_id)
            reused = self._reuse(context, inputs, config, key)
            if reused is not None:
                result.outputs[node_id] = reused
                self._emit(NodeFinished(node_id=node_id, seconds=time.perf_counter() - node_started, reused=True))
                return RunStatus.DONE
            outputs = node.spec.run(context, inputs, config) or {}
            missing = [p.name for p in node.spec.outputs if p.name not in outputs]
            if missing:
                raise NodeError(f"{node.type_id} produced no value for output(s): {', '.join(missing)}")
            self._remember(context, key, outputs)
        except Cancelled:
            return RunStatus.CANCELLED
        except Exception as error:  # a node's failure ends the run cleanly, never the program
            message = worker_message(str(error)) if isinstance(error, NodeError) else f"{type(error).__name__}: {error}"
            result.failed_node, result.error = node_id, message
            self._emit(NodeFailed(node_id=node_id, message=message, traceback=traceback.format_exc()))
            return RunStatus.FAILED
        result.outputs[node_id] = outputs
        self._emit(NodeFinished(node_id=node_id, seconds=time.perf_counter() - node_started))
        return RunStatus.DONE

    def _reuse(self, context: NodeContext, inputs: dict[str, Any], config: dict[str, Any],
               key: str | None) -> dict[str, Any] | None:
        """The node's outputs from the cache (and a "reused:" line), or None: the node runs."""
        policy = self.graph.nodes[context.node_id].spec.cache
        if self.cache is None or key is None or not reusable(policy) or not products_present(policy, config):
            return None
        if policy.mode == REFERENCE:
            reference = self.cache.reference(key)
            outputs = None
            if reference is not None and policy.restore is not None:
                try:
                    outputs = policy.restore(context, inputs, config, reference)
                except Exception:  # a reference that no longer holds (a damaged file): the node runs instead
                    outputs = None
            how = str(reference.get("label", "from the cache")) if reference is not None else ""
        else:
            outputs, how = self.cache.recall(context.node_id, key), "in memory"
            if outputs is not None and policy.refresh is not None:
                policy.refresh(outputs)
        if outputs is not None:
            context.log(f"reused: {context.node_id} ({how})")
        return outputs

    def _remember(self, context: NodeContext, key: str | None, outputs: dict[str, Any]) -> None:
        """Keep a finished node's outputs for a later run, as its spec's `CachePolicy` says."""
        if self.cache is None:
            return
        node = self.graph.nodes[context.node_id]
        policy = node.spec.cache
        if key is None or not reusable(policy):
            self.cache.forget(context.node_id)
        elif policy.mode == REFERENCE:
            reference = policy.reference(outputs) if policy.reference is not None else None
            problem = self.cache.store_reference(key, context.node_id, node.type_id, reference) if reference else ""
            if problem:
                self._emit(LogLine(f"warning: the result cache cannot be written ({problem}): a later run "
                                   f"will not reuse '{context.node_id}'", context.node_id, "warning"))
        else:
            self.cache.keep(context.node_id, key, outputs)

    def _emit(self, event: Event) -> None:
        self.sink(event)


def run_graph(graph: Graph, sink: EventSink | None = None, cancel: CancelToken | None = None) -> RunResult:
    """Convenience: ``Executor(graph, sink, cancel).run()``."""
    return Executor(graph, sink, cancel).run()


__all__ = ["CancelToken", "Cancelled", "Executor", "LogLine", "NodeContext", "NodeError", "RunResult", "run_graph"]
