"""The checkpoint schema: the type and range of every documented field, checked before anything is used.

A file that unpickles under ``weights_only=True`` can still hold anything made of dicts, lists, numbers,
strings and tensors: ``epoch: "seven"``, a model with no tensors, NaN weights, lists nested ten thousand
deep. `validate_checkpoint` refuses each with a `CheckpointError` naming the file and the field, so no
later ``int()``, ``float()`` or ``load_state_dict`` fails with a message that names neither.
See ``docs/training/CHECKPOINTS.md`` ("What a file holds").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from medical_imaging_framework.checkpoints.errors import CheckpointError, field_error, shown

REQUIRED_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "loss", "epoch_losses")
MAX_DEPTH = 32  # the pipeline JSON is about 5 deep; deeper nesting is hostile (RecursionError bait)
# Values in a checkpoint's lists and dicts, a shared list counted every time it is reached (a tensor counts one;
# the model's weights are not walked). Adam's state takes 5 per parameter tensor, the RNG states about 1,300, a
# pipeline a few thousand: 1,000,000 leaves room for 150,000 parameter tensors (a large MONAI network has 300).
MAX_VALUES = 1_000_000
MAX_INT = 2**63  # whole numbers in a checkpoint fit in 64 bits
PYTHON_RNG_WORDS = 625  # random.getstate(): 624 Mersenne Twister words and the position
NUMPY_RNG_WORDS = 624
MAX_RUN_ID = 256  # the Trainer writes 12 hex digits; anything longer is not one of its run ids
NON_FINITE_HINT = "allow_non_finite loads it anyway, for debugging"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_INT <= value < MAX_INT


def _is_real(value: Any) -> bool:
    return isinstance(value, float) or _is_int(value)


def _whole(data: Mapping[str, Any], key: str, source: object, minimum: int | None = None) -> None:
    value = data[key]
    if not _is_int(value) or (minimum is not None and value < minimum):
        rule = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
        raise field_error(source, key, f"must be {rule} (got {shown(value)})")


def _loss(value: Any, field: str, source: object, allow_non_finite: bool, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_real(value):
        raise field_error(source, field, f"must be a number (got {shown(value)})")
    if not allow_non_finite and not math.isfinite(value):
        raise field_error(source, field, f"is {value}: training had diverged when this was saved ({NON_FINITE_HINT})")


def _loss_list(data: Mapping[str, Any], key: str, source: object, allow_non_finite: bool) -> list[Any]:
    values = data[key]
    if not isinstance(values, list):
        raise field_error(source, key, f"must be a list of numbers, one per epoch (got {shown(values)})")
    for index, value in enumerate(values):
        _loss(value, f"{key}[{index}]", source, allow_non_finite)
    return values


class _Budget:
    """The values one checkpoint's walk may still count (`MAX_VALUES` in all), and the lists already walked."""

    def __init__(self) -> None:
        self.left = MAX_VALUES
        self.walked: dict[tuple[int, bool], tuple[int, int]] = {}  # (id, tensors) -> (values, levels below)

    def take(self, count: int, field: str, source: object) -> None:
        """Count ``count`` more values reached at ``field``; refuse the file once there are too many."""
        self.left -= count
        if self.left < 0:
            raise field_error(
                source, field if len(field) <= 40 else field[:40] + "...",
                f"the checkpoint's lists and dicts hold more than {MAX_VALUES:,} values (counting a shared list "
                "each time it is reached: a 'billion laughs' file?)",
            )


