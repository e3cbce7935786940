"""The device a node runs on: the line a run prints about it, and whether CUDA is there (torch imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA device (imports torch: call it only when the answer matters)."""
    import torch

    return torch.cuda.is_available()


def device_line(device: torch.device) -> str:
    """``Training on cuda:0 (NVIDIA H200)`` or ``Training on cpu (PyTorch sees no CUDA device)``.

    Args:
        device: the resolved device.
    """
    import torch

    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"Training on cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        reason = "PyTorch sees no CUDA device" if not torch.cuda.is_available() else "device set to cpu"
        return f"Training on cpu ({reason})"  # the thread count is the Trainer's own line (ThreadTuner)
    return f"Training on {device}"
