"""The graph's link index stays right through every way links change (it makes validation linear-time)."""

from __future__ import annotations

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.core.graph import Link, Node


def chain(registry: NodeRegistry) -> Graph:
    graph = Graph()
    for node_id, type_id in (("data", "data.SyntheticPhantoms"), ("split", "data.TrainValSplit"),
                             ("loader", "data.DataLoader")):
        graph.add_node(Node(node_id, registry.get(type_id)))
    return graph


def test_inputs_of_follows_append_remove_assign_and_disconnect(registry: NodeRegistry) -> None:
    graph = chain(registry)
    assert graph.inputs_of("split") == {}
    link = graph.connect("data", "dataset", "split", "dataset")
    assert graph.inputs_of("split") == {"dataset": link}
    second = Link("split", "train", "loader", "dataset")
    graph.links.append(second)
    assert graph.inputs_of("loader") == {"dataset": second}
    graph.links.remove(second)
    assert graph.inputs_of("loader") == {}
    graph.links += [second]
    assert graph.inputs_of("loader") == {"dataset": second}
    graph.links[1] = Link("split", "val", "loader", "dataset")
    assert graph.inputs_of("loader")["dataset"].source_port == "val"
    del graph.links[1]
    assert graph.inputs_of("loader") == {}
    graph.links = [second]
    assert graph.inputs_of("split") == {} and graph.inputs_of("loader") == {"dataset": second}
    graph.disconnect(second)
    assert graph.inputs_of("loader") == {}
    graph.remove_node("data")
    assert graph.links == []


def test_order_and_cycles_with_the_index(registry: NodeRegistry) -> None:
    graph = chain(registry)
    graph.links.extend([Link("split", "train", "loader", "dataset"), Link("data", "dataset", "split", "dataset")])
    assert graph.topological_order() == ["data", "split", "loader"]
    graph.links.append(Link("loader", "loader", "data", "dataset"))  # a cycle (kinds aside)
    cycle = [p for p in graph.validate() if "cycle" in p.message]
    assert cycle and cycle[0].message == "the pipeline has a cycle through: data, split, loader"