def _plain(value: Any, field: str, source: object, tensors: bool, budget: _Budget, depth: int = 0) -> int:
    """Numbers, strings, booleans, None, lists and str-keyed dicts of them (and tensors where allowed).

    Returns how many levels ``value`` nests below itself. Every value reached is counted in ``budget``, a list
    reached twice counting twice: pickle stores a list once however often it is referred to, so 30 levels of
    ``L = [L, L]`` take 30 KB on disk but hold 2^31 values for whatever walks, prints or copies them (a
    "billion laughs"), and bounding the depth alone does not bound that. A list reached again is counted, not
    walked again, so the walk costs time in proportion to the file, and such a file is refused at once.
    """
    if not isinstance(value, (dict, list, tuple)):
        _leaf(value, field, source, tensors)
        return 0
    known = budget.walked.get((id(value), tensors))
    if known is not None:
        count, levels = known
        if depth + levels > MAX_DEPTH:
            raise field_error(source, field[:40] + "...", f"is nested more than {MAX_DEPTH} levels deep")
        budget.take(count, field, source)
        return levels
    if isinstance(value, dict):
        for key in value:
            if not (isinstance(key, str) or _is_int(key)):
                raise field_error(source, field, f"has a key that is not a string (got {shown(key)})")
        items: Any = value.items()
        pattern = "{}.{}"
    else:
        items, pattern = enumerate(value), "{}[{}]"
    if value and depth >= MAX_DEPTH:
        raise field_error(source, field[:40] + "...", f"is nested more than {MAX_DEPTH} levels deep")
    left = budget.left
    budget.take(len(value), field, source)
    levels = 1 if value else 0
    for key, item in items:
        if item is None or isinstance(item, (bool, float, str)) or _is_int(item):
            continue  # the common case, without a call or a field name
        levels = max(levels, 1 + _plain(item, pattern.format(field, key), source, tensors, budget, depth + 1))
    budget.walked[(id(value), tensors)] = (left - budget.left, levels)
    return levels


def _leaf(value: Any, field: str, source: object, tensors: bool) -> None:
    if value is None or isinstance(value, (bool, float, str)) or _is_int(value):
        return
    if tensors and isinstance(value, (torch.Tensor, torch.dtype, torch.device)):
        return
    kind = "numbers, strings, lists, dicts or tensors" if tensors else "numbers, strings, lists and dicts"
    raise field_error(source, field, f"must hold only {kind} (got {shown(value)})")


def _dict(
    data: Mapping[str, Any], key: str, source: object, budget: _Budget, tensors: bool = False
) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise field_error(source, key, f"must be a dict (got {shown(value)})")
    _plain(value, key, source, tensors, budget)
    return value


def _model_state(data: Mapping[str, Any], source: object, allow_non_finite: bool) -> None:
    state = data["model_state_dict"]
    if not isinstance(state, Mapping):
        raise field_error(source, "model_state_dict", f"must be a dict of tensors (got {shown(state)})")
    if not state:
        raise field_error(source, "model_state_dict", "holds no tensors: there are no weights to load")
    for name, value in state.items():
        if not isinstance(name, str):
            raise field_error(source, "model_state_dict", f"has a key that is not a string (got {shown(name)})")
        if not isinstance(value, torch.Tensor):
            raise field_error(source, f"model_state_dict.{name}", f"must be a tensor (got {shown(value)})")
    if not allow_non_finite:
        bad = non_finite_tensors(state)
        if bad:
            names = ", ".join(f"'{name}'" for name in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise field_error(
                source, "model_state_dict",
                f"{len(bad)} of {len(state)} weight tensors hold NaN or infinite values ({names}): training had "
                f"diverged when this was saved; use an earlier checkpoint ({NON_FINITE_HINT})",
            )


def non_finite_tensors(state: Mapping[str, Any]) -> list[str]:
    """The names of floating-point (or complex) tensors in ``state`` holding a NaN or an infinity.

    Args:
        state: a state dict.
    """
    return [
        str(name) for name, value in state.items()
        if isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())
        and value.numel() and not bool(torch.isfinite(value).all())
    ]


def _optimizer_state(data: Mapping[str, Any], source: object, budget: _Budget) -> None:
    state = data["optimizer_state_dict"]
    key = "optimizer_state_dict"
    if not isinstance(state, dict) or not isinstance(state.get("param_groups", []), list):
        raise field_error(source, key, f"must be a dict with 'state' and 'param_groups' (got {shown(state)})")
    if not isinstance(state.get("state", {}), dict):
        raise field_error(source, f"{key}.state", f"must be a dict (got {shown(state.get('state'))})")
    _plain(state, key, source, True, budget)
    for index, group in enumerate(state.get("param_groups", [])):
        where = f"{key}.param_groups[{index}]"
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise field_error(source, where, "must be a dict with a 'params' list")
        if not all(_is_int(param) for param in group["params"]):
            raise field_error(source, f"{where}.params", "must be a list of whole numbers")
        lr = group.get("lr", 0.0)
        if not (_is_real(lr) or (isinstance(lr, torch.Tensor) and lr.numel() == 1)):
            raise field_error(source, f"{where}.lr", f"must be a number (got {shown(group['lr'])})")


