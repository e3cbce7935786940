"""Real CT/MR geometry end to end: an LPS, 0.8 x 0.8 x 2.5 mm, 3-class dataset with a different shape per case
goes through Orientation (RAS) and Spacing, trains one epoch on label-centred patches, and its predictions
are saved on each source image's own grid (shape and affine), for NIfTI and NRRD files."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.run.executor import Executor

itk = pytest.importorskip("itk", reason="ITK (itk-io) is a dependency; it is missing from this environment")
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")

SHAPES = ((20, 18, 6), (18, 20, 6), (22, 16, 7))
SPACING = (0.8, 0.8, 2.5)


def lps_affine(index: int) -> np.ndarray:
    """A RAS-world affine whose axes point Left, Posterior, Superior (DICOM's LPS), 0.8 x 0.8 x 2.5 mm."""
    affine = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
    affine[:3, 3] = [12.0 + index, 7.0 - index, -4.0 * index]
    return affine


def three_classes(shape: tuple[int, ...], index: int) -> tuple[np.ndarray, np.ndarray]:
    """A label with classes 1 and 2 (boxes) and an image that shows them (with a little noise)."""
    label = np.zeros(shape, np.uint8)
    label[3 + index:10 + index, 4:11, 1:4] = 1
    label[12:17, 9 + index % 2:15, 2:5] = 2
    noise = np.random.default_rng(index).normal(0.0, 0.05, shape)
    return (label.astype(np.float32) + noise).astype(np.float32), label


def write_case(root: Path, index: int, fmt: str) -> None:
    image, label = three_classes(SHAPES[index], index)
    affine = lps_affine(index)
    for folder, volume in (("images", image), ("labels", label)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        if fmt == "nifti":
            nib.save(nib.Nifti1Image(volume, affine), root / folder / f"case{index}.nii.gz")
        else:  # ITK geometry is LPS: the same voxels with an identity direction
            itk_image = itk.image_from_array(np.ascontiguousarray(volume.T))
            itk_image.SetSpacing(SPACING)
            itk_image.SetOrigin(tuple(float(v) for v in np.diag([-1, -1, 1]) @ affine[:3, 3]))
            itk.imwrite(itk_image, str(root / folder / f"case{index}.nrrd"))


def real_data_graph(registry: NodeRegistry, root: Path, fmt: str) -> Graph:
    graph = Graph(name="real-data")
    nodes = {
        "folder": ("io.ImageFolder", {"images_dir": str(root / "images"), "labels_dir": str(root / "labels")}),
        "kfold": ("data.KFoldSplit", {"folds": 3, "fold": 1, "seed": 2}),
        "orient": ("transforms.Orientation", {"axcodes": "RAS"}),
        "spacing": ("transforms.Spacing", {"pixdim": [1.6, 1.6, 2.5]}),
        "norm": ("transforms.NormalizeIntensity", {"nonzero": True}),
        "pad": ("transforms.DivisiblePad", {"k": 4}),
        "patches": ("transforms.RandCropByPosNegLabel", {"spatial_size": [8, 8, 4], "num_samples": 2, "seed": 1}),
        "affine": ("transforms.RandAffine", {"prob": 0.5, "seed": 1}),
        "apply": ("transforms.Apply", {}),
        "apply_all": ("transforms.Apply", {}),
        "train_loader": ("data.DataLoader", {"batch_size": 2}),
        "val_loader": ("data.DataLoader", {"batch_size": 1, "shuffle": False}),
        "all_loader": ("data.DataLoader", {"batch_size": 1, "shuffle": False}),
        "unet": ("models.UNet", {"spatial_dims": "3", "out_channels": 3, "channels": [2, 4], "strides": [2],
                                 "num_res_units": 0}),
        "loss": ("losses.DiceCELoss", {}),
        "adam": ("optim.Adam", {"lr": 0.01}),
        "trainer": ("training.Trainer", {"num_epochs": 1, "device": "cpu", "checkpoint_dir": ""}),
        "predictor": ("inference.Predictor", {"device": "cpu", "sliding_window": "on", "roi_size": [8, 8, 4]}),
        "largest": ("inference.KeepLargestComponent", {}),
        "save": ("io.SavePredictions", {"output_dir": str(root / "out"), "format": fmt}),
    }
    for node_id, (type_id, config) in nodes.items():
        graph.add_node(registry.create(type_id, node_id, **config))
    links = [
        ("folder.dataset", "kfold.dataset"), ("orient.transform", "spacing.transform"),
        ("spacing.transform", "norm.transform"), ("norm.transform", "pad.transform"),
        ("pad.transform", "patches.transform"), ("patches.transform", "affine.transform"),
        ("affine.transform", "apply.transform"), ("kfold.train", "apply.train"), ("kfold.val", "apply.val"),
        ("affine.transform", "apply_all.transform"), ("folder.dataset", "apply_all.val"),
        ("apply.train", "train_loader.dataset"), ("apply.val", "val_loader.dataset"),
        ("apply_all.val", "all_loader.dataset"), ("unet.model", "trainer.model"), ("loss.loss", "trainer.loss"),
        ("adam.optimizer", "trainer.optimizer"), ("train_loader.loader", "trainer.train_data"),
        ("val_loader.loader", "trainer.val_data"), ("trainer.model", "predictor.model"),
        ("all_loader.loader", "predictor.data"), ("predictor.predictions", "largest.predictions"),
        ("largest.predictions", "save.predictions"),
    ]
    for source, target in links:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    return graph


def itk_geometry(path: Path) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]:
    image = itk.imread(str(path))
    return (tuple(itk.array_view_from_image(image).shape), np.asarray(image.GetSpacing()),
            np.asarray(image.GetOrigin()), itk.array_from_matrix(image.GetDirection()))


@pytest.mark.parametrize("fmt", ["nifti", "nrrd"])
def test_orientation_and_spacing_predictions_land_on_each_source_grid(registry: NodeRegistry, tmp_path: Path,
                                                                        fmt: str) -> None:
    for index in range(len(SHAPES)):
        write_case(tmp_path, index, fmt)
    graph = real_data_graph(registry, tmp_path, fmt)
    assert graph.validate() == []
    result = Executor(graph).run()
    assert result.status == "done", result.error
    train = result.outputs["apply"]["train"]
    assert all(tuple(patch["image"].shape[1:]) == (8, 8, 4) for patch in train[0]), "2 label-centred patches"
    grid = result.outputs["apply_all"]["val"][0]["image"]
    np.testing.assert_allclose(np.abs(np.diag(grid.affine.numpy())[:3]), (1.6, 1.6, 2.5), atol=1e-6)
    assert np.all(np.diag(grid.affine.numpy())[:3] > 0), "the model sees RAS voxels"
    suffix = ".nii.gz" if fmt == "nifti" else ".nrrd"
    for index, shape in enumerate(SHAPES):
        saved, source = tmp_path / "out" / f"case{index}{suffix}", tmp_path / "images" / f"case{index}{suffix}"
        if fmt == "nifti":
            written, original = nib.load(saved), nib.load(source)
            assert written.shape == original.shape == shape
            np.testing.assert_allclose(written.affine, original.affine, atol=1e-5)
        else:
            for got, expected in zip(itk_geometry(saved), itk_geometry(source), strict=True):
                np.testing.assert_allclose(got, expected, atol=1e-5)


def test_reoriented_and_cropped_predictions_come_back_on_the_same_voxels(registry: NodeRegistry,
                                                                         tmp_path: Path) -> None:
    """A model that segments exactly the bright voxels: after LPS -> RAS, resampling at the file's own spacing
    and a foreground crop, every saved mask equals its source, voxel for voxel (not mirrored, not shifted)."""
    from tests.nodes.test_prediction_grid import _predict_and_save

    (tmp_path / "images").mkdir()
    masks = []
    for index in range(2):
        mask = np.zeros(SHAPES[0], np.float32)
        mask[2:9, 3:7 + index, 1:3] = 1.0  # an asymmetric box (a flip left undone would move it); one crop box
        mask[14:17, 12:16, 4:6] = 1.0
        nib.save(nib.Nifti1Image(mask, lps_affine(index)), tmp_path / "images" / f"case{index}.nii.gz")
        masks.append(mask)
    _predict_and_save(registry, tmp_path / "images", tmp_path / "out", [
        ("transforms.Orientation", {"axcodes": "RAS"}), ("transforms.Spacing", {"pixdim": list(SPACING)}),
        ("transforms.CropForeground", {"margin": 1}), ("transforms.DivisiblePad", {"k": 4})])
    for index, mask in enumerate(masks):
        saved = nib.load(tmp_path / "out" / f"case{index}.nii.gz")
        np.testing.assert_allclose(saved.affine, lps_affine(index), atol=1e-5)
        np.testing.assert_array_equal(np.asarray(saved.dataobj), mask.astype(np.uint8))
