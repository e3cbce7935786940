"""Choice lists and small rules of node parameters that the node specs share with torch-side core modules.

Kept free of torch so that the node library can be described (palette, canvas, ``mif nodes``, validation)
without importing PyTorch; `async_checkpoint`, `export` and `checkpoint_policy` re-export these names.
"""

from __future__ import annotations

ASYNC_CHOICES = ("auto", "on", "off")  # the Trainer's async_checkpoint parameter
EXPORT_FORMATS = ("onnx", "torchscript")  # the ExportModel node's format parameter


def checkpoints_enabled(directory: str) -> bool:
    """Whether ``directory`` turns saving on (an empty or blank value turns it off).

    Args:
        directory: the Trainer's checkpoint_dir as the user typed it.
    """
    return bool(directory.strip())
