"""Done-criterion of the medical I/O issue: phantoms written as NIfTI with non-identity affines train
through ImageFolder (nifti_folder_train.json), are predicted and saved as NIfTI, and every saved
prediction keeps its source image's affine."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medical_imaging_framework.core import Executor, NodeRegistry, load_pipeline
from medical_imaging_framework.core.events import EpochEnded, Event, MetricsReported
from medical_imaging_framework.core.graph import Link
from tests.conftest import DEFAULT_PIPELINE, TINY_SETTINGS
from tests.nodes.medical_files import write_nifti_phantoms


def test_nifti_round_trip_keeps_every_affine(registry: NodeRegistry, tmp_path: Path) -> None:
    affines = write_nifti_phantoms(tmp_path / "data", count=5, size=16)
    graph = load_pipeline(DEFAULT_PIPELINE.parent / "nifti_folder_train.json", registry)
    graph.nodes["image_folder"].config.update(
        {"images_dir": str(tmp_path / "data" / "images"), "labels_dir": str(tmp_path / "data" / "labels")}
    )
    graph.nodes["unet"].config.update(TINY_SETTINGS["unet"])
    graph.nodes["trainer"].config.update({"num_epochs": 2, "device": "cpu", "checkpoint_dir": str(tmp_path / "ck")})
    graph.nodes["predictor"].config.update({"roi_size": [16, 16, 16], "device": "cpu"})
    # predict every scan (unlabelled, deterministic transforms only) and save the results as NIfTI
    graph.add_node(registry.create("io.ImageFolder", "scans", images_dir=str(tmp_path / "data" / "images"),
                                   labels_dir=""))
    graph.add_node(registry.create("transforms.Apply", "scan_transforms"))
    graph.add_node(registry.create("data.DataLoader", "scan_loader", batch_size=2, shuffle=False))
    graph.add_node(registry.create("inference.Predictor", "scan_predictor", roi_size=[16, 16, 16], device="cpu"))
    graph.add_node(registry.create("io.SavePredictions", "save", output_dir=str(tmp_path / "predictions")))
    for source, target in [("scans.dataset", "scan_transforms.val"),
                           ("random_flip.transform", "scan_transforms.transform"),
                           ("scan_transforms.val", "scan_loader.dataset"),
                           ("trainer.model", "scan_predictor.model"), ("scan_loader.loader", "scan_predictor.data"),
                           ("scan_predictor.predictions", "save.predictions")]:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    assert graph.validate() == []
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2]
    assert any(isinstance(e, MetricsReported) for e in events), "validation cases were evaluated"
    saved = sorted((tmp_path / "predictions").glob("*.nii.gz"))
    assert [p.name for p in saved] == [f"case_{i}.nii.gz" for i in range(5)]
    for index, path in enumerate(saved):
        prediction = nib.load(path)
        source = nib.load(tmp_path / "data" / "images" / f"case_{index}.nii.gz")
        np.testing.assert_allclose(prediction.affine, source.affine, atol=1e-6)
        np.testing.assert_allclose(prediction.affine, affines[index], atol=1e-6)
        assert prediction.shape == source.shape
        assert set(np.unique(np.asarray(prediction.dataobj))) <= {0, 1}
