"""A seeded 3D CT-like dataset with anisotropic spacing, LPS orientation and a different shape per case.

Each case is a body (an ellipse of soft tissue, ~40 HU) in air (-1000 HU) with a spine-like bone cylinder
(~700 HU) and two labelled structures: class 1 ``organ`` (a large ellipsoid, ~90 HU) and class 2 ``lesion``
(a small sphere, ~160 HU, 3-5 mm radius). Noise 20 HU. Structures are drawn in millimetres, so the coarse
third axis (2.5 mm against 0.8 mm in-plane) shows them as they would be scanned. Air and bone make the raw
intensity range wide, so CT normalisation (clip to foreground percentiles, then z-score) matters.

Written in the Medical Segmentation Decathlon layout: ``imagesTr``/``labelsTr`` (the training cases),
``imagesTs``/``labelsTs`` (the held-out cases, labels kept for scoring), ``dataset.json`` (modality CT,
labels, numTraining, ``training`` and ``test`` lists) and ``splits.json`` (the fixed train/test split that
both tools of ``bench/plan_vs_nnunet.py`` use).

    python bench/make_aniso_dataset.py --out /tmp/aniso_ct            24 cases: 18 train, 6 test, seed 0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPACING = (0.8, 0.8, 2.5)  # mm; the third axis coarse
LABELS = {"0": "background", "1": "organ", "2": "lesion"}
SHAPE_RANGES = ((56, 72), (56, 72), (14, 22))  # voxels per axis, inclusive


def lps_affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    """A voxel-to-world (RAS+) affine whose axes run to Left, Posterior, Superior (``nib.aff2axcodes``: L, P, S).

    Args:
        spacing: voxel size in mm per axis.
        origin: world position of voxel (0, 0, 0) in mm.
    """
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = origin
    return affine


def make_case(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One (image in HU as int16, label as uint8) pair of ``shape`` at :data:`SPACING`.

    Args:
        rng: source of randomness (the caller seeds it).
        shape: voxels per axis.
    """
    # millimetre coordinates of every voxel centre, centred on the volume
    axes = [(np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * s for n, s in zip(shape, SPACING, strict=True)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    half = [(n - 1) / 2.0 * s for n, s in zip(shape, SPACING, strict=True)]
    image = np.full(shape, -1000.0, dtype=np.float32)
    label = np.zeros(shape, dtype=np.uint8)
    body = (x / (half[0] * rng.uniform(0.85, 0.95))) ** 2 + (y / (half[1] * rng.uniform(0.75, 0.9))) ** 2 <= 1.0
    image[body] = 40.0
    spine = ((x - rng.uniform(-2, 2)) ** 2 + (y - half[1] * 0.55) ** 2 <= rng.uniform(4.0, 5.5) ** 2) & body
    image[spine] = rng.uniform(600.0, 800.0)
    # the organ: a rotated ellipsoid off-centre, inside the body
    centre = _fractions(rng, ((-0.25, 0.05), (-0.3, 0.0), (-0.1, 0.1)), half)
    radii = _fractions(rng, ((0.35, 0.5), (0.3, 0.42), (0.5, 0.75)), half)
    angle = rng.uniform(-0.6, 0.6)
    cos, sin = np.cos(angle), np.sin(angle)
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    organ = ((u / radii[0]) ** 2 + (v / radii[1]) ** 2 + (dz / radii[2]) ** 2 <= 1.0) & body & ~spine
    image[organ] = rng.uniform(80.0, 100.0)
    label[organ] = 1
    # the lesion: a small bright sphere in the body, away from the organ's centre (may touch it)
    radius = rng.uniform(3.0, 5.0)
    at = _fractions(rng, ((0.2, 0.45), (-0.45, 0.1), (-0.3, 0.3)), half)
    lesion = ((x - at[0]) ** 2 + (y - at[1]) ** 2 + (z - at[2]) ** 2 <= radius**2) & body
    image[lesion] = rng.uniform(150.0, 170.0)
    label[lesion] = 2
    image += rng.normal(0.0, 20.0, size=shape).astype(np.float32)
    return np.clip(np.rint(image), -1024, 3071).astype(np.int16), label


def _fractions(rng: np.random.Generator, ranges: tuple[tuple[float, float], ...], half: list[float]) -> np.ndarray:
    """Per axis, a uniform draw in ``ranges[axis]`` times the volume's half extent (mm)."""
    return np.array([rng.uniform(low, high) * extent for (low, high), extent in zip(ranges, half, strict=True)])


def write_dataset(out: str | Path, cases: int = 24, test: int = 6, seed: int = 0) -> Path:
    """Write the dataset (Decathlon layout plus ``splits.json``); returns the ``dataset.json`` path.

    Args:
        out: folder to write (created).
        cases: number of cases in all.
        test: how many of them are held out (the last ones) under ``imagesTs``/``labelsTs``.
        seed: seed of every random choice (shapes, positions, intensities, noise).
    """
    import nibabel as nib

    if not 1 <= test < cases:
        raise ValueError(f"--test must be at least 1 and below --cases ({cases}), not {test}")
    root = Path(out)
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"case_{index:03d}" for index in range(cases)]
    train_names, test_names = names[: cases - test], names[cases - test:]
    for name in names:
        shape = tuple(int(rng.integers(low, high + 1)) for low, high in SHAPE_RANGES)
        image, label = make_case(rng, shape)  # type: ignore[arg-type]
        origin = tuple(float(v) for v in rng.uniform(-20.0, 20.0, size=3))
        affine = lps_affine(SPACING, origin)  # type: ignore[arg-type]
        images, labels = ("imagesTr", "labelsTr") if name in train_names else ("imagesTs", "labelsTs")
        for folder, array in ((images, image), (labels, label)):
            volume = nib.Nifti1Image(array, affine)
            volume.header.set_xyzt_units("mm")
            nib.save(volume, root / folder / f"{name}.nii.gz")
    description = {
        "name": "AnisoCT",
        "description": f"bench/make_aniso_dataset.py --cases {cases} --test {test} --seed {seed}: synthetic CT, "
                       "LPS, 0.8x0.8x2.5 mm, a different shape per case",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": LABELS,
        "numTraining": len(train_names),
        "numTest": len(test_names),
        "training": [{"image": f"./imagesTr/{n}.nii.gz", "label": f"./labelsTr/{n}.nii.gz"} for n in train_names],
        "test": [f"./imagesTs/{n}.nii.gz" for n in test_names],
    }
    path = root / "dataset.json"
    path.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    splits = {"seed": seed, "train": train_names, "test": test_names}
    (root / "splits.json").write_text(json.dumps(splits, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Parse the options and write the dataset.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--cases", type=int, default=24, help="cases in all (default 24)")
    parser.add_argument("--test", type=int, default=6, help="held-out cases, the last ones (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = parser.parse_args(argv)
    try:
        path = write_dataset(args.out, args.cases, args.test, args.seed)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {path} ({args.cases - args.test} train, {args.test} test cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
