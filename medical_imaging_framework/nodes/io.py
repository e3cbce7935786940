"""The ImageFolder node: an images folder and an optional labels folder, paired by file stem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.nodes import readers
from medical_imaging_framework.nodes.labels import LABEL_MAPPING, map_label

Reader = Callable[[Path], tuple[np.ndarray, np.ndarray]]


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
        raise NodeError(f"{role} folder '{folder}' does not exist{where} (or is not a folder)")
    entries: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or readers.file_format(path) is None:
            continue
        key = readers.stem(path)
        if key in entries:
            raise NodeError(f"{role} folder '{folder}': '{entries[key].name}' and '{path.name}' have the same name")
        entries[key] = path
    if not entries:
        raise NodeError(
            f"{role} folder '{folder}' holds no images (expected {', '.join(readers.SUPPORTED_SUFFIXES)} files "
            "or DICOM series folders)"
        )
    return entries


def pair_entries(images: dict[str, Path], labels: dict[str, Path] | None) -> list[tuple[str, Path, Path | None]]:
    """``(name, image, label)`` triples; every image needs a label and every label an image.

    Args:
        images: image paths by stem.
        labels: label paths by stem, or None for an unlabelled folder.
    """
    if labels is None:
        return [(name, path, None) for name, path in images.items()]
    for name, path in images.items():
        if name not in labels:
            raise NodeError(f"image '{path}' has no label: expected a file named '{name}.*' in the labels folder")
    for name, path in labels.items():
        if name not in images:
            raise NodeError(f"label '{path}' has no image: expected a file named '{name}.*' in the images folder")
    return [(name, path, labels[name]) for name, path in images.items()]


class ImageFolderDataset(Dataset):
    """Items ``{"image", "label" (when labelled), "name", "affine"}`` read from files.

    Every pair is read once on creation to check it (readable, shapes match, one dimensionality);
    with ``cache`` the arrays are kept in memory, otherwise files are read again per item.

    Args:
        pairs: ``(name, image path, label path or None)``.
        cache: keep the read arrays in memory.
        reader: ``reader(path) -> (array (C, *spatial), affine)``; `readers.read_image` by default.
        label_mapping: ``none`` (labels must be class indices) or ``binarize`` (see `labels.map_label`).
    """

    def __init__(
        self, pairs: list[tuple[str, Path, Path | None]], cache: bool = True, reader: Reader = readers.read_image,
        label_mapping: str = "none",
    ) -> None:
        self.pairs = pairs
        self.reader = reader
        self.label_mapping = label_mapping
        self.cache: list[dict[str, Any]] | None = [] if cache else None
        self.spatial_dims = 0
        for index in range(len(pairs)):
            item = self._read(index)
            if self.cache is not None:
                self.cache.append(item)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.cache is not None:
            return dict(self.cache[index])
        return self._read(index)

    def _load(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        try:
            return self.reader(path)
        except readers.ReadError as error:
            raise NodeError(str(error)) from None

    def _read(self, index: int) -> dict[str, Any]:
        name, image_path, label_path = self.pairs[index]
        image, affine = self._load(image_path)
        dims = image.ndim - 1
        if self.spatial_dims and dims != self.spatial_dims:
            raise NodeError(
                f"image '{image_path}' is {dims}D but earlier images are {self.spatial_dims}D: "
                "a folder must hold images of one dimensionality"
            )
        self.spatial_dims = dims
        item: dict[str, Any] = {
            "image": torch.from_numpy(image),
            "name": name,
            "affine": torch.from_numpy(np.asarray(affine, dtype=np.float64)),
        }
        if label_path is not None:
            label, _ = self._load(label_path)
            if label.shape[0] != 1:
                raise NodeError(f"label '{label_path}' has {label.shape[0]} channels; a label must be one class map")
            if label.shape[1:] != image.shape[1:]:
                raise NodeError(
                    f"label '{label_path}' has shape {tuple(label.shape[1:])} but its image '{image_path}' has "
                    f"{tuple(image.shape[1:])}: image and label must have the same size"
                )
            item["label"] = torch.from_numpy(map_label(label, label_path, self.label_mapping))
        return item


def run_image_folder(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    images = list_entries(Path(config["images_dir"]).expanduser(), "images")
    labels_dir = config["labels_dir"].strip()
    labels = list_entries(Path(labels_dir).expanduser(), "labels") if labels_dir else None
    pairs = pair_entries(images, labels)
    dataset = ImageFolderDataset(pairs, cache=config["cache"], label_mapping=config.get("label_mapping", "none"))
    shape = tuple(dataset[0]["image"].shape)
    kind = "labelled" if labels is not None else "unlabelled"
    ctx.log(f"Image folder: {len(dataset)} {kind} {dataset.spatial_dims}D images (first: {shape})")
    return {"dataset": dataset}


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
                  "NIfTI, DICOM (files or series folders), PNG or TIFF images.", allow_empty=False),
            Param("labels_dir", ParamKind.PATH, "data/labels", "Labels folder",
                  "Label maps named like their images (case1.nii.gz <-> case1.nii.gz); empty for unlabelled data."),
            Param("cache", ParamKind.BOOL, True, "Cache", "Keep the read images in memory (read each file once)."),
            LABEL_MAPPING,
        ),
        description="Images and labels from two folders, paired by file name; each image keeps its affine.",
        check=check_image_folder,
    ),
]
