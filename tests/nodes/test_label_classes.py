"""Issue 19 point 1: the classes in the labels are held against the model's out_channels before epoch 1, in
the documented own-data command (`mif run nifti_folder_train.json` on 0/1/2 labels)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from medical_imaging_framework.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "segmentation" / "TRAINING.md"
TINY = ["--set", "unet.channels=2,4", "--set", "unet.strides=2", "--set", "unet.num_res_units=0",
        "--set", "random_crop.roi_size=16,16,16", "--set", "predictor.roi_size=16,16,16",
        "--set", "split.val_fraction=0.25", "--set", "trainer.num_epochs=1", "--set", "trainer.device=cpu",
        "--set", "predictor.device=cpu", "--set", "trainer.save_every_n_epochs=1"]


def write_three_class_data(root: Path) -> None:
    """``data/images`` and ``data/labels``: 4 CT-like 16³ cases (0.8×0.8×2.5 mm); only case_03 holds class 2."""
    for sub in ("images", "labels"):
        (root / "data" / sub).mkdir(parents=True)
    affine = np.diag([-0.8, -0.8, 2.5, 1.0])  # LPS-like spacing of the tester's scans
    for index in range(4):
        rng = np.random.default_rng(index)
        label = np.zeros((16, 16, 16), np.uint8)
        label[2:8, 3:9, 2:9] = 1
        if index == 3:
            label[9:14, 9:14, 8:14] = 2
        image = (rng.integers(-1000, -900, label.shape) + 300 * label.astype(np.int16)).astype(np.int16)
        nib.save(nib.Nifti1Image(image, affine), root / "data" / "images" / f"case_{index:02d}.nii.gz")
        nib.save(nib.Nifti1Image(label, affine), root / "data" / "labels" / f"case_{index:02d}.nii.gz")


def documented_message() -> str:
    """The example message TRAINING.md quotes for a 2-channel model and 0/1/2 labels."""
    text = DOC.read_text(encoding="utf-8")
    return re.search(r"`(labels in '[^`]+out_channels to \d+)`", text).group(1)


def run_own_data(out_channels: int) -> int:
    """The documented own-data command on the tiny settings, with ``unet.out_channels``."""
    return main(["run", "nifti_folder_train.json", *TINY, "--set", f"unet.out_channels={out_channels}"])


def stopped_before_epoch_1(printed: Any, root: Path, out_channels: int, classes: str) -> None:
    """The run (its printed ``capsys`` result) ended before epoch 1 naming case_03's classes and the fix."""
    label = Path("data") / "labels" / "case_03.nii.gz"
    assert (f"✗ Node 'trainer' failed: labels in '{label}' hold classes 0, 1, 2 but the model 'unet' has "
            f"out_channels={out_channels} ({classes}): set unet.out_channels to 3\n") in printed.err
    assert "Epoch [" not in printed.out
    assert not (root / "checkpoints").exists()  # no checkpoint_epoch_1.pt, no metrics.csv rows


def test_a_binary_model_on_three_class_labels_stops_before_epoch_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_three_class_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_own_data(1) == 1
    stopped_before_epoch_1(capsys.readouterr(), tmp_path, 1, "binary, classes 0..1")


def test_two_output_channels_stop_before_epoch_1_and_three_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_three_class_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_own_data(2) == 1
    printed = capsys.readouterr()
    stopped_before_epoch_1(printed, tmp_path, 2, "classes 0..1")
    assert f"✗ Node 'trainer' failed: {documented_message()}\n" in printed.err  # TRAINING.md's example is true
    assert run_own_data(3) == 0
    assert "Epoch [1/1]" in capsys.readouterr().out
    assert (tmp_path / "checkpoints" / "checkpoint_epoch_1.pt").is_file()
    rows = (tmp_path / "checkpoints" / "metrics.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2  # header and epoch 1


def test_a_dice_loss_without_softmax_is_named_in_the_advice() -> None:
    from medical_imaging_framework.nodes.training.label_classes import class_problem, loss_advice
    from medical_imaging_framework.nodes.transforms.item_checks import LabelClasses

    pipeline = {"nodes": [{"id": "dice", "type": "losses.DiceLoss", "params": {"sigmoid": True, "softmax": False}}],
                "links": [{"from": "dice.loss", "to": "trainer.loss"}]}
    advice = loss_advice(pipeline, "trainer")
    found = [LabelClasses("a.nii.gz", (0, 1)), LabelClasses("b.nii.gz", (0, 2)), LabelClasses("c.nii.gz", (0, 4))]
    assert class_problem(found, "net", 1, advice) == (
        "labels in 'c.nii.gz' hold classes 0, 4 (and 1 more label file(s) hold classes above 1) but the model "
        "'net' has out_channels=1 (binary, classes 0..1): set net.out_channels to 5 and dice.softmax to true "
        "(dice.sigmoid to false)")
    assert class_problem(found, "net", 5, advice) == ""


def test_the_networks_own_out_channels_is_used_when_the_pipeline_does_not_state_it() -> None:
    from monai.networks.nets import UNet

    from medical_imaging_framework.nodes.training.label_classes import model_node

    pipeline = {"nodes": [{"id": "net", "type": "plugin.Net", "params": {}}],
                "links": [{"from": "net.model", "to": "trainer.model"}]}
    network = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(2, 4), strides=(2,))
    assert model_node(pipeline, "trainer", network) == ("net", 2)
    assert model_node(pipeline, "trainer", object()) is None
