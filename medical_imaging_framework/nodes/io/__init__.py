"""The ``io`` node family: reading images (Image Folder, Datalist) and writing results (Save Predictions,
Export Model). The ``*_specs`` modules describe the node types (torch-free); the other modules run them."""

from __future__ import annotations

from medical_imaging_framework.nodes.io import (
    datalist_specs,
    export_model_specs,
    image_folder_specs,
    save_predictions_specs,
)

SPECS = (*image_folder_specs.SPECS, *datalist_specs.SPECS, *save_predictions_specs.SPECS, *export_model_specs.SPECS)

__all__ = ["SPECS"]
