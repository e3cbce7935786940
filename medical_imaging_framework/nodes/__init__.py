"""The built-in node library, one sub-package per family. Registered through the entry point
``medical_imaging_framework.nodes`` -> `register`, exactly like a third-party plugin.

Every family's specs are plain data: registering the library imports neither torch nor MONAI.
"""

from __future__ import annotations

from importlib import import_module

from medical_imaging_framework.core import NodeRegistry

# One sub-package per family: its name is the prefix of its node type ids (``io.ImageFolder``), and its
# ``SPECS`` (from the family's torch-free ``*specs`` modules) are what `register` adds.
FAMILIES = (
    "data", "io", "transforms", "models", "losses", "optim", "schedulers", "training", "inference", "evaluation",
)

# What the families' run functions import when they run (torch, MONAI and the modules built on them). The
# specs never import these, so describing the library stays cheap; the editor imports them in the background.
RUNTIME_MODULES = (
    "torch", "monai", "monai.networks.nets", "monai.losses", "monai.transforms", "monai.inferers", "monai.metrics",
    "medical_imaging_framework.nodes.data.datasets", "medical_imaging_framework.nodes.io.image_dataset",
    "medical_imaging_framework.nodes.losses.modules", "medical_imaging_framework.nodes.transforms.pipeline",
    "medical_imaging_framework.nodes.training.run", "medical_imaging_framework.checkpoints.folder",
    "medical_imaging_framework.nodes.io.prediction_saving", "medical_imaging_framework.nodes.evaluation.metrics",
)


def register(registry: NodeRegistry) -> None:
    """Add every built-in node type to ``registry``."""
    for family in FAMILIES:
        module = import_module(f"medical_imaging_framework.nodes.{family}")
        registry.register_all(module.SPECS)
