"""The planned pipeline files: the dataset's own node for each kind of dataset, a note of the reason per node."""

from __future__ import annotations

import math
from typing import Any

import pytest

from medical_imaging_framework.tools.plan_pipelines import infer_pipeline, train_pipeline
from medical_imaging_framework.tools.planning import make_plan


def _planned(**source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fingerprint = {"dataset": "/data/ds", "read_count": 3, "spatial_dims": 3, "channels": 1, "modality": "MR",
                   "spacings": [[1.0, 1.0, 1.0]] * 3, "shapes": [[32, 32, 32]] * 3, "classes": [0, 1],
                   "class_names": None, "intensity": None, **source}
    plan = make_plan(fingerprint, lambda patch, depth: math.prod(patch), 10**9, lambda patch, depth: 1.0, 1.0, "cpu")
    nodes = {n["id"]: n for n in train_pipeline(plan, fingerprint, "/out/checkpoints")["nodes"]}
    infer = infer_pipeline(plan, fingerprint, "/out/checkpoints/best_model.pt", "/out/predictions")
    return nodes, {n["id"]: n for n in infer["nodes"]}


@pytest.mark.parametrize(("source", "train", "infer"), [
    ({"source": "folders", "images_dir": "/d/imagesTr", "labels_dir": "/d/labelsTr", "test_dir": "/d/imagesTs"},
     ("io.ImageFolder", {"images_dir": "/d/imagesTr", "labels_dir": "/d/labelsTr"}),
     ("io.ImageFolder", {"images_dir": "/d/imagesTs", "labels_dir": ""})),
    ({"source": "folders", "images_dir": "/d/images", "labels_dir": "/d/labels", "test_dir": ""},
     ("io.ImageFolder", {"images_dir": "/d/images", "labels_dir": "/d/labels"}),
     ("io.ImageFolder", {"images_dir": "/d/images", "labels_dir": ""})),
    ({"source": "decathlon", "dataset": "/d/dataset.json", "has_test": False},
     ("io.Datalist", {"path": "/d/dataset.json", "key": "training"}),
     ("io.Datalist", {"path": "/d/dataset.json", "key": "training"})),
    ({"source": "csv", "dataset": "/d/list.csv"},
     ("io.Datalist", {"path": "/d/list.csv"}), ("io.Datalist", {"path": "/d/list.csv"})),
])
def test_each_kind_of_dataset_is_read_by_its_own_node(source: dict[str, Any], train: tuple[str, dict[str, Any]],
                                                     infer: tuple[str, dict[str, Any]]) -> None:
    trained, inferred = _planned(**source)
    for nodes, (kind, params) in ((trained, train), (inferred, infer)):
        assert nodes["dataset"]["type"] == kind
        assert {key: nodes["dataset"]["params"][key] for key in params} == params


def test_mr_data_is_cropped_to_its_foreground_and_both_pipelines_share_the_preprocessing() -> None:
    trained, inferred = _planned(source="csv", dataset="/d/list.csv")
    shared = ("orientation", "spacing", "crop_foreground", "normalize")
    assert [(trained[n]["type"], trained[n]["params"]) for n in shared] == \
        [(inferred[n]["type"], inferred[n]["params"]) for n in shared]
    assert trained["normalize"]["params"] == {"nonzero": True, "channel_wise": True}
    assert inferred["predictor"]["params"]["roi_size"] == trained["patch_crop"]["params"]["spatial_size"]
