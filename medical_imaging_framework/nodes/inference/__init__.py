"""The ``inference`` node family: ``specs`` describes its node types (torch-free); the other modules run them."""

from __future__ import annotations

from medical_imaging_framework.nodes.inference import postprocess_specs, specs

SPECS = (*specs.SPECS, *postprocess_specs.SPECS)

__all__ = ["SPECS"]
