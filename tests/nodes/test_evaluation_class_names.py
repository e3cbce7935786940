"""Class names from dataset.json 'labels' (or the class_names parameter) name the per-class columns.

Issue 19 point 5: tables, evaluation.csv and the report showed dice_1, dice_2 instead of the classes' names.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.events import Event, LogLine, SampleAvailable
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.tools.report import write_report


class Oracle(torch.nn.Module):
    """A 'trained model' whose 3 output channels peak at the class the image holds (images are label maps)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([-((image - value) ** 2) for value in (0.0, 1.0, 2.0)], dim=1)


def _call(registry: NodeRegistry, type_id: str, inputs: dict[str, Any], events: list[Event] | None = None,
          **config: Any) -> dict[str, Any]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    sink = events.append if events is not None else (lambda event: None)
    return spec.run(NodeContext(node_id=type_id, emit=sink, cancel=CancelToken()), inputs, settings)


def _decathlon(root: Path) -> Path:
    """Two 16^3 cases with an organ (1) and a lesion (2), and a dataset.json naming the classes."""
    root.mkdir()
    items = []
    for index in range(2):
        label = np.zeros((16, 16, 16), np.float32)
        label[3:11, 3:11, 3:11] = 1
        label[12:15, 12:15, 4 + index:8 + index] = 2
        nib.save(nib.Nifti1Image(label, np.diag([0.8, 0.8, 2.5, 1])), root / f"img_{index}.nii.gz")
        nib.save(nib.Nifti1Image(label, np.diag([0.8, 0.8, 2.5, 1])), root / f"lab_{index}.nii.gz")
        items.append({"image": f"img_{index}.nii.gz", "label": f"lab_{index}.nii.gz"})
    path = root / "dataset.json"
    path.write_text(json.dumps({"labels": {"0": "background", "1": "liver", "2": "liver lesion"},
                                "training": items}), encoding="utf-8")
    return path


def _predictions(registry: NodeRegistry, datalist: Path, events: list[Event] | None = None) -> Any:
    dataset = _call(registry, "io.Datalist", {}, path=str(datalist))["dataset"]
    loader = _call(registry, "data.DataLoader", {"dataset": dataset}, batch_size=2, shuffle=False)["loader"]
    return _call(registry, "inference.Predictor", {"model": Oracle(), "data": loader}, events, sliding_window="off",
                 device="cpu")["predictions"]


def test_dataset_json_names_the_columns_of_the_table_the_csv_and_the_report(registry: NodeRegistry,
                                                                             tmp_path: Path) -> None:
    events: list[Event] = []
    predictions = _predictions(registry, _decathlon(tmp_path / "data"), events)
    sample = next(event for event in events if isinstance(event, SampleAvailable))
    assert sample.class_names == ("background", "liver", "liver lesion"), "the viewer gets the names"
    metrics = _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions}, events,
                    output_dir=str(tmp_path / "out"))["metrics"]
    assert metrics["mean"]["dice_liver"] == 1.0 and metrics["mean"]["dice_liver_lesion"] == 1.0
    lines = [event.text for event in events if isinstance(event, LogLine)]
    header = next(line for line in lines if line.startswith("case "))
    assert header.split() == ["case", "dice", "hd95", "missed", "dice_liver", "dice_liver_lesion", "hd95_liver",
                              "hd95_liver_lesion"]
    with open(tmp_path / "out" / "evaluation.csv", newline="", encoding="utf-8") as handle:
        columns = next(csv.reader(handle))
    assert columns[-4:] == ["dice_liver", "dice_liver_lesion", "hd95_liver", "hd95_liver_lesion"]
    (tmp_path / "out" / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n", encoding="utf-8")
    page = write_report(tmp_path / "out").read_text(encoding="utf-8")
    assert "<th>dice_liver_lesion</th>" in page and "<th>hd95_liver</th>" in page


def test_the_class_names_parameter_wins_and_a_wrong_count_is_refused(registry: NodeRegistry,
                                                                      tmp_path: Path) -> None:
    predictions = _predictions(registry, _decathlon(tmp_path / "data"))
    metrics = _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions},
                    class_names="bg, organ, tumour")["metrics"]
    assert {"dice_organ", "dice_tumour", "hd95_organ", "hd95_tumour"} <= set(metrics["mean"])
    with pytest.raises(NodeError, match=r"class_names: 'bg, organ' gives 2 name\(s\); the model predicts 3 classes"):
        _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions}, class_names="bg, organ")


