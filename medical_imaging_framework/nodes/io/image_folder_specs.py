"""The ImageFolder node: an images folder and an optional labels folder, paired by file stem.

The files are read by `image_dataset.ImageFolderDataset` (MONAI ``LoadImaged``), imported only to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.io import readers
from medical_imaging_framework.nodes.io.labels import LABEL_MAPPING
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

MAX_LISTED = 10  # files named in one error; the rest are counted


def list_entries(folder: Path, role: str) -> dict[str, Path]:
    """Image files (and DICOM series folders) of ``folder`` by stem.

    Args:
        folder: the folder to list.
        role: ``images`` or ``labels``, named in errors.

    Raises:
        NodeError: missing or empty folder, two files with the same stem.
    """
    if not folder.is_dir():
        where = "" if folder.is_absolute() else f" in {Path.cwd()}"
        raise NodeError(printable(f"{role} folder '{folder}' does not exist{where} (or is not a folder)"))
    entries: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or readers.file_format(path) is None:
            continue
        key = readers.stem(path)
        if key in entries:
            raise NodeError(printable(
                f"{role} folder '{folder}': '{entries[key].name}' and '{path.name}' have the same name"))
        entries[key] = path
    if not entries:
        raise NodeError(printable(
            f"{role} folder '{folder}' holds no images (expected {', '.join(readers.SUPPORTED_SUFFIXES)} files "
            "or DICOM series folders)"
        ))
    return entries


def pair_entries(images: dict[str, Path], labels: dict[str, Path] | None) -> list[tuple[str, Path, Path | None]]:
    """``(name, image, label)`` triples; every image needs a label and every label an image.

    Args:
        images: image paths by stem.
        labels: label paths by stem, or None for an unlabelled folder.
    """
    if labels is None:
        return [(name, path, None) for name, path in images.items()]
    _unmatched("image", "label", [(name, path) for name, path in images.items() if name not in labels])
    _unmatched("label", "image", [(name, path) for name, path in labels.items() if name not in images])
    return [(name, path, labels[name]) for name, path in images.items()]


def _unmatched(role: str, other: str, alone: list[tuple[str, Path]]) -> None:
    """Raise `NodeError` naming every ``role`` file without its ``other`` (all at once: one fix pass is enough).

    Args:
        role: ``image`` or ``label``.
        other: the role it lacks.
        alone: ``(name, path)`` of each file without a partner.
    """
    if len(alone) == 1:
        name, path = alone[0]
        raise NodeError(printable(
            f"{role} '{path}' has no {other}: expected a file named '{name}.*' in the {other}s folder"))
    if alone:
        shown = ", ".join(f"'{path}'" for _, path in alone[:MAX_LISTED])
        more = f" and {len(alone) - MAX_LISTED} more" if len(alone) > MAX_LISTED else ""
        raise NodeError(printable(f"{len(alone)} {role}s have no {other} (expected a file of the same name, any "
                                  f"suffix, in the {other}s folder): {shown}{more}"))


CACHE = Param("cache", ParamKind.BOOL, True, "Cache", "Keep the read images in memory (read each file once).")
MAX_IMAGE_GB = Param(
    "max_image_gb", ParamKind.FLOAT, 0.0, "Max Image Size (GB)",
    "The largest image to read, in GB once read as float32; 0: a quarter of the memory available when the node "
    "runs. A file whose header declares more is refused before its voxels are read.", minimum=0.0,
)


def open_pairs(ctx: NodeContext, pairs: list[tuple[str, Path, Path | None]], config: dict[str, Any],
               source: str) -> Any:
    """The dataset of ``(name, image, label)`` pairs, read through MONAI (`image_dataset`), logged as
    ``SOURCE: N labelled 2D images (first: shape)`` with what the readers warned about.

    Args:
        ctx: the running node's context.
        pairs: the files; a label may be None.
        config: the node's parameters (``cache``, ``label_mapping``, ``max_image_gb``).
        source: how the log line names where the files came from.
    """
    from medical_imaging_framework.nodes.io.image_dataset import ImageFolderDataset  # torch + MONAI: only to run
    from medical_imaging_framework.nodes.io.image_limits import image_limit

    dataset = ImageFolderDataset(pairs, cache=config["cache"], label_mapping=config.get("label_mapping", "none"),
                                 limit=image_limit(config.get("max_image_gb", 0.0)))
    labelled = sum(label is not None for _, _, label in pairs)
    kind = "labelled" if labelled == len(pairs) else ("unlabelled" if not labelled else "partly labelled")
    ctx.log(f"{source}: {len(dataset)} {kind} {dataset.spatial_dims}D images "
            f"(first: {tuple(dataset[0]['image'].shape)})")
    for note in dataset.read_notes:  # what MONAI's readers warned about, e.g. a DICOM file without orientation
        ctx.log(f"warning: {note}")
    return dataset


def run_image_folder(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    images = list_entries(Path(config["images_dir"]).expanduser(), "images")
    labels_dir = config["labels_dir"].strip()
    labels = list_entries(Path(labels_dir).expanduser(), "labels") if labels_dir else None
    return {"dataset": open_pairs(ctx, pair_entries(images, labels), config, "Image folder")}


def watched_folders(config: dict[str, Any]) -> list[str]:
    """The images and labels folders: a file added, removed or changed in them re-reads the data (`run.cache`)."""
    return [folder for folder in (config["images_dir"], config["labels_dir"]) if folder.strip()]


def check_image_folder(ctx: CheckContext) -> None:
    """Without a labels folder the items carry no labels (the files are read only at run time)."""
    ctx.provide("dataset", **{Fact.HAS_LABELS: ctx.known(bool(ctx.config["labels_dir"].strip()), "labels_dir")})


SPECS = [
    NodeSpec(
        type_id="io.ImageFolder",
        title="Image Folder",
        category="Data",
        run=run_image_folder,
        outputs=(Port("dataset", PortKind.DATASET),),
        params=(
            Param("images_dir", ParamKind.PATH, "data/images", "Images folder",
                  "NIfTI, DICOM (files or series folders), PNG, TIFF, NRRD or MetaImage images (MONAI readers).",
                  allow_empty=False),
            Param("labels_dir", ParamKind.PATH, "data/labels", "Labels folder",
                  "Label maps named like their images (case1.nii.gz <-> case1.nii.gz); empty for unlabelled data."),
            CACHE,
            LABEL_MAPPING,
            MAX_IMAGE_GB,
        ),
        description="Images and labels from two folders, paired by file name; each image keeps its affine.",
        check=check_image_folder,
        cache=CachePolicy(watch=watched_folders),
    ),
]
