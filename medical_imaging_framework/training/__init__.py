"""The torch side of a run: the training loop (`loop`), the thread policy, precision, devices, several
processes (`distributed`), and the callbacks that run beside the loop (metrics.csv, TensorBoard, MLflow)."""

from __future__ import annotations
