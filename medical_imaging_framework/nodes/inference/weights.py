"""Which weights a trained model carries: the checkpoint file, its run id and epoch (torch-free).

The Trainer and LoadCheckpoint attach a `WeightsSource` to the model they output (`attach`); the Predictor
passes it on in its `PredictionSet`, and the evaluation records it in ``evaluation.csv`` so a result always
names the checkpoint that produced it (docs/segmentation/EVALUATION.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ATTRIBUTE = "mif_weights"


@dataclass(frozen=True)
class WeightsSource:
    """A model's weights: ``checkpoint`` (absolute path, "" when the weights are only in memory), ``run_id``
    and ``epoch`` (None when unknown), and a ``note`` when they are not the ones asked for."""

    checkpoint: str = ""
    run_id: str | None = None
    epoch: int | None = None
    note: str = ""  # why these weights and not the ones asked for (said where they are scored)

    @property
    def folder(self) -> Path | None:
        """The checkpoint's folder, or None when the weights come from no file."""
        return Path(self.checkpoint).parent if self.checkpoint else None

    def describe(self) -> str:
        """``best_model.pt (epoch 21, run 3f2a...)`` or ``weights in memory (epoch 30, ...)``."""
        where = Path(self.checkpoint).name if self.checkpoint else "weights in memory"
        epoch = "?" if self.epoch is None else str(self.epoch)
        return f"{where} (epoch {epoch}, run {self.run_id or '?'})"


def attach(model: Any, source: WeightsSource) -> None:
    """Record ``source`` on ``model`` (a plain attribute: neither a parameter nor saved in a state dict).

    Args:
        model: the trained ``torch.nn.Module``.
        source: where its weights come from.
    """
    object.__setattr__(model, ATTRIBUTE, source)


def weights_of(model: Any) -> WeightsSource | None:
    """The `WeightsSource` attached to ``model``, or None.

    Args:
        model: a model a Trainer or LoadCheckpoint output.
    """
    source = getattr(model, ATTRIBUTE, None)
    return source if isinstance(source, WeightsSource) else None
