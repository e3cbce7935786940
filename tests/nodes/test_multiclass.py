"""Multi-class end to end: 3-class label maps train a 3-channel UNet (Dice-CE, softmax + one-hot), the
Predictor takes the argmax and the evaluation one-hot encodes with the same 3 classes."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.nodes.data.phantoms import make_phantom
from medical_imaging_framework.run.events import Event, MetricsReported
from medical_imaging_framework.run.executor import Executor


def _write_three_class_folder(root: Path, count: int) -> None:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for index in range(count):
        rng = np.random.default_rng([3, index])
        image_a, mask_a = make_phantom(32, 2, 0.05, rng)
        _, mask_b = make_phantom(32, 2, 0.05, rng)
        label = np.where(mask_b > 0, 2, np.where(mask_a > 0, 1, 0)).astype(np.uint8)
        image = image_a + 2.0 * mask_b
        nib.save(nib.Nifti1Image(image.astype(np.float32), np.eye(4)), root / "images" / f"c{index}.nii.gz")
        nib.save(nib.Nifti1Image(label, np.eye(4)), root / "labels" / f"c{index}.nii.gz")


def test_three_classes_flow_through_loss_prediction_and_metric(registry: NodeRegistry, tmp_path: Path) -> None:
    _write_three_class_folder(tmp_path / "data", count=6)
    graph = Graph(name="multiclass")
    nodes = {
        "folder": ("io.ImageFolder", {"images_dir": str(tmp_path / "data" / "images"),
                                      "labels_dir": str(tmp_path / "data" / "labels")}),
        "split": ("data.TrainValSplit", {"val_fraction": 0.34}),
        "train_loader": ("data.DataLoader", {"batch_size": 2}),
        "val_loader": ("data.DataLoader", {"batch_size": 2, "shuffle": False}),
        "unet": ("models.UNet", {"out_channels": 3, "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1}),
        "loss": ("losses.DiceCELoss", {}),
        "adam": ("optim.Adam", {"lr": 0.01}),
        "trainer": ("training.Trainer", {"num_epochs": 2, "device": "cpu", "checkpoint_dir": ""}),
        "predictor": ("inference.Predictor", {"device": "cpu"}),
        "evaluate": ("evaluation.EvaluateSegmentation", {}),
    }
    for node_id, (type_id, config) in nodes.items():
        graph.add_node(registry.create(type_id, node_id, **config))
    for source, target in [("folder.dataset", "split.dataset"), ("split.train", "train_loader.dataset"),
                           ("split.val", "val_loader.dataset"), ("unet.model", "trainer.model"),
                           ("loss.loss", "trainer.loss"), ("adam.optimizer", "trainer.optimizer"),
                           ("train_loader.loader", "trainer.train_data"), ("val_loader.loader", "trainer.val_data"),
                           ("trainer.model", "predictor.model"), ("val_loader.loader", "predictor.data"),
                           ("predictor.predictions", "evaluate.predictions")]:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    events: list[Event] = []
    result = Executor(graph, events.append).run()
    assert result.status == "done", result.error
    predictions = result.outputs["predictor"]["predictions"]
    assert predictions.num_classes == 3
    assert all(set(np.unique(c.prediction.numpy())) <= {0, 1, 2} for c in predictions.cases)
    metrics = next(e for e in events if isinstance(e, MetricsReported))
    assert {"dice", "dice_1", "dice_2", "hd95"} <= set(metrics.mean)
    for row in metrics.per_case:
        assert np.isclose(row["dice"], np.nanmean([row["dice_1"], row["dice_2"]]))
