"""``ParamKind.FLOAT_LIST`` (e.g. a voxel spacing): parsed by the one rule the dialog, ``--set`` and pipeline
files share; an empty list only where the parameter says it means something."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medical_imaging_framework.core import NodeRegistry, Param, ParamError, ParamKind, load_pipeline, save_pipeline
from medical_imaging_framework.core.graph import Graph

PIXDIM = Param("pixdim", ParamKind.FLOAT_LIST, [1.0, 1.0, 1.0], above=0.0)
RATIOS = Param("ratios", ParamKind.FLOAT_LIST, [], minimum=0.0, empty_list=True)


def test_float_lists_parse_text_and_typed_values() -> None:
    assert PIXDIM.parse("0.8, 0.8,2.5") == [0.8, 0.8, 2.5]
    assert PIXDIM.parse([1, 2.5]) == [1.0, 2.5] and all(isinstance(v, float) for v in PIXDIM.parse([1, 2]))
    assert PIXDIM.parse(" 1e-1 , .5") == [0.1, 0.5]
    assert PIXDIM.to_text([0.8, 2.5]) == "0.8, 2.5"
    assert RATIOS.parse("") == [] and RATIOS.parse([]) == [] and RATIOS.to_text([]) == ""


@pytest.mark.parametrize("bad", ["", "1,0,1", "1,-2", "1,x", "1,nan", "1,inf", "1_0", [True], [1, "2"], [], 3.0])
def test_float_lists_refuse_bad_values_naming_node_field_and_rule(bad: object) -> None:
    with pytest.raises(ParamError) as caught:
        PIXDIM.parse(bad, node_id="spacing")
    assert caught.value.node_id == "spacing" and caught.value.field == "pixdim"
    assert "must be a comma-separated list of numbers above 0" in str(caught.value)


def test_an_empty_list_is_allowed_only_where_it_means_something() -> None:
    assert "(or empty)" in RATIOS.rule() and "(or empty)" not in PIXDIM.rule()
    with pytest.raises(ParamError, match=r"numbers >= 0 \(or empty\)"):
        RATIOS.parse("1,-1", "crop")
    assert Param("labels", ParamKind.INT_LIST, [], minimum=0, empty_list=True).parse("") == []


@given(st.lists(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False), min_size=1, max_size=4))
def test_float_list_text_round_trips(values: list[float]) -> None:
    assert PIXDIM.parse(PIXDIM.to_text(values)) == values


def test_float_lists_survive_a_pipeline_file(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = Graph(name="spacing")
    graph.add_node(registry.create("transforms.Spacing", "spacing", pixdim=[0.8, 0.8, 2.5]))
    graph.add_node(registry.create("transforms.RandCropByLabelClasses", "crop", ratios=[]))
    save_pipeline(graph, tmp_path / "p.json")
    loaded = load_pipeline(tmp_path / "p.json", registry)
    assert loaded.nodes["spacing"].config["pixdim"] == [0.8, 0.8, 2.5]
    assert loaded.nodes["crop"].config["ratios"] == []


def test_a_bad_float_list_in_a_pipeline_file_is_named(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = Graph(name="spacing")
    graph.add_node(registry.create("transforms.Spacing", "spacing"))
    save_pipeline(graph, tmp_path / "p.json")
    document = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    document["nodes"][0]["params"]["pixdim"] = [1.0, -1.0, 1.0]
    (tmp_path / "p.json").write_text(json.dumps(document), encoding="utf-8")
    problems = [str(problem) for problem in load_pipeline(tmp_path / "p.json", registry).validate()]
    assert problems == ["node 'spacing', field 'pixdim': must be a comma-separated list of numbers above 0 "
                        "(got '[1.0, -1.0, 1.0]')"]
