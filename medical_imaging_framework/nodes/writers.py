"""SavePredictions: class maps written on their source image's grid, as NIfTI with the source affine or PNG.

The Predictor works on the grid the transforms produced (padded, resized, cropped). Each class map is
resampled back (nearest neighbour, MONAI ``SpatialResample``) from that grid to the grid of the file it
came from, so a saved prediction has its source's shape and affine and lies on the same voxels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.nodes.inference import Case, PredictionSet

SUFFIX = {"nifti": ".nii.gz", "png": ".png"}
SLAB_VOXELS = 1 << 23  # voxels resampled at once (MONAI builds a float coordinate grid for each)


def on_source_grid(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The class map on its source grid: ``(uint8 array (*spatial), 4x4 affine)``.

    Each source voxel takes the class of the prediction voxel at the same world position (nearest
    neighbour); source voxels outside the prediction's grid (e.g. cropped away) are background (0).
    Without a source grid (data that went through no transforms) the prediction is returned as it is.

    Args:
        case: the prediction, with ``source_affine``/``source_shape`` when transforms changed its grid.
    """
    prediction = case.prediction[0].numpy().astype(np.uint8)
    affine = np.asarray(case.affine, dtype=np.float64)
    if case.source_affine is None or case.source_shape is None:
        return prediction, affine
    source_affine = np.asarray(case.source_affine, dtype=np.float64)
    shape = tuple(int(size) for size in case.source_shape)
    if len(shape) != prediction.ndim:
        raise NodeError(f"case '{case.name}': the prediction is {prediction.ndim}D but its source image is "
                        f"{len(shape)}D")
    if np.allclose(affine, source_affine, atol=1e-6):  # same voxels; only padded/cropped at the far end
        restored = np.zeros(shape, dtype=np.uint8)
        region = tuple(slice(0, min(a, b)) for a, b in zip(shape, prediction.shape, strict=True))
        restored[region] = prediction[region]
        return restored, source_affine
    import torch
    from monai.data import MetaTensor
    from monai.transforms import SpatialResample

    resample = SpatialResample(mode="nearest", padding_mode="zeros", dtype=torch.float32)
    moving = MetaTensor(torch.from_numpy(prediction[None]).float(), affine=torch.from_numpy(affine))
    restored = np.zeros(shape, dtype=np.uint8)
    axis, plane = len(shape) - 1, int(np.prod(shape[:-1]))
    step = max(1, SLAB_VOXELS // plane)
    for start in range(0, shape[axis], step):  # slab by slab along the last axis: bounded memory
        stop = min(shape[axis], start + step)
        offset = np.eye(4)
        offset[axis, 3] = start
        slab = resample(moving, dst_affine=torch.from_numpy(source_affine @ offset),
                        spatial_size=(*shape[:-1], stop - start))
        restored[..., start:stop] = np.rint(torch.as_tensor(slab)[0].numpy()).astype(np.uint8)
    return restored, source_affine


def write_nifti(case: Case, path: Path) -> None:
    """Write the class map as uint8 NIfTI on its source grid, with the source affine.

    Args:
        case: the prediction.
        path: target ``.nii.gz`` file.
    """
    import nibabel as nib

    array, affine = on_source_grid(case)
    image = nib.Nifti1Image(array, affine)
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    nib.save(image, str(path))


def write_png(case: Case, path: Path) -> None:
    """Write a 2D class map as an 8-bit PNG holding the class indices (0, 1, ...).

    Arrays are indexed (x = column, y = row) like the PNG reader's, so the map is transposed back to
    Pillow's (row, column) order: the saved file is pixel-aligned with the source PNG.

    Args:
        case: the prediction (2D).
        path: target ``.png`` file.
    """
    from PIL import Image

    array, _ = on_source_grid(case)
    Image.fromarray(np.ascontiguousarray(array.T)).save(path)


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
    from medical_imaging_framework.core.distributed import gather_sharded

    predictions: PredictionSet = inputs["predictions"]
    fmt, folder = config["format"], Path(config["output_dir"]).expanduser()
    if fmt == "png" and predictions.cases and predictions.spatial_dims != 2:
        raise NodeError(f"PNG holds 2D images only; these predictions are {predictions.spatial_dims}D (use nifti)")
    paths = target_paths(predictions, folder, fmt)
    if predictions.sharded:  # each rank writes its own cases; names must be unique over all ranks
        names = gather_sharded([case.name for case in predictions.cases])
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise NodeError(f"two predictions are named '{repeated[0]}'; names must be unique to save them")
    existing = [path for path in paths if path.exists()]
    if predictions.sharded:
        existing = gather_sharded(existing)
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
    saved = len(gather_sharded(paths)) if predictions.sharded else len(paths)
    ctx.log(f"Saved {saved} prediction(s) to {folder}")
    return {}


def check_save(ctx: CheckContext) -> None:
    """PNG holds 2D images only."""
    dims = ctx.fact("predictions", Fact.SPATIAL_DIMS)
    if ctx.config["format"] == "png" and dims is not None and dims.value != 2:
        ctx.conflict("format", f"PNG holds 2D images only; these predictions are {dims.value}D (use nifti)", dims)


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
                  "nifti: on each source image's grid, with its affine; png (2D only): class indices 0, 1, ...",
                  choices=("nifti", "png")),
            Param("overwrite", ParamKind.BOOL, False, "Overwrite", "Replace files that already exist."),
        ),
        description="Writes one class-map file per case on its source image's grid, named after the image.",
        check=check_save,
    ),
]
