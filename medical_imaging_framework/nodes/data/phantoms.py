"""Synthetic phantoms: random ellipses (2D) or ellipsoids (3D) over noise, with binary masks.

MONAI's ``create_test_image_2d/3d`` draws circles and spheres only; rotated ellipses with varied
axes and intensities give a segmentation task with more shape variety, so we draw our own.
"""

from __future__ import annotations

import numpy as np


def make_phantom(size: int, spatial_dims: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (image, mask) pair, each of shape ``(size,) * spatial_dims``, float32.

    Args:
        size: edge length in voxels.
        spatial_dims: 2 or 3.
        noise: standard deviation of the Gaussian noise added to the image.
        rng: source of randomness (the caller seeds it).
    """
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, size, dtype=np.float32)] * spatial_dims, indexing="ij")
    grid = np.stack(axes, axis=-1)  # (*spatial, dims)
    image = np.zeros((size,) * spatial_dims, dtype=np.float32)
    mask = np.zeros_like(image, dtype=bool)
    for _ in range(int(rng.integers(1, 5))):
        inside = _ellipsoid(grid, spatial_dims, rng)
        image[inside] = rng.uniform(0.5, 1.0)
        mask |= inside
    image += rng.normal(0.0, noise, size=image.shape).astype(np.float32)
    return image, mask.astype(np.float32)


def _ellipsoid(grid: np.ndarray, spatial_dims: int, rng: np.random.Generator) -> np.ndarray:
    center = rng.uniform(-0.5, 0.5, size=spatial_dims).astype(np.float32)
    radii = rng.uniform(0.12, 0.4, size=spatial_dims).astype(np.float32)
    rotation = _random_rotation(spatial_dims, rng)
    local = (grid - center) @ rotation
    return np.sum((local / radii) ** 2, axis=-1) <= 1.0


def _random_rotation(spatial_dims: int, rng: np.random.Generator) -> np.ndarray:
    # QR of a Gaussian matrix gives a uniformly random orthogonal matrix.
    q, r = np.linalg.qr(rng.normal(size=(spatial_dims, spatial_dims)))
    return (q * np.sign(np.diag(r))).astype(np.float32)
