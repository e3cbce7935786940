"""`mif fingerprint`: what a dataset holds, read once, written as ``fingerprint.json`` (the planner's input).

Every case is read in a small thread pool (nibabel's gzip and numpy release the GIL while they work), each case
cached by its files' size and mtime (`fingerprint_case`). The dataset part: medians of shape and spacing (in RAS
axis order, the order after an Orientation to RAS), the spacing anisotropy, the pooled foreground intensities,
the classes seen, the modality and the problems (mismatched image/label geometry, unexpected label values,
unreadable files, cases far from the median), each naming its file. The fields are listed in
``docs/segmentation/PLANNING.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.nodes.io.dataset_source import DatasetSource, open_dataset
from medical_imaging_framework.nodes.io.fingerprint_case import cached_case, intensity_stats, read_case, store_case

FORMAT = "mif-fingerprint"
VERSION = 1
FAR_SHAPE = 3.0  # a case whose size on an axis is over 3x or under 1/3 of the median is named
FAR_SPACING = 2.0  # likewise for spacing, at 2x
CACHE_FOLDER = Path(".mif") / "fingerprint-cache"
Progress = Callable[[int, int], None]


def default_workers() -> int:
    """Reader threads: at most 4, and fewer on a small machine (reads are disk- and decompression-bound)."""
    return max(1, min(4, (os.cpu_count() or 1)))


def fingerprint_dataset(dataset: str | Path | DatasetSource, cache_dir: Path | None = None, modality: str = "",
                        workers: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Read every case of ``dataset`` once and summarise it.

    Args:
        dataset: a path `dataset_source.open_dataset` accepts, or a source already opened.
        cache_dir: where cases are cached (None: no cache).
        modality: ``CT``, ``MR`` or ``other``; overrides what a ``dataset.json`` says ("" keeps it).
        workers: reader threads (0: `default_workers`).
        progress: called with ``(cases done, cases)`` after each case.

    Raises:
        DatasetError: the dataset cannot be listed (see `open_dataset`).
    """
    source = dataset if isinstance(dataset, DatasetSource) else open_dataset(dataset)
    total = len(source.pairs)
    done = 0

    def one(pair: tuple[str, Path, Path | None]) -> dict[str, Any]:
        name, image, label = pair
        case = cached_case(cache_dir, image, label) if cache_dir else None
        if case is None:
            case = read_case(name, image, label, source.class_names)
            if cache_dir and not any(p["kind"] == "unreadable" for p in case["problems"]):
                store_case(cache_dir, image, label, case)
        return case

    cases: list[dict[str, Any]] = []

    def add(case: dict[str, Any]) -> None:
        nonlocal done
        cases.append(case)  # in the dataset's order
        done += 1
        if progress:
            progress(done, total)

    # the first case in this thread: MONAI's loaders are built once (under warnings.catch_warnings, which threads
    # must not enter at the same time), then the pool reads the others
    add(one(source.pairs[0]))
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        for case in pool.map(one, source.pairs[1:]):
            add(case)
    return summarise(source, cases, modality)


def summarise(source: DatasetSource, cases: list[dict[str, Any]], modality: str = "") -> dict[str, Any]:
    """The fingerprint dict of read cases (their pooled samples are dropped).

    Args:
        source: the dataset.
        cases: `fingerprint_case.read_case` results, in order.
        modality: overrides the dataset's own ("" keeps it).
    """
    read = [case for case in cases if "ras_shape" in case]
    problems = [dict(p, case=case["name"]) for case in cases for p in case["problems"]]
    dims = {len(case["ras_shape"]) for case in read}
    result: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "dataset": str(source.path), "source": source.kind,
        "modality": _modality(modality or source.modality),
        "modality_from": "--modality" if modality else ("dataset.json" if source.modality else "default"),
        "class_names": source.class_names, "case_count": len(cases), "read_count": len(read),
        "images_dir": str(source.images_dir or ""), "labels_dir": str(source.labels_dir or ""),
        "has_test": source.has_test, "test_dir": str(source.test_dir or ""),
    }
    if not read:
        return {**result, "cases": [_public(c) for c in cases], "problems": problems}
    if len(dims) > 1:
        problems.append({"kind": "dimensions", "file": str(source.path), "case": "",
                         "message": f"cases mix {' and '.join(f'{d}D' for d in sorted(dims))} images"})
    spatial_dims = max(dims, key=lambda d: sum(len(c["ras_shape"]) == d for c in read))
    same = [c for c in read if len(c["ras_shape"]) == spatial_dims]
    median_shape = [float(v) for v in np.median([c["ras_shape"] for c in same], axis=0)]
    median_spacing = [float(v) for v in np.median([c["ras_spacing"] for c in same], axis=0)]
    problems += _far_cases(same, median_shape, median_spacing)
    samples = np.concatenate([np.asarray(c.get("sample", []), dtype=np.float64) for c in same])
    classes = sorted({int(float(k)) for c in same for k in c.get("class_voxels", {}) if float(k).is_integer()})
    result.update({
        "spatial_dims": spatial_dims, "channels": max(c.get("channels", 1) for c in same),
        "median_shape": median_shape, "median_spacing": median_spacing,
        "spacing_anisotropy": max(median_spacing) / min(median_spacing),
        "spacings": [c["ras_spacing"] for c in same], "shapes": [c["ras_shape"] for c in same],
        "intensity": intensity_stats(samples) if samples.size else None,
        "classes": classes,
        "class_voxels": {str(k): sum(int(c.get("class_voxels", {}).get(str(k), 0)) for c in same) for k in classes},
        "cases": [_public(c) for c in cases], "problems": problems,
    })
    return result


def _modality(name: str) -> str:
    upper = name.strip().upper()
    if upper == "CT":
        return "CT"
    return "MR" if upper.startswith("MR") or upper in ("T1", "T2", "FLAIR", "ADC") else "other"


def _public(case: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in case.items() if key not in ("sample", "problems")}


def _far_cases(cases: list[dict[str, Any]], shape: list[float], spacing: list[float]) -> list[dict[str, Any]]:
    found = []
    for case in cases:
        for what, values, median, factor in (("shape", case["ras_shape"], shape, FAR_SHAPE),
                                             ("spacing", case["ras_spacing"], spacing, FAR_SPACING)):
            off = [axis for axis, (v, m) in enumerate(zip(values, median, strict=True))
                   if m > 0 and not (m / factor <= v <= m * factor)]
            if off:
                found.append({"kind": f"far from the median {what}", "file": case["image"], "case": case["name"],
                              "message": f"{what} {values} (RAS axes) is more than {factor:g}x from the median "
                                         f"{[round(m, 3) for m in median]} on axis {', '.join(map(str, off))}"})
    return found


def write_fingerprint(fingerprint: dict[str, Any], path: str | Path) -> Path:
    """Write ``fingerprint`` as JSON (atomically); returns the path.

    Args:
        fingerprint: a `fingerprint_dataset` result.
        path: the file, or a folder to write ``fingerprint.json`` into.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "fingerprint.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, json.dumps(fingerprint, indent=2) + "\n")
    return target


def problem_lines(fingerprint: dict[str, Any]) -> list[str]:
    """One line per problem: ``FILE: KIND: MESSAGE``."""
    return [f"{p['file']}: {p['kind']}: {p['message']}" for p in fingerprint.get("problems", [])]
