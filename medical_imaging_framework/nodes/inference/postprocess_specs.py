"""Post-processing of predictions: keep the largest connected component of each class (what MONAI
``KeepLargestConnectedComponent`` does, with SciPy). Sits between the Predictor and Save Predictions /
Evaluate Segmentation (``Predictions`` in, ``Predictions`` out); plain data here, SciPy runs when it runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext


def largest_components(classes: Any, labels: list[int], connectivity: int) -> Any:
    """``classes`` (1, *spatial class indices) with every region of each class in ``labels`` but its largest
    set to background (0).

    MONAI ``KeepLargestConnectedComponent`` needs scikit-image (or cuCIM), which this project does not depend
    on; SciPy's ``ndimage.label`` (a dependency) finds the same components.

    Args:
        classes: a class map (tensor or array); not changed.
        labels: the classes to clean.
        connectivity: 1 (faces) .. spatial dims (faces, edges and corners); 0 means spatial dims.
    """
    import numpy as np
    from scipy import ndimage

    values = np.asarray(classes)[0]
    kept = values.copy()
    structure = ndimage.generate_binary_structure(values.ndim, min(connectivity or values.ndim, values.ndim))
    for label in labels:
        regions, count = ndimage.label(values == label, structure=structure)
        if count > 1:
            largest = 1 + int(np.argmax(np.bincount(regions.ravel())[1:]))
            kept[(regions > 0) & (regions != largest)] = 0
    return kept[None]


def run_keep_largest(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    predictions = inputs["predictions"]
    chosen = list(config["applied_labels"])
    labels = chosen or list(range(1, predictions.num_classes))
    beyond = [label for label in chosen if label >= predictions.num_classes]
    if beyond:
        raise NodeError(f"applied_labels {beyond} are not classes of these predictions "
                        f"(0..{predictions.num_classes - 1})")
    cases = []
    removed = 0
    for case in predictions.cases:
        kept = case.prediction.clone()  # a MetaTensor keeps its meta and transform history (for saving)
        cleaned = largest_components(case.prediction.detach().cpu(), labels, config["connectivity"])
        kept[...] = torch.as_tensor(cleaned, dtype=kept.dtype)
        removed += int((kept != case.prediction).sum())
        cases.append(dataclasses.replace(case, prediction=kept))
    ctx.log(f"Kept the largest component of class(es) {', '.join(map(str, labels))}: {removed} voxel(s) removed "
            f"in {len(cases)} case(s)")
    return {"predictions": dataclasses.replace(predictions, cases=cases)}


def check_keep_largest(ctx: CheckContext) -> None:
    """Class 0 is background: it has no components to keep."""
    if 0 in ctx.config["applied_labels"]:
        ctx.problem("applied_labels", "0 is the background: list foreground classes only (1, 2, ...), or leave "
                                      "empty for every foreground class")


SPECS = [
    NodeSpec(
        type_id="inference.KeepLargestComponent",
        title="Keep Largest Component",
        category="Inference",
        run=run_keep_largest,
        inputs=(Port("predictions", PortKind.PREDICTIONS),),
        outputs=(Port("predictions", PortKind.PREDICTIONS),),
        params=(
            Param("applied_labels", ParamKind.INT_LIST, [], "Classes",
                  "Classes to clean (e.g. 1, 2); empty: every foreground class.", minimum=0, empty_list=True),
            Param("connectivity", ParamKind.INT, 0, "Connectivity",
                  "Neighbours that join voxels: 1 = faces only ... spatial dims = faces, edges and corners; 0: "
                  "all of them.", minimum=0, maximum=3),
        ),
        description="Removes small islands: keeps only the largest connected region of each class "
                    "(as MONAI KeepLargestConnectedComponent); removed voxels become background.",
        check=check_keep_largest,
    ),
]
