"""The line a run prints about the device it trains on."""

from __future__ import annotations

import torch


def device_line(device: torch.device) -> str:
    """``Training on cuda:0 (NVIDIA H200)`` or ``Training on cpu (PyTorch sees no CUDA device)``.

    Args:
        device: the resolved device.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"Training on cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        reason = "PyTorch sees no CUDA device" if not torch.cuda.is_available() else "device set to cpu"
        return f"Training on cpu ({reason}; {torch.get_num_threads()} threads)"
    return f"Training on {device}"
