"""What a finished run's output ports held, in a few words and one small picture, for the editor's port tooltips.

`summarize_outputs` runs once, at the end of a run, on the thread that ran it; it keeps only text and a
thumbnail (at most `THUMBNAIL` pixels a side, uint8), never a tensor, so the editor can show them for as long
as it likes. Values are recognised by what they offer (a tensor's ``shape``/``dtype``, a dataset's ``len`` and
items, a module's parameters...), so this module needs no node family; torch is imported only to tell a
module or an optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

THUMBNAIL = 96  # longest side of a sample image, in pixels
MAX_KEYS = 6  # item entries named in a dataset's summary


@dataclass(frozen=True)
class PortSummary:
    """One output's summary: ``text`` (a few lines) and ``thumbnail`` (uint8 (H, W), or None)."""

    text: str
    thumbnail: np.ndarray | None = None


def _array(value: Any) -> np.ndarray | None:
    if hasattr(value, "as_tensor"):
        value = value.as_tensor()
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return value if isinstance(value, np.ndarray) else None


def describe_array(value: Any) -> str:
    """``(1, 16, 16) float32, min 0, max 1`` for a tensor or array; the type's name for anything else.

    Args:
        value: a torch tensor, a MONAI MetaTensor or a numpy array.
    """
    array = _array(value)
    if array is None:
        return type(value).__name__
    dtype = str(getattr(value, "dtype", array.dtype)).replace("torch.", "")
    if array.size == 0 or not np.issubdtype(array.dtype, np.number):
        return f"{tuple(array.shape)} {dtype}"
    return f"{tuple(array.shape)} {dtype}, min {float(np.nanmin(array)):.4g}, max {float(np.nanmax(array)):.4g}"


def thumbnail(value: Any) -> np.ndarray | None:
    """A small grey picture of an image (C, *spatial): channel 0, the middle slice of a volume, 0..255.

    Args:
        value: a tensor or array, channel first.
    """
    array = _array(value)
    if array is None or array.ndim not in (3, 4):
        return None
    plane = array[0] if array.ndim == 3 else array[0][..., array.shape[-1] // 2]
    plane = np.asarray(plane, dtype=np.float32)
    step = max(1, int(np.ceil(max(plane.shape) / THUMBNAIL)))
    plane = plane[::step, ::step]  # every n-th pixel: a glance, not a measurement
    low, high = float(np.nanmin(plane)), float(np.nanmax(plane))
    scaled = (plane - low) / (high - low) if high > low else np.zeros_like(plane)
    return np.ascontiguousarray(np.nan_to_num(scaled) * 255).astype(np.uint8)


def _item_text(item: Any) -> str:
    if isinstance(item, dict):
        parts = [f"  {key}: {describe_array(value) if _array(value) is not None else type(value).__name__}"
                 for key, value in list(item.items())[:MAX_KEYS]]
        more = [f"  ({len(item) - MAX_KEYS} more)"] if len(item) > MAX_KEYS else []
        return "\n" + "\n".join([*parts, *more])
    return describe_array(item)


def _dataset(dataset: Any, prefix: str) -> PortSummary:
    length = len(dataset)
    if not length:
        return PortSummary(f"{prefix}{type(dataset).__name__}: empty")
    item = dataset[0]
    image = item.get("image") if isinstance(item, dict) else item
    return PortSummary(f"{prefix}{type(dataset).__name__}: {length} item(s)\nitem 0: {_item_text(item)}",
                       thumbnail(image))


def _module(value: Any) -> PortSummary:
    parameters = list(value.parameters())
    total = sum(p.numel() for p in parameters)
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    return PortSummary(f"{type(value).__name__}: {total:,} parameter(s) ({trainable:,} trainable)")


def summarize(value: Any) -> PortSummary:
    """The summary of one output value (never raises: a value it cannot read is named with the reason).

    Args:
        value: what a node returned on one port.
    """
    try:
        return _summarize(value)
    except Exception as error:  # a summary is a courtesy: a value it cannot read must not fail the run
        return PortSummary(f"{type(value).__name__} (no summary: {type(error).__name__}: {error})")


def _summarize(value: Any) -> PortSummary:
    import torch

    if _array(value) is not None:
        return PortSummary(f"{type(value).__name__} {describe_array(value)}", thumbnail(value))
    if isinstance(value, torch.nn.Module):
        return _module(value)
    if isinstance(value, torch.optim.Optimizer):
        groups = value.param_groups
        return PortSummary(f"{type(value).__name__}: lr {groups[0].get('lr', '?')}, {len(groups)} parameter group(s)")
    if isinstance(value, torch.utils.data.DataLoader):
        batches = len(value) if hasattr(value.sampler, "__len__") else "?"
        return _dataset(value.dataset, f"DataLoader: {batches} batch(es) of {value.batch_size}\n")
    if hasattr(value, "cases") and hasattr(value, "num_classes"):  # a Predictor's PredictionSet
        cases = value.cases
        if not cases:
            return PortSummary("Predictions: no case")
        first = cases[0]
        return PortSummary(f"Predictions: {len(cases)} case(s), {value.num_classes} classes\n"
                           f"case 0 '{first.name}': prediction {describe_array(first.prediction)}",
                           thumbnail(first.image if first.image is not None else first.prediction))
    if isinstance(value, dict) and isinstance(value.get("mean"), dict):  # an evaluation's metrics
        mean, rows = value["mean"], value.get("per_case") or []
        shown = ", ".join(f"{key} {float(number):.4g}" for key, number in list(mean.items())[:MAX_KEYS])
        return PortSummary(f"Metrics over {len(rows)} case(s): mean {shown}")
    built = next((getattr(value, name) for name in ("optimizer_class", "scheduler_class") if hasattr(value, name)),
                 None)
    if isinstance(built, type):  # an optimizer or scheduler the Trainer builds on the model's parameters
        options = getattr(value, "options", None) or {}
        shown = ", ".join(f"{key} {number}" for key, number in list(dict(options).items())[:MAX_KEYS])
        return PortSummary(f"{built.__name__}, built by the Trainer" + (f": {shown}" if shown else ""))
    if hasattr(value, "__len__") and hasattr(value, "__getitem__") and not isinstance(value, (str, bytes, dict)):
        return _dataset(value, "")
    text = repr(value)
    return PortSummary(f"{type(value).__name__}: {text[:120]}{'…' if len(text) > 120 else ''}")


def summarize_outputs(outputs: dict[str, dict[str, Any]]) -> dict[tuple[str, str], PortSummary]:
    """Each output port's summary, by (node id, port name).

    Args:
        outputs: a run's outputs (`RunResult.outputs`).
    """
    return {(node_id, port): summarize(value) for node_id, ports in outputs.items() for port, value in ports.items()}
