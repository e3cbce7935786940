"""Issue 21 point 3: the case viewer's source reads one evaluated case on demand, image included, also for
in-memory data past the 8 cases whose image the Predictor keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.specs import KEPT_IMAGES
from tests.support.evaluation_runs import evaluated_graph
from tests.support.pipelines import run_graph


def test_every_case_is_read_with_its_own_image(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = evaluated_graph(registry, tmp_path, 2)
    graph.nodes["phantoms"].config["count"] = 2 * (KEPT_IMAGES + 1)  # half of them evaluated: one past the kept
    result, _ = run_graph(graph)
    assert result.status == "done", result.error
    source = result.outputs["evaluate"]["metrics"]["cases"]
    predictions = result.outputs["predictor"]["predictions"]
    assert len(source) == KEPT_IMAGES + 1 and predictions.cases[-1].image is None
    val = result.outputs["transforms"]["val"]
    for index in (0, KEPT_IMAGES):
        case = source.read(source.names[index])
        assert case.name == val[index]["name"] == predictions.cases[index].name
        assert case.image is not None and np.array_equal(case.image, np.asarray(val[index]["image"])[0])
        assert np.array_equal(case.prediction, predictions.cases[index].prediction.numpy()[0])
        assert np.array_equal(case.label, np.asarray(val[index]["label"])[0])
