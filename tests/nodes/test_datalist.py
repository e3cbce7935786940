"""io.Datalist: Decathlon dataset.json (MONAI) and CSV lists feed training; clear errors for bad lists."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.nodes.io.datalist_specs import run_datalist
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import Executor, NodeContext
from medical_imaging_framework.training.metrics_log import read_metrics

TINY = {"count": 6, "size": 16}


def _run(path: Path, key: str = "training", label_mapping: str = "none") -> object:
    ctx = NodeContext("datalist", lambda event: None, CancelToken())
    config = {"path": str(path), "key": key, "cache": True, "label_mapping": label_mapping}
    return run_datalist(ctx, {}, config)["dataset"]


def _decathlon(tmp_path: Path) -> Path:
    assert main(["make-demo-data", str(tmp_path / "data"), "--count", "6", "--size", "16"]) == 0
    return tmp_path / "data" / "dataset.json"


def _train_graph(registry: NodeRegistry, datalist: Path, train_key: str, val_key: str, folder: Path) -> Graph:
    from medical_imaging_framework.cli.main import resolve_pipeline_path
    from medical_imaging_framework.core import load_pipeline

    graph = load_pipeline(resolve_pipeline_path("decathlon_train.json"), registry)
    graph.nodes["datalist_train"].config.update(path=str(datalist), key=train_key)
    graph.nodes["datalist_val"].config.update(path=str(datalist), key=val_key)
    graph.nodes["unet"].config.update(channels=[4, 8], strides=[2], num_res_units=0)
    graph.nodes["trainer"].config.update(num_epochs=2, device="cpu", checkpoint_dir=str(folder / "ckpt"))
    graph.nodes["evaluate"].config.update(output_dir=str(folder / "ckpt"))
    return graph


def test_decathlon_layout_trains_two_epochs(tmp_path: Path, registry: NodeRegistry) -> None:
    datalist = _decathlon(tmp_path)
    data = json.loads(datalist.read_text())
    assert {"training", "validation", "test"} <= set(data)
    assert (tmp_path / "data" / "imagesTr").is_dir() and (tmp_path / "data" / "labelsTr").is_dir()
    assert len(_run(datalist, "test")) == 4  # test images, no labels
    result = Executor(_train_graph(registry, datalist, "training", "validation", tmp_path)).run()
    assert result.status == "done", result.error
    rows = read_metrics(tmp_path / "ckpt" / "metrics.csv")
    assert [row["epoch"] for row in rows] == [1.0, 2.0]
    assert len(result.outputs["evaluate"]["metrics"]["per_case"]) == len(data["validation"])


def test_csv_layout_trains_two_epochs(tmp_path: Path, registry: NodeRegistry) -> None:
    _decathlon(tmp_path)
    listing = tmp_path / "data" / "cases.csv"
    names = sorted(path.name for path in (tmp_path / "data" / "imagesTr").iterdir())
    with open(listing, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label"])
        writer.writerows([[f"imagesTr/{name}", f"labelsTr/{name}"] for name in names])
    dataset = _run(listing)
    assert len(dataset) == 6 and dataset[0]["image"].shape == (1, 16, 16)
    assert dataset[0]["name"] == names[0].removesuffix(".nii.gz")
    result = Executor(_train_graph(registry, listing, "training", "training", tmp_path)).run()
    assert result.status == "done", result.error


def test_missing_file_key_and_mismatched_label_are_clear_errors(tmp_path: Path) -> None:
    datalist = _decathlon(tmp_path)
    data = json.loads(datalist.read_text())
    missing_key = tmp_path / "data" / "no_validation.json"
    missing_key.write_text(json.dumps({"training": data["training"]}))
    with pytest.raises(NodeError, match=r"has no 'validation' list \(lists present: training\)"):
        _run(missing_key, "validation")
    (tmp_path / "data" / data["training"][1]["label"]).unlink()
    with pytest.raises(NodeError, match=r"lists label '.*labelsTr/phantom_001.nii.gz', which does not exist"):
        _run(datalist)
    nib.save(nib.Nifti1Image(np.zeros((12, 12), np.uint8), np.eye(4)), tmp_path / "data" / "small.nii.gz")
    listing = tmp_path / "data" / "bad.csv"
    listing.write_text("image,label\nimagesTr/phantom_000.nii.gz,small.nii.gz\n")
    with pytest.raises(NodeError, match=r"label '.*small.nii.gz' has shape \(12, 12\) but its image .* \(16, 16\)"):
        _run(listing)
    listing.write_text("picture,mask\na.nii.gz,b.nii.gz\n")
    with pytest.raises(NodeError, match=r"has no 'image' column \(columns: picture, mask\)"):
        _run(listing)
    with pytest.raises(NodeError, match=r"datalist '.*nothing.json' not found"):
        _run(tmp_path / "nothing.json")


def test_label_values_are_checked_when_read_and_can_be_binarized(tmp_path: Path) -> None:
    datalist = _decathlon(tmp_path)
    label = tmp_path / "data" / "labelsTr" / "phantom_002.nii.gz"
    mask = np.asarray(nib.load(label).dataobj)
    nib.save(nib.Nifti1Image((mask * 255).astype(np.uint8), np.eye(4)), label)
    with pytest.raises(NodeError, match=r"label '.*phantom_002.nii.gz' holds values 0, 255; labels must be class "
                                        r"indices 0..63 .* set label_mapping to 'binarize'"):
        _run(datalist)
    dataset = _run(datalist, label_mapping="binarize")
    assert set(np.unique(dataset[2]["label"].numpy())) == {0.0, 1.0}


@pytest.mark.parametrize("name", ["decathlon_train.json", "predict_folder.json"])
def test_new_examples_are_valid_and_canonical(registry: NodeRegistry, name: str) -> None:
    from medical_imaging_framework.cli.main import resolve_pipeline_path
    from medical_imaging_framework.core import load_pipeline
    from medical_imaging_framework.core.pipeline_file import dumps

    path = resolve_pipeline_path(name)
    graph = load_pipeline(path, registry)
    assert graph.validate() == []
    assert path.read_text(encoding="utf-8") == dumps(graph)


@pytest.mark.parametrize(("value", "said"), [(["a.nii.gz", "b.nii.gz"], "a list of 2 values"), (7, "a number (7)")])
@pytest.mark.parametrize("field", ["image", "label"])
def test_image_or_label_that_is_not_one_path_is_named(tmp_path: Path, field: str, value: object, said: str) -> None:
    datalist = _decathlon(tmp_path)
    data = json.loads(datalist.read_text())
    data["training"][2][field] = value
    datalist.write_text(json.dumps(data))
    with pytest.raises(NodeError, match=rf"datalist '.*dataset\.json', 'training' entry 2: '{field}' must be one file "
                                        rf"path \(text\), not {re.escape(said)}$"):
        _run(datalist)


def test_symbolic_link_loop_and_dangling_link_are_named(tmp_path: Path) -> None:
    datalist = _decathlon(tmp_path)
    data = json.loads(datalist.read_text())
    image = tmp_path / "data" / data["training"][0]["image"]
    image.unlink()
    image.symlink_to(image.name)  # a link to itself
    with pytest.raises(NodeError, match=r"lists image '.*phantom_000\.nii\.gz', which is a symbolic link loop"):
        _run(datalist)
    image.unlink()
    image.symlink_to("gone.nii.gz")
    with pytest.raises(NodeError, match=r"phantom_000\.nii\.gz', which is a symbolic link to 'gone\.nii\.gz', which "
                                        r"does not exist"):
        _run(datalist)


def test_missing_image_with_terminal_escapes_in_its_name_is_shown_escaped(tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("image\ncase\x1b[2J\x1b]0;owned\x07.nii.gz\n", encoding="utf-8")
    with pytest.raises(NodeError) as refused:
        _run(listing)
    message = str(refused.value)
    assert message.endswith("case\\x1b[2J\\x1b]0;owned\\x07.nii.gz', which does not exist"), message
    assert "\x1b" not in message and "\x07" not in message
