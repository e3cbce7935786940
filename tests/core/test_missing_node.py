"""A node of a type no installed plugin provides opens as a placeholder that keeps it and refuses to run."""

from __future__ import annotations

import copy

import pytest

from medical_imaging_framework.core import NodeRegistry, PipelineFileError
from medical_imaging_framework.core.pipeline_file import graph_from_dict, graph_to_dict
from tests.support.pipelines import file_with_a_missing_type


def test_a_placeholder_keeps_the_node_and_is_refused_by_validate(registry: NodeRegistry) -> None:
    """Issue 20 point 15: a file with an unknown node type could not be opened at all."""
    data = file_with_a_missing_type(registry)
    with pytest.raises(PipelineFileError, match=r"node 'unet': unknown node type 'acme\.FancyNet'"):
        graph_from_dict(copy.deepcopy(data), registry, "p.json")  # `mif` still refuses the file
    graph = graph_from_dict(copy.deepcopy(data), registry, "p.json", placeholders=True)
    unet = graph.nodes["unet"]
    assert unet.spec.placeholder and unet.type_id == "acme.FancyNet"
    assert [(port.name, port.kind) for port in unet.spec.outputs] == [("model", "Model")]  # the kind of its link
    assert graph_to_dict(graph) == data  # Save writes type, parameters, position and links back unchanged
    problems = graph.validate()
    assert [str(problem) for problem in problems] == [
        "node 'unet': node type 'acme.FancyNet' is not installed: its plugin ('acme' nodes) is missing or failed "
        "to load; install it, or delete this node"]
