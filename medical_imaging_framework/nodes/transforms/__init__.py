"""The ``transforms`` node family: the ``*specs`` modules describe its node types (torch-free); the other modules
run them."""

from __future__ import annotations

from medical_imaging_framework.nodes.transforms import augment_specs, specs, volume_specs

# the Apply node last in the palette, after every step it runs
SPECS = (*specs.SPECS[:-1], *volume_specs.SPECS, *augment_specs.SPECS, specs.SPECS[-1])

__all__ = ["SPECS"]
