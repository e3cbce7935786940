"""The ``schedulers`` node family: ``specs`` describes its node types (torch-free); the other modules run them."""

from __future__ import annotations

from medical_imaging_framework.nodes.schedulers.specs import SPECS

__all__ = ["SPECS"]
