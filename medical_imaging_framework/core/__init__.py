"""The document: parameters, ports, node specs and their checks, the registry, the graph, node ids, pipeline
files, bundled examples and undoable editing. Torch- and Qt-free; nothing here knows that runs or a GUI exist.

``from medical_imaging_framework.core import NodeRegistry`` is the entry point the seed document uses.
"""

from __future__ import annotations

from medical_imaging_framework.core.graph import Graph, Link, LinkError, Node, Problem
from medical_imaging_framework.core.params import Param, ParamError, ParamKind
from medical_imaging_framework.core.pipeline_file import PipelineFileError, load_pipeline, save_pipeline
from medical_imaging_framework.core.ports import Port, PortKind
from medical_imaging_framework.core.registry import NodeRegistry, NodeSpec, UnknownNodeType

__all__ = [
    "Graph",
    "Link",
    "LinkError",
    "Node",
    "NodeRegistry",
    "NodeSpec",
    "Param",
    "ParamError",
    "ParamKind",
    "PipelineFileError",
    "Port",
    "PortKind",
    "Problem",
    "UnknownNodeType",
    "load_pipeline",
    "save_pipeline",
]
