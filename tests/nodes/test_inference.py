"""LoadCheckpoint, Predictor (whole image and sliding window), EvaluateSegmentation, SavePredictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.events import Event, LogLine, MetricsReported, SampleAvailable
from medical_imaging_framework.run.executor import NodeContext


def _call(registry: NodeRegistry, type_id: str, inputs: dict[str, Any], **config: Any) -> tuple[dict, list[Event]]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    events: list[Event] = []
    ctx = NodeContext(node_id=type_id.split(".")[1].lower(), emit=events.append, cancel=CancelToken())
    return spec.run(ctx, inputs, settings), events


class Volumes(torch.utils.data.Dataset):
    def __init__(self, count: int, shape: tuple[int, ...]) -> None:
        generator = torch.Generator().manual_seed(0)
        self.items = [{"image": torch.randn(1, *shape, generator=generator), "name": f"v{i}",
                       "affine": torch.diag(torch.tensor([1.0 + i, 1.0, 1.0, 1.0], dtype=torch.float64))}
                      for i in range(count)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def test_missing_checkpoint_names_the_path_and_the_fix(registry: NodeRegistry, tmp_path: Path) -> None:
    model = torch.nn.Conv2d(1, 1, 1)
    with pytest.raises(NodeError, match=r"checkpoint '.*nope\.pt' not found: run the training pipeline first"):
        _call(registry, "inference.LoadCheckpoint", {"model": model}, path=str(tmp_path / "nope.pt"))


def test_sliding_window_3d_covers_the_whole_volume(registry: NodeRegistry) -> None:
    torch.manual_seed(0)
    model = torch.nn.Conv3d(1, 1, 1)  # pointwise: windowed and whole-volume results must agree
    calls: list[tuple[int, ...]] = []
    model.register_forward_hook(lambda module, args, output: calls.append(tuple(args[0].shape[2:])))
    loader = DataLoader(Volumes(2, (20, 12, 10)), batch_size=2)
    out, events = _call(registry, "inference.Predictor", {"model": model, "data": loader},
                        roi_size=[8, 8, 8], overlap=0.25, device="cpu")
    predictions: PredictionSet = out["predictions"]
    assert all(shape == (8, 8, 8) for shape in calls), "the model only ever sees windows"
    assert len(calls) > 1
    expected = (torch.sigmoid(model(torch.stack([v["image"] for v in loader.dataset.items]))) > 0.5).to(torch.uint8)
    assert [c.name for c in predictions.cases] == ["v0", "v1"]
    for index, case in enumerate(predictions.cases):
        assert case.prediction.shape == (1, 20, 12, 10)
        assert (case.prediction == expected[index]).float().mean() > 0.999
        assert case.affine[0, 0] == 1.0 + index
    assert predictions.num_classes == 2 and predictions.spatial_dims == 3
    sample = next(e for e in events if isinstance(e, SampleAvailable))
    assert isinstance(sample.image, np.ndarray) and sample.prediction.shape == (1, 20, 12, 10)
    assert any(isinstance(e, LogLine) and "sliding window" in e.text for e in events)


def test_predictor_argmax_for_several_classes_and_roi_check(registry: NodeRegistry) -> None:
    model = torch.nn.Conv2d(1, 3, 1)
    loader = DataLoader(Volumes(3, (8, 8)), batch_size=2)
    out, _ = _call(registry, "inference.Predictor", {"model": model, "data": loader}, device="cpu")
    predictions = out["predictions"]
    assert predictions.num_classes == 3 and len(predictions.cases) == 3
    with torch.no_grad():
        expected = model(loader.dataset.items[2]["image"][None]).argmax(1)
    assert predictions.cases[2].prediction[0].long().equal(expected[0])
    with pytest.raises(NodeError, match="roi_size has 3 values but the images are 2D"):
        _call(registry, "inference.Predictor", {"model": model, "data": loader}, sliding_window="on", device="cpu")


def _case(name: str, prediction: np.ndarray, label: np.ndarray, affine: np.ndarray | None = None) -> Case:
    return Case(name=name, image=torch.zeros(1, *prediction.shape), prediction=torch.from_numpy(prediction)[None],
                label=torch.from_numpy(label)[None].float(), affine=np.eye(4) if affine is None else affine)


def test_evaluation_dice_hd95_table_and_event(registry: NodeRegistry) -> None:
    label = np.zeros((10, 10), np.uint8)
    label[2:6, 2:6] = 1
    half = label.copy()
    half[4:6] = 0  # 8 of 16 pixels: Dice = 2*8/(8+16)
    spacing = np.diag([2.0, 2.0, 1.0, 1.0])
    predictions = PredictionSet(cases=[_case("same", label, label), _case("half", half, label, spacing)])
    out, events = _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions})
    rows = out["metrics"]["per_case"]
    assert rows[0]["dice"] == pytest.approx(1.0) and rows[0]["hd95"] == pytest.approx(0.0)
    assert rows[1]["dice"] == pytest.approx(2 / 3, abs=1e-4)
    assert rows[1]["hd95"] == pytest.approx(4.0), "2 rows missing at 2 mm spacing"
    assert out["metrics"]["mean"]["dice"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    reported = next(e for e in events if isinstance(e, MetricsReported))
    assert reported.mean == out["metrics"]["mean"] and len(reported.per_case) == 2
    weights, title, *lines = [e.text for e in events if isinstance(e, LogLine)]
    assert weights.startswith("Weights scored: unknown")
    assert "original grid" in title and "HD95 in mm" in title
    assert lines[0].split() == ["case", "dice", "hd95", "missed"]
    assert lines[2].split() == ["half", "0.6667", "4.0000", "0"]
    assert lines[3].split()[0] == "mean"


def test_evaluation_of_empty_masks(registry: NodeRegistry) -> None:
    label = np.zeros((8, 8), np.uint8)
    label[2:4, 2:4] = 1
    empty = np.zeros((8, 8), np.uint8)
    predictions = PredictionSet(cases=[_case("missed", empty, label), _case("false_alarm", label, empty),
                                       _case("both_empty", empty, empty), _case("hit", label, label)])
    out, events = _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions})
    dice = {row["name"]: row["dice"] for row in out["metrics"]["per_case"]}
    assert dice["missed"] == 0.0 and dice["false_alarm"] == 0.0 and dice["hit"] == 1.0
    assert np.isnan(dice["both_empty"])
    assert out["metrics"]["mean"]["dice"] == pytest.approx(1 / 3), "n/a is left out of the mean"
    hd95 = {row["name"]: row["hd95"] for row in out["metrics"]["per_case"]}
    assert hd95["missed"] == hd95["false_alarm"] == float("inf") and hd95["hit"] == 0.0
    assert out["metrics"]["mean"]["hd95"] == float("inf"), "a missed structure is never averaged away"
    assert out["metrics"]["mean"]["missed"] == 1
    lines = [e.text for e in events if isinstance(e, LogLine)][2:]  # after the weights and the grid
    assert lines[1].split() == ["missed", "0.0000", "inf", "1"]
    assert lines[3].split() == ["both_empty", "n/a", "n/a", "0"]


def test_evaluation_multiclass_and_errors(registry: NodeRegistry) -> None:
    label = np.zeros((6, 6), np.uint8)
    label[:3] = 1
    label[3:, :3] = 2
    wrong = label.copy()
    wrong[label == 2] = 0
    predictions = PredictionSet(cases=[_case("c", wrong, label)], num_classes=3)
    out, _ = _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions})
    row = out["metrics"]["per_case"][0]
    assert row["dice_1"] == pytest.approx(1.0) and row["dice_2"] == pytest.approx(0.0)
    assert row["dice"] == pytest.approx(0.5)
    unlabelled = PredictionSet(cases=[Case("u", torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), np.eye(4))])
    with pytest.raises(NodeError, match="case 'u' has no label"):
        _call(registry, "evaluation.EvaluateSegmentation", {"predictions": unlabelled})
    too_many = PredictionSet(cases=[_case("k", label, label)], num_classes=2)
    with pytest.raises(NodeError, match=r"case 'k': label values must be classes 0\.\.1, found 0\.\.2"):
        _call(registry, "evaluation.EvaluateSegmentation", {"predictions": too_many})


def test_save_predictions_nifti_png_and_overwrite(registry: NodeRegistry, tmp_path: Path) -> None:
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 1:4] = 1
    affine = np.array([[0.0, 2, 0, 5], [1.5, 0, 0, -3], [0, 0, 3, 1], [0, 0, 0, 1]])
    predictions = PredictionSet(cases=[_case("a", mask, mask, affine)])
    out_dir = tmp_path / "out"
    _call(registry, "io.SavePredictions", {"predictions": predictions}, output_dir=str(out_dir))
    saved = nib.load(out_dir / "a.nii.gz")
    np.testing.assert_allclose(saved.affine, affine)
    np.testing.assert_array_equal(np.asarray(saved.dataobj), mask)
    with pytest.raises(NodeError, match=r"1 output file\(s\) already exist \(.*a\.nii\.gz\); set 'overwrite'"):
        _call(registry, "io.SavePredictions", {"predictions": predictions}, output_dir=str(out_dir))
    predictions.cases[0].prediction.zero_()
    _call(registry, "io.SavePredictions", {"predictions": predictions}, output_dir=str(out_dir), overwrite=True)
    assert np.asarray(nib.load(out_dir / "a.nii.gz").dataobj).max() == 0
    _call(registry, "io.SavePredictions", {"predictions": PredictionSet(cases=[_case("b", mask, mask)])},
          output_dir=str(out_dir), format="png")
    # the class map is indexed (x = column, y = row) like the PNG reader's: the file holds it row by row
    np.testing.assert_array_equal(np.asarray(Image.open(out_dir / "b.png")), mask.T)
    volume = PredictionSet(cases=[_case("v", np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 2), np.uint8))])
    with pytest.raises(NodeError, match="PNG holds 2D images only; these predictions are 3D"):
        _call(registry, "io.SavePredictions", {"predictions": volume}, output_dir=str(out_dir), format="png")
