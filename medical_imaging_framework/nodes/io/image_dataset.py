"""The dataset behind ``io.ImageFolder`` and ``io.Datalist``: image/label pairs read with MONAI (`image_loading`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from monai.data import MetaTensor
from torch.utils.data import Dataset

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.io import readers
from medical_imaging_framework.nodes.io.image_limits import ImageLimit, image_limit
from medical_imaging_framework.nodes.io.image_loading import load_image
from medical_imaging_framework.nodes.io.labels import map_label
from medical_imaging_framework.nodes.transforms.item_checks import LabelClasses
from medical_imaging_framework.run.control import NodeError

Reader = Callable[[Path], MetaTensor]
MAX_NOTES = 20


class ImageFolderDataset(Dataset):
    """Items ``{"image", "label" (when labelled), "name", "affine"}``; image and label are MONAI ``MetaTensor`` s.

    Each ``MetaTensor`` carries its file's geometry (``affine``, ``original_affine``, ``spatial_shape``,
    ``filename_or_obj``), which the transforms extend with their history, so predictions can be inverted
    back onto the source grid. ``affine`` repeats the image's affine as a plain tensor.
    Every pair is read once on creation to check it (readable, within the size limit, shapes match, one
    dimensionality, no NaN or infinite image voxels, label values); with ``cache`` the tensors are kept in memory,
    otherwise files are read again per item. ``label_classes`` keeps, by item index, the classes its label holds
    (found by the value check on that first read), which the Trainer holds against the model's outputs.

    Args:
        pairs: ``(name, image path, label path or None)``.
        cache: keep the read tensors in memory.
        reader: ``reader(path) -> MetaTensor (C, *spatial)``; by default `image_loading.load_image`, whose
            warnings (one line per file and message) are kept in ``notes`` for the node's log.
        label_mapping: ``none`` (labels must be class indices) or ``binarize`` (see `labels.map_label`).
        limit: the most bytes one image may take once read (`image_limits`); by default a quarter of the memory
            available now, fixed for the dataset's life.
    """

    def __init__(
        self, pairs: list[tuple[str, Path, Path | None]], cache: bool = True, reader: Reader | None = None,
        label_mapping: str = "none", limit: ImageLimit | None = None,
    ) -> None:
        self.pairs = pairs
        self.notes: list[str] = []
        self.reader = reader or partial(load_image, notes=self.notes, limit=limit or image_limit())
        self.label_mapping = label_mapping
        self.class_names: list[str] | None = None  # background first (a Datalist sets them from dataset.json)
        self.cache: list[dict[str, Any]] | None = [] if cache else None
        self.spatial_dims = 0
        self.label_classes: dict[int, LabelClasses] = {}
        for index in range(len(pairs)):
            item = self._read(index)
            if self.cache is not None:
                self.cache.append(item)

    @property
    def read_notes(self) -> list[str]:
        """The first `MAX_NOTES` reader warnings (each names its file)."""
        return self.notes[:MAX_NOTES]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.cache is not None:
            return dict(self.cache[index])
        return self._read(index)

    def source_label(self, name: str) -> MetaTensor | None:
        """The label of the item named ``name`` as read from its file (label mapping applied), or None.

        The evaluation scores predictions taken back to the source grid against it (`EvaluateSegmentation`).

        Args:
            name: the item's name.
        """
        for index, (item_name, _image, label_path) in enumerate(self.pairs):
            if item_name == name and label_path is not None:
                if self.cache is not None:
                    return self.cache[index].get("label")
                label = self._load(label_path)
                classes = map_label(label.numpy(), label_path, self.label_mapping)
                return MetaTensor(torch.from_numpy(classes), meta=dict(label.meta))
        return None

    def source_image(self, name: str) -> MetaTensor | None:
        """The image of the item named ``name`` as read from its file, or None (the report's sample planes).

        Args:
            name: the item's name.
        """
        for index, (item_name, image_path, _label) in enumerate(self.pairs):
            if item_name == name:
                return self.cache[index]["image"] if self.cache is not None else self._load(image_path)
        return None

    def _load(self, path: Path) -> MetaTensor:
        try:
            return self.reader(path)
        except readers.ReadError as error:
            raise NodeError(str(error)) from None

    def _read(self, index: int) -> dict[str, Any]:
        name, image_path, label_path = self.pairs[index]
        image = self._load(image_path)
        _check_finite(image, image_path)
        dims = image.ndim - 1
        if self.spatial_dims and dims != self.spatial_dims:
            raise NodeError(printable(
                f"image '{image_path}' is {dims}D but earlier images are {self.spatial_dims}D: "
                "a folder must hold images of one dimensionality"
            ))
        self.spatial_dims = dims
        item: dict[str, Any] = {"image": image, "name": name, "affine": image.affine.clone()}
        if label_path is not None:
            label = self._load(label_path)
            if label.shape[0] != 1:
                raise NodeError(printable(
                    f"label '{label_path}' has {label.shape[0]} channels; a label must be one class map"))
            if label.shape[1:] != image.shape[1:]:
                raise NodeError(printable(
                    f"label '{label_path}' has shape {tuple(label.shape[1:])} but its image '{image_path}' has "
                    f"{tuple(image.shape[1:])}: image and label must have the same size"
                ))
            classes, found = map_label(label.numpy(), label_path, self.label_mapping)
            self.label_classes.setdefault(index, LabelClasses(str(label_path), found))
            item["label"] = MetaTensor(torch.from_numpy(classes), meta=dict(label.meta))
        return item


def _check_finite(image: MetaTensor, path: Path) -> None:
    """Raise `NodeError` naming ``path`` when the image holds NaN or infinite voxels (so the loss would be NaN)."""
    finite = torch.isfinite(image)
    if bool(finite.all()):
        return
    nan = int(torch.isnan(image).sum())
    infinite = int(finite.numel() - finite.sum()) - nan
    raise NodeError(printable(
        f"image '{path}' holds {nan} NaN and {infinite} infinite voxels (of {image.numel()}): a model turns them into "
        "NaN losses and predictions; replace them in the file (e.g. with 0) or leave the file out"
    ))
