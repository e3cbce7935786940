"""Training precision: ``32``, ``bf16-mixed`` or ``fp16-mixed`` (the names Lightning users know).

``fp16-mixed`` autocasts to float16 and scales the loss with a ``GradScaler`` (its state is checkpointed);
``bf16-mixed`` autocasts to bfloat16 and needs no scaler. On a CPU, bf16-mixed uses CPU autocast and
fp16-mixed falls back to full precision with a warning. The old ``mixed_precision`` flag means fp16-mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where a plan is made: the parameter choices need no torch
    import torch

PRECISIONS = ("32", "bf16-mixed", "fp16-mixed")


@dataclass(frozen=True)
class PrecisionPlan:
    """How a run computes: ``autocast_dtype`` None = full precision; ``scaler`` a GradScaler or None.

    ``precision`` is the precision actually used; ``warning`` says why it differs from the one asked for.
    """

    precision: str
    autocast_dtype: torch.dtype | None
    scaler: Any
    warning: str = ""


def requested_precision(precision: Any, mixed_precision: bool = False) -> str:
    """The precision asked for: ``precision``, or fp16-mixed when only the old flag is on.

    Args:
        precision: ``32``, ``bf16-mixed`` or ``fp16-mixed`` (``16-mixed`` and ``bf16`` are accepted too).
        mixed_precision: the old Trainer flag.

    Raises:
        ValueError: an unknown precision name.
    """
    text = str(precision).strip().lower()
    aliases = {"32": "32", "32-true": "32", "fp32": "32", "16-mixed": "fp16-mixed", "fp16-mixed": "fp16-mixed",
               "bf16-mixed": "bf16-mixed", "bf16": "bf16-mixed"}
    if text not in aliases:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    chosen = aliases[text]
    if chosen == "32" and mixed_precision:
        return "fp16-mixed"
    return chosen


def plan_precision(precision: Any, device: torch.device, mixed_precision: bool = False) -> PrecisionPlan:
    """The autocast dtype and scaler for ``precision`` on ``device``.

    Args:
        precision: the Trainer's ``precision`` parameter.
        device: the training device.
        mixed_precision: the old Trainer flag (means fp16-mixed).
    """
    import torch

    chosen = requested_precision(precision, mixed_precision)
    if chosen == "32":
        return PrecisionPlan("32", None, None)
    if chosen == "bf16-mixed":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return PrecisionPlan("32", None, None, "bf16-mixed is not supported by this GPU; training in full "
                                                   "precision (32)")
        return PrecisionPlan("bf16-mixed", torch.bfloat16, None)
    if device.type != "cuda":
        name = "mixed_precision" if str(precision).strip() == "32" else "fp16-mixed"
        return PrecisionPlan("32", None, None, f"{name} needs a CUDA device; training in full precision on "
                                               f"{device.type}")
    return PrecisionPlan("fp16-mixed", torch.float16, torch.amp.GradScaler("cuda"))
