"""A Decathlon dataset (``bench/make_aniso_dataset.py``'s) in nnU-Net v2's raw layout, and its fixed split.

nnU-Net v2 wants ``nnUNet_raw/DatasetNNN_Name/`` with ``imagesTr/<case>_0000.nii.gz`` (one file per channel,
the channel in the suffix), ``labelsTr/<case>.nii.gz``, ``imagesTs/<case>_0000.nii.gz`` and a ``dataset.json``
with ``channel_names``, ``labels`` (name -> value, background 0), ``numTraining`` and ``file_ending``. nnU-Net's
own converter (``nnunetv2.dataset_conversion.convert_MSD_dataset``) splits 4D Decathlon files with SimpleITK;
our files are 3D and one channel, so a copy under the new names is the whole conversion, and this module needs
no nnunetv2 (the tests run without it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

FILE_ENDING = ".nii.gz"


def case_name(path: str | Path) -> str:
    """``case_003`` from ``./imagesTr/case_003.nii.gz``.

    Args:
        path: an image or label path of the dataset.
    """
    name = Path(path).name
    if not name.endswith(FILE_ENDING):
        raise ValueError(f"'{path}': nnU-Net's layout here takes {FILE_ENDING} files only")
    return name[: -len(FILE_ENDING)]


def read_splits(source: Path) -> dict[str, list[str]]:
    """The fixed split (``splits.json`` beside ``dataset.json``): ``train`` and ``test`` case names.

    Args:
        source: the dataset folder.
    """
    splits = json.loads((source / "splits.json").read_text(encoding="utf-8"))
    overlap = set(splits["train"]) & set(splits["test"])
    if overlap:
        raise ValueError(f"{source / 'splits.json'}: cases in both train and test: {sorted(overlap)}")
    return {"train": list(splits["train"]), "test": list(splits["test"])}


def convert(source: str | Path, raw_root: str | Path, dataset_id: int, name: str) -> Path:
    """Copy the dataset into ``raw_root/DatasetNNN_name`` in nnU-Net v2's layout; returns that folder.

    Training cases (``dataset.json``'s ``training`` list) go to ``imagesTr``/``labelsTr``, the held-out
    ``test`` images to ``imagesTs``. Labels (``{"0": "background", ...}`` in the Decathlon file) are turned
    into nnU-Net's ``{"background": 0, ...}``; the modality becomes the channel name (``CT`` selects nnU-Net's
    CT normalisation).

    Args:
        source: the Decathlon dataset folder (``dataset.json`` inside).
        raw_root: nnU-Net's ``nnUNet_raw`` folder.
        dataset_id: nnU-Net's dataset number (1-999).
        name: the dataset's name after the number.
    """
    source = Path(source)
    description = json.loads((source / "dataset.json").read_text(encoding="utf-8"))
    target = Path(raw_root) / f"Dataset{dataset_id:03d}_{name}"
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    for item in description["training"]:
        case = case_name(item["image"])
        shutil.copyfile(source / item["image"], target / "imagesTr" / f"{case}_0000{FILE_ENDING}")
        shutil.copyfile(source / item["label"], target / "labelsTr" / f"{case}{FILE_ENDING}")
    for image in description.get("test", []):
        path = image["image"] if isinstance(image, dict) else image
        shutil.copyfile(source / path, target / "imagesTs" / f"{case_name(path)}_0000{FILE_ENDING}")
    converted: dict[str, Any] = {
        "name": name,
        "channel_names": {str(k): v for k, v in description["modality"].items()},
        "labels": {label: int(value) for value, label in description["labels"].items()},
        "numTraining": len(description["training"]),
        "file_ending": FILE_ENDING,
    }
    (target / "dataset.json").write_text(json.dumps(converted, indent=2) + "\n", encoding="utf-8")
    return target


def nnunet_splits(train: list[str], validation_count: int = 3) -> list[dict[str, list[str]]]:
    """nnU-Net's ``splits_final.json`` content: one fold (fold 0) that trains on every training case.

    nnU-Net's fold needs a ``val`` list (it logs a pseudo Dice on it each epoch and picks ``checkpoint_best``
    by it); the held-out test cases must not be it, so the last ``validation_count`` training cases are named
    there too. The bench predicts with ``checkpoint_final``, so ``val`` changes nothing that is scored.

    Args:
        train: the training case names (``splits.json``'s ``train``).
        validation_count: how many of them nnU-Net also logs its pseudo Dice on.
    """
    return [{"train": list(train), "val": list(train[-validation_count:])}]
