"""A new user's own data: predict_folder.json, 0/255 masks, the device line, `mif gui` with no display,
`mif nodes` ranges."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medical_imaging_framework.cli.display import display_problem
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph

TINY_UNET = ["--set", "unet.channels=4,8,16", "--set", "unet.strides=2,2", "--set", "unet.num_res_units=1"]


def test_train_prints_the_device_then_predict_folder_saves_masks_on_the_scans_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    save_pipeline(make_tiny_graph(NodeRegistry(), "checkpoints", num_epochs=1), tmp_path / "train.json")
    assert main(["run", "train.json"]) == 0
    first_lines = capsys.readouterr().out.splitlines()[:4]
    assert any(line.startswith("Training on cpu (") for line in first_lines), first_lines
    scans = tmp_path / "my_scans"
    scans.mkdir()
    rng = np.random.default_rng(0)
    affine = np.diag([0.8, 0.8, 1.0, 1.0])
    for name, shape in (("a", (40, 36)), ("b", (32, 32))):  # not multiples of 16: padded, then cropped back
        nib.save(nib.Nifti1Image(rng.random(shape).astype(np.float32), affine), scans / f"{name}.nii.gz")
    assert main(["run", "predict_folder.json", *TINY_UNET]) == 0
    out = capsys.readouterr().out
    assert "Image folder: 2 unlabelled 2D images" in out and "Saved 2 prediction(s) to predictions" in out
    for name, shape in (("a", (40, 36)), ("b", (32, 32))):
        written = nib.load(tmp_path / "predictions" / f"{name}.nii.gz")
        assert written.shape == shape
        np.testing.assert_allclose(written.affine, affine)
        assert set(np.unique(np.asarray(written.dataobj))) <= {0, 1}


def test_png_masks_stored_as_0_255_fail_before_training_and_binarize_maps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for sub in ("images", "labels"):
        (tmp_path / sub).mkdir()
    for index in range(4):
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 8 + index:20] = 255
        Image.fromarray(mask).save(tmp_path / "labels" / f"case{index}.png")
        Image.fromarray((mask // 2 + 40).astype(np.uint8)).save(tmp_path / "images" / f"case{index}.png")
    graph = make_tiny_graph(NodeRegistry(), "", num_epochs=1)
    folder = NodeRegistry().create("io.ImageFolder", "image_folder", images_dir=str(tmp_path / "images"),
                                   labels_dir=str(tmp_path / "labels"))
    graph.remove_node("phantoms")
    graph.add_node(folder)
    graph.connect("image_folder", "dataset", "split", "dataset")
    path = tmp_path / "pngs.json"
    save_pipeline(graph, path)
    assert main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Epoch [" not in captured.out
    assert (f"label '{tmp_path / 'labels' / 'case0.png'}' holds values 0, 255; labels must be class indices "
            "0..63 (0 = background). For a 0/255 mask set label_mapping to 'binarize'.") in captured.err
    assert main(["run", str(path), "--set", "image_folder.label_mapping=binarize"]) == 0
    assert "Epoch [1/1], Loss: 0." in capsys.readouterr().out  # a Dice loss in 0..1, not negative


def test_gui_without_a_display_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["gui"]) == 2
    assert "mif gui needs a display, and none was found" in capsys.readouterr().err
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None and display_problem({}, "linux") is not None


def test_nodes_shows_ranges_and_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes"]) == 0
    out = capsys.readouterr().out
    assert "num_epochs = '20'  [int, >= 1] Number of epochs to train." in out
    assert "device = 'auto'  [choice: auto | cpu | cuda]" in out
    assert "val_fraction = '0.2'  [float, 0 to 1]" in out
    assert "label_mapping = 'none'  [choice: none | binarize]" in out
