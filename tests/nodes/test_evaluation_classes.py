"""HD95 per class: a class in the label but missing from the prediction is inf and counted, never averaged away.

Issue 19 point 4: ``hd95 5.38`` was printed next to ``dice_2 0.0000`` (the missed lesion dropped from the mean).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import NodeContext


def _evaluate(registry: NodeRegistry, predictions: PredictionSet, **config: Any) -> tuple[dict[str, Any], list[str]]:
    spec = registry.get("evaluation.EvaluateSegmentation")
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    events: list[Event] = []
    out = spec.run(NodeContext(node_id="evaluate", emit=events.append, cancel=CancelToken()),
                   {"predictions": predictions}, settings)
    return out["metrics"], [e.text for e in events if isinstance(e, LogLine)]


def _three_classes(index: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16^3 label with an organ (1) and a small lesion (2); the prediction finds the organ, never the lesion."""
    label = np.zeros((16, 16, 16), np.uint8)
    label[3:11, 3:11, 4:12] = 1
    label[12:14, 12:14, 2 + index:4 + index] = 2
    prediction = np.where(label == 2, 0, label)
    prediction[3:11, 3:11, 12] = 1  # one extra slice of organ: a finite HD95 for class 1
    return prediction, label


def test_a_class_missed_in_every_case_makes_its_hd95_inf_and_is_counted(registry: NodeRegistry,
                                                                         tmp_path: Path) -> None:
    spacing = np.diag([0.8, 0.8, 2.5, 1.0])
    cases = []
    for index in range(3):
        prediction, label = _three_classes(index)
        cases.append(Case(f"ct_{index}", None, torch.from_numpy(prediction)[None], spacing,
                          torch.from_numpy(label)[None].to(torch.int16)))
    metrics, lines = _evaluate(registry, PredictionSet(cases=cases, num_classes=3), output_dir=str(tmp_path))
    for row in metrics["per_case"]:
        assert row["dice_2"] == 0.0 and row["hd95_2"] == math.inf, "the missed lesion: Dice 0, HD95 inf"
        assert row["hd95_1"] == 2.5, "the organ's HD95 in mm: one slice of 2.5 mm"
        assert row["missed"] == 1 and row["hd95"] == math.inf
    mean = metrics["mean"]
    assert mean["hd95_1"] == 2.5 and mean["hd95_2"] == math.inf and mean["hd95"] == math.inf
    assert mean["missed"] == 3, "one missed structure in each of the 3 cases"
    header = next(line for line in lines if line.startswith("case ")).split()
    assert header == ["case", "dice", "hd95", "missed", "dice_1", "dice_2", "hd95_1", "hd95_2"]
    mean_line = next(line for line in lines if line.startswith("mean "))
    assert mean_line.split() == ["mean", "0.4706", "inf", "3", "0.9412", "0.0000", "2.5000", "inf"]
    assert any(line.startswith("Missed: 3 structure(s)") for line in lines)
    with open(tmp_path / "evaluation.csv", newline="", encoding="utf-8") as handle:
        mean_row = list(csv.DictReader(handle))[-1]
    assert (mean_row["name"], mean_row["hd95_2"], mean_row["missed"]) == ("mean", "inf", "3")


def test_a_class_absent_from_both_is_n_a_not_missed(registry: NodeRegistry) -> None:
    prediction, label = _three_classes(0)
    label[label == 2] = 0
    case = Case("no_lesion", None, torch.from_numpy(prediction)[None], np.eye(4),
                torch.from_numpy(label)[None].to(torch.int16))
    metrics, _ = _evaluate(registry, PredictionSet(cases=[case], num_classes=3))
    row = metrics["per_case"][0]
    assert math.isnan(row["dice_2"]) and math.isnan(row["hd95_2"]) and row["missed"] == 0
    assert row["hd95"] == row["hd95_1"] == 1.0
