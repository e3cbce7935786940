"""Medical Imaging Framework: node-graph pipelines for medical image deep learning.

Importing the package is cheap: nothing here imports torch or Qt.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
