"""One case of a dataset fingerprint: its geometry, foreground intensities and label classes, read once.

The image and the label are read with the readers every node uses (`image_loading.load_image`, MONAI); the
statistics are numpy's. A case is cached as JSON beside the fingerprint, keyed by each file's size and
modification time, so a second `mif fingerprint` reads only the files that changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.nodes.io.readers import ReadError

CACHE_VERSION = 2  # 2: the intensity sample is a uniform one (version 1 kept the first voxels in array order)
SAMPLE_SIZE = 10000  # foreground intensities kept per case for the dataset's pooled percentiles (nnU-Net's 10,000)
SAMPLE_SEED = 1234  # the same seed for every case (nnU-Net's), so a case's sample does not depend on the others
AFFINE_TOLERANCE_MM = 1e-3  # image and label grids closer than this are one grid


def file_key(path: Path) -> list[Any]:
    """``[path, size, mtime_ns]``: what identifies one version of a file for the cache."""
    stat = path.stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def cache_file(cache_dir: Path, image: Path, label: Path | None) -> Path:
    """The cache entry of one image/label pair (named by a hash of both paths)."""
    digest = hashlib.sha256(f"{image}\0{label}".encode()).hexdigest()[:32]
    return cache_dir / f"{digest}.json"


def cached_case(cache_dir: Path, image: Path, label: Path | None) -> dict[str, Any] | None:
    """The case stored for this exact version of both files, or None (no entry, other files, damaged entry)."""
    try:
        entry = json.loads(cache_file(cache_dir, image, label).read_text(encoding="utf-8"))
        key = [CACHE_VERSION, file_key(image), file_key(label) if label else None]
        return entry["case"] if entry.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store_case(cache_dir: Path, image: Path, label: Path | None, case: dict[str, Any]) -> None:
    """Keep ``case`` for this version of both files; a cache that cannot be written is skipped silently (it only
    saves time)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = [CACHE_VERSION, file_key(image), file_key(label) if label else None]
        write_atomically(cache_file(cache_dir, image, label), json.dumps({"key": key, "case": case}))
    except OSError:
        pass


def geometry(affine: np.ndarray, shape: tuple[int, ...]) -> dict[str, Any]:
    """Spacing, axis codes and the shape/spacing in RAS axis order (the order after an Orientation to RAS).

    Args:
        affine: the voxel-to-RAS+ matrix (d+1 square).
        shape: the spatial shape as stored.
    """
    import nibabel as nib
    from nibabel.orientations import io_orientation

    dims = len(shape)
    linear = np.asarray(affine, dtype=float)[:dims, :dims]
    spacing = [float(v) for v in np.linalg.norm(linear, axis=0)]
    full = np.eye(4)
    full[:dims, :dims] = linear
    codes = nib.aff2axcodes(full)[:dims]
    order = [int(axis) for axis in io_orientation(full)[:dims, 0]]
    ras_shape, ras_spacing = [0] * dims, [0.0] * dims
    for stored, ras in enumerate(order):
        if ras < dims:
            ras_shape[ras], ras_spacing[ras] = int(shape[stored]), spacing[stored]
    if 0 in ras_shape:  # an oblique 2D grid whose axes map outside the plane: keep the stored order
        ras_shape, ras_spacing = [int(s) for s in shape], spacing
    return {"shape": [int(s) for s in shape], "spacing": _rounded(spacing), "axcodes": "".join(codes),
            "ras_shape": ras_shape, "ras_spacing": _rounded(ras_spacing)}


def _rounded(values: list[float]) -> list[float]:
    return [round(float(v), 6) for v in values]


def intensity_stats(values: np.ndarray) -> dict[str, float]:
    """``p00_5``, ``p99_5``, ``mean`` and ``std`` of ``values`` (float64)."""
    low, high = np.percentile(values, [0.5, 99.5])
    return {"p00_5": float(low), "p99_5": float(high), "mean": float(values.mean()), "std": float(values.std())}


