"""Post-processing of predictions: keep the largest connected component of each class (MONAI
``KeepLargestConnectedComponent``). Sits between the Predictor and Save Predictions / Evaluate Segmentation
(``Predictions`` in, ``Predictions`` out); plain data here, MONAI runs when the node runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext


def run_keep_largest(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import KeepLargestConnectedComponent

    predictions = inputs["predictions"]
    chosen = list(config["applied_labels"])
    labels = chosen or list(range(1, predictions.num_classes))
    beyond = [label for label in chosen if label >= predictions.num_classes]
    if beyond:
        raise NodeError(f"applied_labels {beyond} are not classes of these predictions "
                        f"(0..{predictions.num_classes - 1})")
    # independent: each class keeps its own largest component (nnU-Net's per-class post-processing)
    keep = KeepLargestConnectedComponent(applied_labels=labels, is_onehot=False, independent=True,
                                         connectivity=config["connectivity"] or None)
    cases = []
    removed = 0
    for case in predictions.cases:
        kept = case.prediction.clone()  # a MetaTensor keeps its meta and transform history (for saving)
        kept[...] = keep(case.prediction)
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
                    "(MONAI KeepLargestConnectedComponent); removed voxels become background.",
        check=check_keep_largest,
    ),
]
