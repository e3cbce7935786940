"""Qt-free heart of the framework: parameters, ports, node registry, graph, pipeline files,
executor and events. Nothing here imports PySide6, NodeGraphQt, pyqtgraph, `nodes` or `app`;
nothing at this level imports torch either (training and checkpoint modules do, on import).
"""

from __future__ import annotations

from medical_imaging_framework.core.events import Event, format_event
from medical_imaging_framework.core.executor import Cancelled, CancelToken, Executor, NodeContext, NodeError, RunResult
from medical_imaging_framework.core.graph import Graph, Link, LinkError, Node, Problem
from medical_imaging_framework.core.params import Param, ParamError, ParamKind
from medical_imaging_framework.core.pipeline_file import PipelineFileError, load_pipeline, save_pipeline
from medical_imaging_framework.core.ports import Port, PortKind
from medical_imaging_framework.core.registry import NodeRegistry, NodeSpec, UnknownNodeType

__all__ = [
    "CancelToken",
    "Cancelled",
    "Event",
    "Executor",
    "Graph",
    "Link",
    "LinkError",
    "Node",
    "NodeContext",
    "NodeError",
    "NodeRegistry",
    "NodeSpec",
    "Param",
    "ParamError",
    "ParamKind",
    "PipelineFileError",
    "Port",
    "PortKind",
    "Problem",
    "RunResult",
    "UnknownNodeType",
    "format_event",
    "load_pipeline",
    "save_pipeline",
]
