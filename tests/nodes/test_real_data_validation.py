"""`mif validate` refuses each bad value of the real-data nodes, naming the node, the field and the rule."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.core.graph import Link
from tests.nodes.test_real_data_pipeline import SHAPES, real_data_graph, write_case

# inserted between 'pad' and 'patches' of the real-data pipeline: every new transform node in one chain
EXTRA = {
    "clip": ("transforms.ClipZScore", {}), "foreground": ("transforms.CropForeground", {"margin": 2}),
    "classes": ("transforms.RandCropByLabelClasses", {"spatial_size": [8, 8, 4]}),
    "smooth": ("transforms.RandGaussianSmooth", {}), "scale": ("transforms.RandScaleIntensity", {}),
    "contrast": ("transforms.RandAdjustContrast", {}), "zoom": ("transforms.RandZoom", {}),
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    registry = NodeRegistry()
    from medical_imaging_framework.nodes import register

    register(registry)
    root = tmp_path_factory.mktemp("real")
    for index in range(len(SHAPES)):
        write_case(root, index, "nifti")
    graph = real_data_graph(registry, root, "nifti")
    graph.links.remove(Link("pad", "transform", "patches", "transform"))
    chain = ["pad", *EXTRA, "patches"]
    for node_id, (type_id, config) in EXTRA.items():
        graph.add_node(registry.create(type_id, node_id, **config))
    graph.links += [Link(a, "transform", b, "transform") for a, b in itertools.pairwise(chain)]
    assert graph.validate() == []
    save_pipeline(graph, root / "real.json")
    return root / "real.json"


BAD_VALUES = [
    (["orient.axcodes=RAX"], "node 'orient', field 'axcodes'", "one of L/R, A/P and S/I each"),
    (["orient.axcodes=RA"], "node 'orient', field 'axcodes'", "the images are 2D but node 'spacing' is set for"),
    (["spacing.pixdim=1.5,0,2"], "node 'spacing', field 'pixdim'", "numbers above 0"),
    (["spacing.pixdim=1.5,1.5"], "node 'spacing', field 'pixdim'", "has 2 values but the images are 3D"),
    (["patches.spatial_size=8,8"], "node 'patches', field 'spatial_size'", "has 2 values but the images are 3D"),
    (["patches.pos=0", "patches.neg=0"], "node 'patches', field 'pos'", "at least one must be above 0"),
    (["clip.clip_min=2000"], "node 'clip', field 'clip_min'", "must be below clip_max"),
    (["clip.std=0"], "node 'clip', field 'std'", "above 0"),
    (["classes.ratios=0,0,0"], "node 'classes', field 'ratios'", "at least one class must be sampled"),
    (["classes.ratios=1,2", "classes.num_classes=3"], "node 'classes', field 'ratios'", "one ratio per class"),
    (["classes.num_classes=1"], "node 'classes', field 'num_classes'", "or at least 2 (background and one class)"),
    (["smooth.sigma_min=2"], "node 'smooth', field 'sigma_min'", "must not be above sigma_max"),
    (["contrast.gamma_min=0"], "node 'contrast', field 'gamma_min'", "above 0"),
    (["zoom.min_zoom=1.5"], "node 'zoom', field 'min_zoom'", "must not be above max_zoom"),
    (["kfold.fold=3"], "node 'kfold', field 'fold'", "does not exist with 3 folds"),
    (["largest.applied_labels=0,1"], "node 'largest', field 'applied_labels'", "0 is the background"),
    (["folder.labels_dir=", "foreground.source=label"], "node 'foreground', field 'source'",
     "reads the label, but the data on 'train' of node 'apply' has no labels"),
    (["folder.labels_dir="], "node 'patches'",
     "reads the label, but the data on 'train' of node 'apply' has no labels"),
    (["predictor.blend_mode=linear"], "node 'predictor', field 'blend_mode'", "must be one of: gaussian, constant"),
]


@pytest.mark.parametrize(("settings", "where", "rule"), BAD_VALUES, ids=[" ".join(case[0]) for case in BAD_VALUES])
def test_validate_refuses_each_bad_value_naming_node_and_field(pipeline: Path, capsys: pytest.CaptureFixture[str],
                                                               settings: list[str], where: str, rule: str) -> None:
    arguments = [item for setting in settings for item in ("--set", setting)]
    assert main(["validate", str(pipeline), *arguments]) == 2
    err = capsys.readouterr().err
    line = next((line for line in err.splitlines() if f"{where}:" in line), "")
    assert rule in line, err
    assert "Traceback" not in err


def test_more_folds_than_cases_is_refused_before_and_at_run_time(registry: NodeRegistry) -> None:
    from medical_imaging_framework.core import Graph
    from medical_imaging_framework.run.control import CancelToken, NodeError
    from medical_imaging_framework.run.executor import NodeContext

    graph = Graph(name="folds")
    graph.add_node(registry.create("data.SyntheticPhantoms", "phantoms", count=3, size=8))
    graph.add_node(registry.create("data.KFoldSplit", "kfold", folds=4))
    graph.links.append(Link("phantoms", "dataset", "kfold", "dataset"))
    problems = [str(problem) for problem in graph.validate()]
    assert "node 'kfold', field 'folds': 4 folds of 3 items leave an empty fold: use at most 3" in problems[0]
    context = NodeContext(node_id="kfold", emit=lambda e: None, cancel=CancelToken())  # a folder, unknown before
    with pytest.raises(NodeError, match=r"^4 folds of 3 items leave an empty fold: use at most 3 folds$"):
        registry.get("data.KFoldSplit").run(context, {"dataset": [{}] * 3}, {"folds": 4, "fold": 0, "seed": 0})
