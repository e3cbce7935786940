"""Which cases a dataset holds, for `mif fingerprint` and `mif plan`: a Decathlon ``dataset.json``, a CSV datalist,
or a folder with an images and a labels folder.

The files are listed by the same functions the *Datalist* and *Image Folder* nodes use, so a dataset the planner
accepts is one those nodes read; a planned pipeline names its source the same way (`DatasetSource.node`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.io.datalist_specs import csv_pairs, decathlon_class_names, decathlon_pairs
from medical_imaging_framework.nodes.io.image_folder_specs import list_entries, pair_entries
from medical_imaging_framework.run.control import NodeError

# a folder DATASET: its images and labels sub-folders, by the names people use (Decathlon, nnU-Net, ours)
FOLDER_PAIRS = (("imagesTr", "labelsTr"), ("images", "labels"))
Pair = tuple[str, Path, Path | None]


class DatasetError(ValueError):
    """A dataset that cannot be listed; the message names the file or folder and the rule broken."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@dataclass
class DatasetSource:
    """The labelled cases of a dataset and what its description says.

    Args:
        path: the ``dataset.json``, the CSV file or the folder, absolute.
        kind: ``decathlon``, ``csv`` or ``folders``.
        pairs: ``(name, image, label)`` of each training case (absolute paths).
        modality: the modality the description names (``CT``, ``MRI``, ...), or "" when it names none.
        class_names: class names by index (background first), or None.
        images_dir: for ``folders``: the images folder.
        labels_dir: for ``folders``: the labels folder.
        has_test: for ``decathlon``: whether the file has a ``test`` list.
        test_dir: for ``folders``: an ``imagesTs`` folder beside the images folder, if there is one.
    """

    path: Path
    kind: str
    pairs: list[Pair]
    modality: str = ""
    class_names: list[str] | None = None
    images_dir: Path | None = None
    labels_dir: Path | None = None
    has_test: bool = False
    test_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def open_dataset(path: str | Path) -> DatasetSource:
    """List the labelled cases of ``path``.

    Args:
        path: a Decathlon ``dataset.json``, a CSV file with ``image`` and ``label`` columns, a folder holding a
            ``dataset.json``, or a folder holding ``imagesTr``/``labelsTr`` (or ``images``/``labels``).

    Raises:
        DatasetError: missing path, unknown layout, an unreadable list, unpaired files, cases without labels, a
            listed file that does not exist.
    """
    source = Path(path).expanduser().resolve()
    if source.is_dir() and (source / "dataset.json").is_file():
        source = source / "dataset.json"
    try:
        if source.is_file() and source.suffix.lower() == ".json":
            dataset = _decathlon(source)
        elif source.is_file() and source.suffix.lower() == ".csv":
            dataset = DatasetSource(source, "csv", csv_pairs(source))
        elif source.is_dir():
            dataset = _folders(source)
        elif not source.exists():
            raise DatasetError(f"dataset '{path}' does not exist")
        else:
            raise DatasetError(f"dataset '{path}': expected a dataset.json, a .csv datalist or a folder")
    except NodeError as error:
        raise DatasetError(str(error)) from None
    unlabelled = [image for _, image, label in dataset.pairs if label is None]
    if unlabelled:
        raise DatasetError(f"dataset '{source}': {len(unlabelled)} case(s) have no label, e.g. '{unlabelled[0]}' "
                           "(a plan needs labelled cases)")
    if not dataset.pairs:
        raise DatasetError(f"dataset '{source}' lists no cases")
    for name, image, label in dataset.pairs:
        for role, file in (("image", image), ("label", label)):
            if file is not None and not file.exists():  # the planned pipelines would fail on it at run time
                raise DatasetError(f"dataset '{source}': case '{name}' lists {role} '{file}', which does not exist "
                                   "(every listed image and label must exist)")
    return dataset


def _decathlon(path: Path) -> DatasetSource:
    pairs = [(name, image.resolve(), label.resolve() if label else None)
             for name, image, label in decathlon_pairs(path, "training")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    modality = data.get("modality") if isinstance(data, dict) else None
    names = [str(value).strip() for value in modality.values()] if isinstance(modality, dict) else []
    class_names, warning = decathlon_class_names(path)
    has_test = isinstance(data, dict) and bool(data.get("test"))
    return DatasetSource(path, "decathlon", pairs, "CT" if "CT" in (n.upper() for n in names) else (names or [""])[0],
                         class_names, has_test=has_test, notes=[warning] if warning else [])


def _folders(folder: Path) -> DatasetSource:
    for images_name, labels_name in FOLDER_PAIRS:
        images, labels = folder / images_name, folder / labels_name
        if images.is_dir() and labels.is_dir():
            pairs = pair_entries(list_entries(images, "images"), list_entries(labels, "labels"))
            test = folder / "imagesTs"
            return DatasetSource(folder, "folders", pairs, images_dir=images, labels_dir=labels,
                                 test_dir=test if test.is_dir() else None)
    expected = " or ".join(f"'{a}' and '{b}'" for a, b in FOLDER_PAIRS)
    raise DatasetError(f"dataset folder '{folder}' holds no dataset.json and no {expected} folders")