def _python_rng_ok(python: Any) -> bool:
    words = python.get("state") if isinstance(python, dict) else None
    return (
        isinstance(words, list) and len(words) == PYTHON_RNG_WORDS
        and all(_is_int(word) and 0 <= word < 2**32 for word in words)
        and _is_int(python.get("version"))
        and (python.get("gauss_next") is None or _is_real(python.get("gauss_next")))
    )


def _rng_state(data: Mapping[str, Any], source: object, budget: _Budget) -> None:
    rng = _dict(data, "rng_state", source, budget, tensors=True)
    if rng is None:
        return
    python, numpy_state, cpu, cuda = rng.get("python"), rng.get("numpy"), rng.get("torch"), rng.get("cuda")
    if python is not None and not _python_rng_ok(python):
        raise field_error(source, "rng_state.python", f"must be Python's random state: {PYTHON_RNG_WORDS} "
                          "whole numbers in 'state', a 'version' and 'gauss_next'")
    if numpy_state is not None:
        keys = numpy_state.get("keys") if isinstance(numpy_state, dict) else None
        if not (isinstance(keys, torch.Tensor) and keys.numel() == NUMPY_RNG_WORDS and not keys.is_floating_point()
                and isinstance(numpy_state.get("kind"), str) and _is_int(numpy_state.get("pos"))
                and _is_int(numpy_state.get("has_gauss")) and _is_real(numpy_state.get("cached_gaussian"))):
            raise field_error(source, "rng_state.numpy", f"must be NumPy's random state: {NUMPY_RNG_WORDS} "
                              "integer 'keys', 'kind', 'pos', 'has_gauss' and 'cached_gaussian'")
    if cuda is not None and not isinstance(cuda, list):
        raise field_error(source, "rng_state.cuda", f"must be a list of tensors (got {shown(cuda)})")
    for field, value in [("rng_state.torch", cpu), *((f"rng_state.cuda[{i}]", s) for i, s in enumerate(cuda or []))]:
        if value is not None and not (isinstance(value, torch.Tensor) and value.dtype == torch.uint8):
            raise field_error(source, field, f"must be a tensor of bytes (got {shown(value)})")


def validate_checkpoint(data: Any, source: object, allow_non_finite: bool = False) -> dict[str, Any]:
    """Check a loaded checkpoint against the schema; returns it unchanged.

    Args:
        data: what ``torch.load`` returned.
        source: the file, named in every message.
        allow_non_finite: accept NaN/infinite weights and losses (for debugging a diverged run).

    Raises:
        CheckpointError: naming the file and the first field that breaks its rule.
    """
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: not a checkpoint (it holds a {type(data).__name__}, not a dict)")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise CheckpointError(f"{source}: not a checkpoint of this framework (missing: {', '.join(missing)})")
    if data.get("format_version") is not None:
        _whole(data, "format_version", source, minimum=1)
    _whole(data, "epoch", source, minimum=0)
    _loss(data["loss"], "loss", source, allow_non_finite)
    _loss(data.get("best_loss"), "best_loss", source, allow_non_finite, optional=True)
    _loss(data.get("val_loss"), "val_loss", source, allow_non_finite, optional=True)
    for key in ("epoch_losses", "val_losses"):
        if key == "epoch_losses" or data.get(key) is not None:
            losses = _loss_list(data, key, source, allow_non_finite)
            if len(losses) > data["epoch"]:
                raise field_error(source, key, f"holds {len(losses)} values, more than the {data['epoch']} epochs")
    _model_state(data, source, allow_non_finite)
    budget = _Budget()  # one for the whole file: a laugh spread over several fields is bounded too
    _optimizer_state(data, source, budget)
    for key in ("scheduler_state_dict", "scaler_state_dict"):
        _dict(data, key, source, budget, tensors=True)
    _rng_state(data, source, budget)
    for key in ("config", "pipeline"):
        _dict(data, key, source, budget)
    run_id = data.get("run_id")
    if run_id is not None and not (isinstance(run_id, str) and len(run_id) <= MAX_RUN_ID):
        raise field_error(source, "run_id", f"must be text of at most {MAX_RUN_ID} characters (got {shown(run_id)})")
    versions = _dict(data, "versions", source, budget) or {}
    for name, value in versions.items():
        if not isinstance(value, str):
            raise field_error(source, f"versions.{name}", f"must be a string (got {shown(value)})")
    return data
