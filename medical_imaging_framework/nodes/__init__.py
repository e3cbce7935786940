"""The built-in node library, one module per family. Registered through the entry point
``medical_imaging_framework.nodes`` -> `register`, exactly like a third-party plugin."""

from __future__ import annotations

from importlib import import_module

from medical_imaging_framework.core import NodeRegistry

FAMILIES = (
    "data", "io", "transforms", "models", "losses", "optim", "schedulers", "training", "inference", "evaluation",
    "writers",
    "export", "datalist",
)


def register(registry: NodeRegistry) -> None:
    """Add every built-in node type to ``registry``."""
    for family in FAMILIES:
        module = import_module(f"medical_imaging_framework.nodes.{family}")
        registry.register_all(module.SPECS)
