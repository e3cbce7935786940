"""Whole-run utilities: export a trained model (ONNX, TorchScript), build a pipeline's model alone, the HTML report."""

from __future__ import annotations
