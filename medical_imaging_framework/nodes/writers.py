"""SavePredictions: class maps written as NIfTI with their source affine, or PNG for 2D."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.nodes.inference import Case, PredictionSet

SUFFIX = {"nifti": ".nii.gz", "png": ".png"}


def write_nifti(case: Case, path: Path) -> None:
    """Write the class map as uint8 NIfTI with the case's affine.

    Args:
        case: the prediction.
        path: target ``.nii.gz`` file.
    """
    import nibabel as nib

    array = case.prediction[0].numpy().astype(np.uint8)
    image = nib.Nifti1Image(array, np.asarray(case.affine, dtype=np.float64))
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    nib.save(image, str(path))


def write_png(case: Case, path: Path) -> None:
    """Write a 2D class map as an 8-bit PNG holding the class indices (0, 1, ...).

    Args:
        case: the prediction (2D).
        path: target ``.png`` file.
    """
    from PIL import Image

    Image.fromarray(case.prediction[0].numpy().astype(np.uint8), mode="L").save(path)


def target_paths(predictions: PredictionSet, folder: Path, fmt: str) -> list[Path]:
    """One file per case, named after the case; refuses two cases with the same name.

    Args:
        predictions: the cases.
        folder: the output folder.
        fmt: ``nifti`` or ``png``.
    """
    paths: dict[str, Path] = {}
    for case in predictions.cases:
        if case.name in paths:
            raise NodeError(f"two predictions are named '{case.name}'; names must be unique to save them")
        paths[case.name] = folder / f"{case.name}{SUFFIX[fmt]}"
    return list(paths.values())


def run_save(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    predictions: PredictionSet = inputs["predictions"]
    fmt, folder = config["format"], Path(config["output_dir"]).expanduser()
    if fmt == "png" and predictions.spatial_dims != 2:
        raise NodeError(f"PNG holds 2D images only; these predictions are {predictions.spatial_dims}D (use nifti)")
    paths = target_paths(predictions, folder, fmt)
    existing = [path for path in paths if path.exists()]
    if existing and not config["overwrite"]:
        shown = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise NodeError(
            f"{len(existing)} output file(s) already exist ({shown}); set 'overwrite' to replace them "
            "or choose another output_dir"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NodeError(f"cannot create output folder '{folder}': {error.strerror or error}") from None
    write = write_nifti if fmt == "nifti" else write_png
    for case, path in zip(predictions.cases, paths, strict=True):
        try:
            write(case, path)
        except OSError as error:
            raise NodeError(f"cannot write '{path}': {error.strerror or error}") from None
        ctx.cancel.raise_if_cancelled()
    ctx.log(f"Saved {len(paths)} prediction(s) to {folder}")
    return {}


SPECS = [
    NodeSpec(
        type_id="io.SavePredictions",
        title="Save Predictions",
        category="Inference",
        run=run_save,
        inputs=(Port("predictions", PortKind.PREDICTIONS),),
        params=(
            Param("output_dir", ParamKind.PATH, "predictions", "Output folder", "Created when missing.",
                  allow_empty=False),
            Param("format", ParamKind.CHOICE, "nifti", "Format",
                  "nifti keeps each source image's affine; png (2D only) stores class indices 0, 1, ...",
                  choices=("nifti", "png")),
            Param("overwrite", ParamKind.BOOL, False, "Overwrite", "Replace files that already exist."),
        ),
        description="Writes one class-map file per case, named after its source image.",
    ),
]
