"""Issue 21 point 3: the case viewer's source reads one evaluated case on demand, image included, also for
in-memory data past the 8 cases whose image the Predictor keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.specs import KEPT_IMAGES
from tests.support.evaluation_runs import evaluated_graph
from tests.support.pipelines import run_graph


def test_every_case_is_read_with_its_own_image(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = evaluated_graph(registry, tmp_path, 2)
    graph.nodes["phantoms"].config["count"] = 2 * (KEPT_IMAGES + 1)  # half of them evaluated: one past the kept
    result, _ = run_graph(graph)
    assert result.status == "done", result.error
    source = result.outputs["evaluate"]["metrics"]["cases"]
    predictions = result.outputs["predictor"]["predictions"]
    assert len(source) == KEPT_IMAGES + 1 and predictions.cases[-1].image is None
    val = result.outputs["transforms"]["val"]
    for index in (0, KEPT_IMAGES):
        case = source.read(source.names[index])
        assert case.name == val[index]["name"] == predictions.cases[index].name
        assert case.image is not None and np.array_equal(case.image, np.asarray(val[index]["image"])[0])
        assert np.array_equal(case.prediction, predictions.cases[index].prediction.numpy()[0])
        assert np.array_equal(case.label, np.asarray(val[index]["label"])[0])


def test_a_case_read_from_files_shows_the_files_image_and_the_scored_maps(registry: NodeRegistry,
                                                                          tmp_path: Path) -> None:
    """Original grid: the image as read from its file, the label file's classes, the prediction taken back."""
    import nibabel as nib

    from medical_imaging_framework.core import Graph
    from medical_imaging_framework.core.graph import Link
    from tests.nodes.test_multiclass import _write_three_class_folder

    _write_three_class_folder(tmp_path / "data", count=4)
    graph = Graph(name="files")
    nodes = {
        "folder": ("io.ImageFolder", {"images_dir": str(tmp_path / "data" / "images"),
                                      "labels_dir": str(tmp_path / "data" / "labels")}),
        "loader": ("data.DataLoader", {"batch_size": 2, "shuffle": False}),
        "unet": ("models.UNet", {"out_channels": 3, "channels": [2, 4], "strides": [2], "num_res_units": 0}),
        "loss": ("losses.DiceCELoss", {}),
        "adam": ("optim.Adam", {}),
        "trainer": ("training.Trainer", {"num_epochs": 1, "device": "cpu", "checkpoint_dir": ""}),
        "predictor": ("inference.Predictor", {"device": "cpu"}),
        "evaluate": ("evaluation.EvaluateSegmentation", {"class_names": "background, disc, ring"}),
    }
    for node_id, (type_id, config) in nodes.items():
        graph.add_node(registry.create(type_id, node_id, **config))
    for source, target in [("folder.dataset", "loader.dataset"), ("unet.model", "trainer.model"),
                           ("loss.loss", "trainer.loss"), ("adam.optimizer", "trainer.optimizer"),
                           ("loader.loader", "trainer.train_data"), ("trainer.model", "predictor.model"),
                           ("loader.loader", "predictor.data"), ("predictor.predictions", "evaluate.predictions")]:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    result, _ = run_graph(graph)
    assert result.status == "done", result.error
    source = result.outputs["evaluate"]["metrics"]["cases"]
    assert source.names == ["c0", "c1", "c2", "c3"] and source.class_names == ("background", "disc", "ring")
    case = source.read("c3")
    image = nib.load(tmp_path / "data" / "images" / "c3.nii.gz").get_fdata()
    label = nib.load(tmp_path / "data" / "labels" / "c3.nii.gz").get_fdata()
    assert case.image is not None and np.allclose(case.image, image)
    assert np.array_equal(case.label, label) and set(np.unique(case.label)) == {0, 1, 2}
    assert case.prediction.shape == label.shape
