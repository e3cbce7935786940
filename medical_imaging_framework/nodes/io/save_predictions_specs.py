"""SavePredictions: class maps written on their source image's grid: NIfTI, NRRD or MetaImage with the source
geometry, or PNG.

Each prediction is taken back through the transforms that made the model's grid with MONAI ``Invertd`` and
written with MONAI ``SaveImage`` (resampling on), in `prediction_saving`, imported only to run: a saved
prediction has its source's shape and affine and lies on the same voxels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    from medical_imaging_framework.nodes.inference.specs import PredictionSet

SUFFIX = {"nifti": ".nii.gz", "png": ".png", "nrrd": ".nrrd", "metaimage": ".mha"}  # MONAI picks the writer


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
    from medical_imaging_framework.nodes.io.prediction_saving import save_case
    from medical_imaging_framework.training.distributed import gather_sharded

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
    for case, path in zip(predictions.cases, paths, strict=True):
        try:
            save_case(case, predictions.transform_chains, folder, SUFFIX[fmt])
        except OSError as error:
            raise NodeError(f"cannot write '{path}': {error.strerror or error}") from None
        except RuntimeError as error:  # MONAI's SaveImage reports a writer's failure as a RuntimeError
            raise NodeError(f"cannot write '{path}': {(str(error).strip().splitlines() or [''])[0]}") from None
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
                  "nifti (or nrrd, metaimage): on each source image's grid, with its geometry; png (2D only): "
                  "class indices 0, 1, ...",
                  choices=tuple(SUFFIX)),
            Param("overwrite", ParamKind.BOOL, False, "Overwrite", "Replace files that already exist."),
        ),
        description="Writes one class-map file per case on its source image's grid, named after the image.",
        check=check_save,
        cache=CachePolicy(products=lambda config: [config["output_dir"]]),  # runs again when its folder is gone
    ),
]
