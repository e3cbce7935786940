"""An export carries its preprocessing: `model.ts.json` applied with MONAI alone (the code shown in
docs/deploy.md) to a raw NIfTI scan gives the pipeline's own saved prediction, voxel for voxel."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import Graph, Node, NodeRegistry
from medical_imaging_framework.run.executor import Executor
from tests.support.medical_files import write_nifti_phantoms

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"

NODES = {  # id: (type, config)
    "images": ("io.ImageFolder", {"images_dir": "data/images", "labels_dir": "data/labels"}),
    "split": ("data.TrainValSplit", {"val_fraction": 0.5}),
    "window": ("transforms.CTWindow", {"window_min": -0.2, "window_max": 1.2}),
    "resize": ("transforms.Resize", {"spatial_size": [20, 18, 14]}),
    "flip": ("transforms.RandomFlip", {}),
    "pad": ("transforms.DivisiblePad", {"k": 4}),
    "apply": ("transforms.Apply", {}),
    "train_loader": ("data.DataLoader", {"batch_size": 2}),
    "val_loader": ("data.DataLoader", {"batch_size": 2, "shuffle": False}),
    "unet": ("models.UNet", {"spatial_dims": "3", "out_channels": 2, "channels": [4, 8], "strides": [2],
                             "num_res_units": 1}),
    "loss": ("losses.DiceCELoss", {}),
    "adam": ("optim.Adam", {"lr": 0.01}),
    "trainer": ("training.Trainer", {"num_epochs": 2, "device": "cpu", "checkpoint_dir": ""}),
    "predictor": ("inference.Predictor", {"roi_size": [16, 16, 16], "sw_batch_size": 2, "device": "cpu"}),
    "save": ("io.SavePredictions", {"output_dir": "predictions"}),
    "export": ("io.ExportModel", {"path": "model.ts", "format": "torchscript", "input_size": [16]}),
}
LINKS = [
    ("images.dataset", "split.dataset"), ("window.transform", "resize.transform"),
    ("resize.transform", "flip.transform"), ("flip.transform", "pad.transform"), ("pad.transform", "apply.transform"),
    ("split.train", "apply.train"), ("split.val", "apply.val"), ("apply.train", "train_loader.dataset"),
    ("apply.val", "val_loader.dataset"), ("unet.model", "trainer.model"), ("loss.loss", "trainer.loss"),
    ("adam.optimizer", "trainer.optimizer"), ("train_loader.loader", "trainer.train_data"),
    ("val_loader.loader", "trainer.val_data"), ("trainer.model", "predictor.model"),
    ("val_loader.loader", "predictor.data"), ("predictor.predictions", "save.predictions"),
    ("trainer.model", "export.model"),
]


def _pipeline(registry: NodeRegistry) -> Graph:
    graph = Graph("deploy")
    for node_id, (type_id, config) in NODES.items():
        graph.add_node(Node(node_id, registry.get(type_id), dict(config)))
    for source, target in LINKS:
        graph.connect(*source.split("."), *target.split("."))
    return graph


def _snippet() -> str:
    snippets = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    applying = [snippet for snippet in snippets if "settings[\"preprocessing\"]" in snippet]
    assert len(applying) == 1
    return applying[0]


def test_exported_preprocessing_reproduces_the_pipelines_prediction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_nifti_phantoms(tmp_path / "data", count=4, size=16)  # sheared affines: the grid must come back exactly
    graph = _pipeline(NodeRegistry())
    assert graph.validate() == []
    assert Executor(graph).run().status == "done"

    settings = json.loads((tmp_path / "model.ts.json").read_text(encoding="utf-8"))
    assert [step["transform"] for step in settings["preprocessing"]] == [
        "LoadImaged", "ScaleIntensityRanged", "Resized", "DivisiblePadd"]
    assert settings["preprocessing"][1] | {"keys": None} == {
        "transform": "ScaleIntensityRanged", "keys": None, "a_min": -0.2, "a_max": 1.2, "b_min": 0.0, "b_max": 1.0,
        "clip": True}
    assert settings["training_only"] == ["flip (transforms.RandomFlip)"]
    assert settings["inference"] == {"sliding_window": True, "roi_size": [16, 16, 16], "sw_batch_size": 2,
                                     "overlap": 0.25, "mode": "gaussian"}
    assert settings["output"] == {"channels": 2, "activation": "softmax", "argmax": True}
    assert settings["classes"] == {"0": "background", "1": "class 1"}
    assert settings["input"] == {"channels": 1, "spatial_dims": 3, "exported_size": [16, 16, 16]}

    saved = sorted((tmp_path / "predictions").glob("*.nii.gz"))
    assert saved, "the pipeline saved no prediction"
    for prediction in saved:  # each validation case, as a raw scan named scan.nii.gz (the doc's example)
        case = prediction.name.removesuffix(".nii.gz")
        shutil.copy(tmp_path / "data" / "images" / f"{case}.nii.gz", tmp_path / "scan.nii.gz")
        exec(compile(_snippet(), str(DOC), "exec"), {})  # runs segment("model.ts", "scan.nii.gz", "segmentations")
        ours = nib.load(tmp_path / "segmentations" / "scan_seg.nii.gz")
        theirs = nib.load(prediction)
        assert np.array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj)), case
        assert np.allclose(ours.affine, theirs.affine)
        assert len(np.unique(np.asarray(theirs.dataobj))) == 2  # a real segmentation, not one constant class


def test_mif_export_writes_the_stored_pipelines_preprocessing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from medical_imaging_framework.nodes.io.deploy_config import deploy_config
    from tests.support.pipelines import make_tiny_graph

    graph = make_tiny_graph(NodeRegistry(), tmp_path / "ckpt", num_epochs=1)
    assert Executor(graph).run().status == "done"
    output = tmp_path / "model.ts"
    assert main(["export", str(tmp_path / "ckpt" / "final_model.pt"), "--format", "torchscript", "-o", str(output),
                 "--input-size", "32"]) == 0
    assert capsys.readouterr().out.splitlines()[2] == f"Preprocessing, inference settings and classes: {output}.json"
    settings = json.loads((tmp_path / "model.ts.json").read_text(encoding="utf-8"))
    # synthetic phantoms, no transform node: the file is read and given a channel, nothing more
    assert settings["preprocessing"] == [{"transform": "LoadImaged", "keys": ["image"], "image_only": True,
                                          "ensure_channel_first": True, "dtype": "float32"}]
    assert settings["inference"] == {"sliding_window": False}  # 2D: the Predictor's auto is whole-image
    assert settings["output"] == {"channels": 1, "activation": "sigmoid", "threshold": 0.5}
    assert settings["model"] == {"file": "model.ts", "format": "torchscript", "node": "unet"}
    onnx = deploy_config(graph, "unet", model_file=tmp_path / "m.onnx", fmt="onnx", input_shape=(2, 1, 32, 32),
                         output_channels=3)
    assert onnx["model"] == {"file": "m.onnx", "format": "onnx", "node": "unet", "input_name": "image",
                             "output_name": "logits"}
    assert onnx["output"] == {"channels": 3, "activation": "softmax", "argmax": True}
    assert onnx["classes"] == {"0": "background", "1": "class 1", "2": "class 2"}
