"""Done-criterion of the medical I/O issue: phantoms written as NIfTI with non-identity affines and a
non-cubic shape train through ImageFolder (nifti_folder_train.json), are predicted on padded and on
resized grids, saved as NIfTI, and every saved prediction has its source image's shape and affine."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.run.events import EpochEnded, Event, LogLine, MetricsReported
from medical_imaging_framework.run.executor import Executor
from tests.support.medical_files import write_nifti_phantoms
from tests.support.pipelines import DEFAULT_PIPELINE, TINY_SETTINGS

SOURCE_SHAPE = (22, 20, 18)


def test_nifti_round_trip_keeps_every_shape_and_affine(registry: NodeRegistry, tmp_path: Path) -> None:
    affines = write_nifti_phantoms(tmp_path / "data", count=5, size=22, shape=SOURCE_SHAPE)
    graph = load_pipeline(DEFAULT_PIPELINE.parent / "nifti_folder_train.json", registry)
    graph.nodes["image_folder"].config.update(
        {"images_dir": str(tmp_path / "data" / "images"), "labels_dir": str(tmp_path / "data" / "labels")}
    )
    graph.nodes["unet"].config.update(TINY_SETTINGS["unet"])
    graph.nodes["pad"].config["k"] = 8  # 22x20x18 -> 24^3 on the model's grid
    graph.nodes["trainer"].config.update({"num_epochs": 2, "device": "cpu", "checkpoint_dir": str(tmp_path / "ck")})
    graph.nodes["predictor"].config.update({"roi_size": [16, 16, 16], "device": "cpu"})
    # predict every scan (unlabelled, deterministic transforms only) twice: on the padded grid (24^3) and
    # resized to 16^3 after padding; both save NIfTI that must come back on the 22x20x18 source grid
    graph.add_node(registry.create("io.ImageFolder", "scans", images_dir=str(tmp_path / "data" / "images"),
                                   labels_dir=""))
    graph.add_node(registry.create("transforms.Resize", "resize", spatial_size=[16, 16, 16]))
    links = [("scans.dataset", "scan_transforms.val"), ("random_flip.transform", "resize.transform"),
             ("resize.transform", "scan_transforms.transform"),
             ("scans.dataset", "pad_transforms.val"), ("random_flip.transform", "pad_transforms.transform")]
    for prefix, apply in (("resized", "scan_transforms"), ("padded", "pad_transforms")):
        graph.add_node(registry.create("transforms.Apply", apply))
        graph.add_node(registry.create("data.DataLoader", f"{prefix}_loader", batch_size=2, shuffle=False))
        graph.add_node(registry.create("inference.Predictor", f"{prefix}_predictor", roi_size=[16, 16, 16],
                                       device="cpu"))
        graph.add_node(registry.create("io.SavePredictions", f"{prefix}_save", output_dir=str(tmp_path / prefix)))
        links += [(f"{apply}.val", f"{prefix}_loader.dataset"), ("trainer.model", f"{prefix}_predictor.model"),
                  (f"{prefix}_loader.loader", f"{prefix}_predictor.data"),
                  (f"{prefix}_predictor.predictions", f"{prefix}_save.predictions")]
    for source, target in links:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    assert graph.validate() == []
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2]
    assert any(isinstance(e, MetricsReported) for e in events), "validation cases were evaluated"
    logs = [e.text for e in events if isinstance(e, LogLine)]
    assert "Transforms: 4 step(s), 2 random (training data only), deterministic steps cached" in logs
    for prefix in ("padded", "resized"):
        saved = sorted((tmp_path / prefix).glob("*.nii.gz"))
        assert [p.name for p in saved] == [f"case_{i}.nii.gz" for i in range(5)]
        for index, path in enumerate(saved):
            prediction = nib.load(path)
            source = nib.load(tmp_path / "data" / "images" / f"case_{index}.nii.gz")
            assert source.shape == SOURCE_SHAPE
            assert prediction.shape == source.shape, f"{prefix}: saved on the source grid"
            np.testing.assert_allclose(prediction.affine, source.affine, atol=1e-6)
            np.testing.assert_allclose(prediction.affine, affines[index], atol=1e-6)
            assert set(np.unique(np.asarray(prediction.dataobj))) <= {0, 1}