def foreground_sample(values: np.ndarray, size: int = SAMPLE_SIZE) -> np.ndarray:
    """A seeded uniform sample of ``size`` values (all of them when fewer), drawn without replacement.

    Uniform over the whole foreground, every class alike: a small bright class keeps its share of the pooled
    percentiles (the first voxels in array order would miss whatever lies late in the array).

    Args:
        values: the case's foreground intensities (any shape).
        size: how many to keep.
    """
    flat = np.asarray(values).ravel()
    if flat.size <= size:
        return flat
    return np.random.default_rng(SAMPLE_SEED).choice(flat, size, replace=False)


def read_case(name: str, image_path: Path, label_path: Path | None,
              class_names: list[str] | None = None) -> dict[str, Any]:
    """The fingerprint of one case, with the problems found in it (each naming its file).

    Args:
        name: the case name.
        image_path: the image file.
        label_path: its label file, or None.
        class_names: the classes the dataset's description names (values outside 0..N-1 are then problems).
    """
    from medical_imaging_framework.nodes.io.image_loading import load_image

    case: dict[str, Any] = {"name": name, "image": str(image_path), "label": str(label_path or ""), "problems": []}
    try:
        image = load_image(image_path, "image")
    except ReadError as error:
        case["problems"].append(_problem("unreadable", image_path, str(error)))
        return case
    pixels = np.asarray(image.array if hasattr(image, "array") else image, dtype=np.float64)
    shape = tuple(int(s) for s in pixels.shape[1:])
    case.update(geometry(np.asarray(image.affine), shape))
    case["channels"] = int(pixels.shape[0])
    foreground = None
    if label_path is not None:
        foreground = _label_part(case, label_path, image, shape, class_names)
    values = pixels[0]
    chosen = values[foreground] if foreground is not None and foreground.any() else values[values != 0]
    case["foreground"] = "label" if foreground is not None and foreground.any() else "non-zero voxels"
    chosen = chosen if chosen.size else values.ravel()
    case["intensity"] = intensity_stats(chosen)
    case["sample"] = [round(float(v), 4) for v in foreground_sample(chosen)]
    return case


def _label_part(case: dict[str, Any], label_path: Path, image: Any, shape: tuple[int, ...],
                class_names: list[str] | None) -> np.ndarray | None:
    """Class voxel counts and the label's problems; the foreground mask when the grids agree."""
    from medical_imaging_framework.nodes.io.image_loading import load_image

    try:
        label = load_image(label_path, "label")
    except ReadError as error:
        case["problems"].append(_problem("unreadable", label_path, str(error)))
        return None
    values = np.asarray(label.array if hasattr(label, "array") else label)[0]
    classes, counts = np.unique(values, return_counts=True)
    case["class_voxels"] = {_class_key(v): int(n) for v, n in zip(classes, counts, strict=True)}
    bad = [v for v in classes if v != round(v) or v < 0
           or (class_names is not None and int(v) >= len(class_names))]
    if bad:
        allowed = f"0..{len(class_names) - 1} (dataset.json labels)" if class_names else "whole numbers >= 0"
        shown = ", ".join(_class_key(v) for v in bad[:5])
        case["problems"].append(_problem("label values", label_path, f"holds value(s) {shown}; expected {allowed}"))
    label_shape = tuple(int(s) for s in values.shape)
    if label_shape != shape:
        case["problems"].append(_problem("geometry", label_path,
                                         f"label shape {list(label_shape)} differs from its image's {list(shape)} "
                                         f"('{case['image']}')"))
        return None
    if not np.allclose(np.asarray(label.affine, dtype=float), np.asarray(image.affine, dtype=float),
                       atol=AFFINE_TOLERANCE_MM):
        other = geometry(np.asarray(label.affine), label_shape)
        origins = [_rounded(list(np.asarray(a, dtype=float)[:len(shape), -1])) for a in (label.affine, image.affine)]
        case["problems"].append(_problem(
            "geometry", label_path,
            f"label grid (affine) differs from its image's ('{case['image']}'): spacing {other['spacing']} "
            f"{other['axcodes']} origin {origins[0]} vs {case['spacing']} {case['axcodes']} origin {origins[1]}"))
    return values > 0


def _class_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def _problem(kind: str, path: Path, message: str) -> dict[str, str]:
    return {"kind": kind, "file": str(path), "message": message}