def test_report_planes_show_each_class_at_its_fullest_slice_on_the_original_grid(registry: NodeRegistry,
                                                                                  tmp_path: Path) -> None:
    dataset = _call(registry, "io.Datalist", {}, path=str(_decathlon(tmp_path / "data")))["dataset"]
    chain = _call(registry, "transforms.Resize", {"transform": ()}, spatial_size=[8, 8, 8])["transform"]
    data = _call(registry, "transforms.Apply", {"transform": chain, "val": dataset})["val"]
    loader = _call(registry, "data.DataLoader", {"dataset": data}, batch_size=2, shuffle=False)["loader"]
    predictions = _call(registry, "inference.Predictor", {"model": Oracle(), "data": loader}, sliding_window="off",
                        device="cpu")["predictions"]
    _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions}, output_dir=str(tmp_path / "out"))
    with np.load(tmp_path / "out" / "evaluation_samples.npz") as samples:
        names = [str(samples[f"name_{index}"]) for index in range(4)]
        assert names == ["img_0: liver (slice 4 of 16)", "img_0: liver_lesion (slice 5 of 16)",
                         "img_1: liver (slice 4 of 16)", "img_1: liver_lesion (slice 6 of 16)"]
        for index in range(4):
            assert samples[f"label_{index}"].shape == (16, 16), "cut from the original grid, not the model's 8^3"
            assert samples[f"image_{index}"].shape == (16, 16)
        assert (samples["label_1"] == 2).sum() == 9, "the lesion's 3x3 voxels on its fullest slice"
    from medical_imaging_framework.tools.report_figures import class_colour, overlay_grid_png

    assert len({class_colour(value) for value in range(1, 10)}) == 9
    plane = np.zeros((16, 16), np.float32)
    plane[2:8, 2:8], plane[10:14, 10:14] = 1, 2
    png = overlay_grid_png([{"name": "p", "image": None, "label": plane, "prediction": plane}])
    from io import BytesIO

    from PIL import Image

    pixels = np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    for value in (1, 2):
        colour = np.array([int(class_colour(value)[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - colour).sum(axis=1) < 40).sum() > 20, f"class {value} outlined in its colour"


def test_class_names_that_do_not_fit_the_model_are_refused_before_the_run(registry: NodeRegistry,
                                                                          tmp_path: Path) -> None:
    from medical_imaging_framework.core import Link
    from tests.support.tiny import tiniest_graph

    graph = tiniest_graph(registry, tmp_path / "ckpt")  # a 1-channel (binary) UNet: 2 classes
    graph.add_node(registry.create("inference.Predictor", "predictor", device="cpu"))
    graph.add_node(registry.create("evaluation.EvaluateSegmentation", "evaluate", class_names="bg, liver, lesion"))
    for source, target in [("trainer.model", "predictor.model"), ("val_loader.loader", "predictor.data"),
                           ("predictor.predictions", "evaluate.predictions")]:
        graph.links.append(Link(*source.split("."), *target.split(".")))
    problems = [problem for problem in graph.validate() if problem.node_id == "evaluate"]
    assert [(problem.field, problem.message.split(" (")[0]) for problem in problems] == [
        ("class_names", "gives 3 name(s) but the model predicts 2 classes, background included")]
    graph.nodes["evaluate"].config["class_names"] = "bg, lesion"
    assert [problem for problem in graph.validate() if problem.node_id == "evaluate"] == []
