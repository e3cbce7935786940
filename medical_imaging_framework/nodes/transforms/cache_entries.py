"""One on-disk cache entry: an item stored so that reading it back can never run code, signed by its user.

MONAI's ``PersistentDataset`` pickles each item whole (``MetaTensor`` s with their meta and transform
history) and this project read it back with ``torch.load(weights_only=False)``: any file in the cache folder
could run code. An entry here is

    MAGIC | HMAC-SHA256(user key, MAGIC | "chain-…/NAME.pt" | payload) | payload

and the payload is ``torch.save`` of tensors and plain Python values only, read back with
``torch.load(weights_only=True)``. Two locks, each enough against code: the signature is checked first
(streamed, so a planted multi-gigabyte file costs no memory) and an entry this user's key did not sign
(damaged, forged, copied from another user, moved to another item's name) never reaches ``torch.load``;
and what does reach it cannot name a Python callable. A ``MetaTensor`` is stored as its plain tensor, its
meta dict and its ``applied_operations`` (MONAI's own enum keys are ``str`` s and are stored as such:
``Invertd`` finds them by equal strings), so predictions are still inverted onto the source grid.

Written here rather than taken from MONAI: ``PersistentDataset(weights_only=True)`` cannot read a
``MetaTensor`` back (``TraceKeys`` in its history is not an allowed global), and allow-listing ``MetaTensor``
and MONAI's enums with ``torch.serialization.add_safe_globals`` would let a file set any attribute of the
tensors it builds; MONAI has no signed cache.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import pickle
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.core.text import printable

MAGIC = b"mif-cache-entry v1\n"
SIGNATURE_BYTES = hashlib.sha256().digest_size
FORMAT = "mif-cache-entry"
TAG = "__mif__"  # marks a dict that stands for a value torch.load(weights_only=True) cannot hold
MAX_DEPTH = 32
CHUNK = 1 << 20
PLAIN = (type(None), bool, int, float, str, bytes, torch.dtype, torch.Size, torch.device)


class BadEntry(Exception):
    """A cache entry that cannot be used (the message says why, without the file's name)."""


class Unstorable(Exception):
    """An item holding a value that an entry cannot hold (the message names its type)."""


def write_entry(path: Path, item: Any, key: bytes) -> None:
    """Write ``item`` as the signed entry ``path`` (atomically: a reader sees the old file or the new one).

    Args:
        path: ``<cache_dir>/chain-<fingerprint>/<item hash>.pt``.
        item: the cached part's result (a dict of tensors, ``MetaTensor`` s, numbers, strings, ...).
        key: the user's cache key (`cache_key.user_cache_key`).

    Raises:
        Unstorable: the item holds a value that cannot be stored safely.
        OSError: the file cannot be written.
    """
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "item": _encode(item, 0)}, buffer)
    payload = buffer.getbuffer()
    signature = _signer(key, path).copy()
    signature.update(payload)

    def write(stream: Any) -> None:
        stream.write(MAGIC)
        stream.write(signature.digest())
        stream.write(payload)

    write_atomically(path, write)


def read_entry(path: Path, key: bytes) -> Any:
    """The item stored in the entry ``path``, once its signature and contents check out.

    Args:
        path: the entry file.
        key: the user's cache key.

    Raises:
        BadEntry: unreadable, truncated, not an entry, not signed with ``key`` for this name, or malformed.
    """
    try:
        with path.open("rb") as stream:
            head = stream.read(len(MAGIC) + SIGNATURE_BYTES)
            if not head:
                raise BadEntry("the file is empty")
            if not head.startswith(MAGIC):
                raise BadEntry("not a cache entry of this version (written by an older version or another "
                               "program, or damaged)")
            signature = _signer(key, path)
            while chunk := stream.read(CHUNK):
                signature.update(chunk)
            if not hmac.compare_digest(signature.digest(), head[len(MAGIC):]):
                raise BadEntry("its signature does not match your cache key (truncated or damaged, written with "
                               "another user's key, or moved from another item's name)")
            stream.seek(len(head))
            payload = stream.read()
    except OSError as error:
        raise BadEntry(f"cannot be read: {error.strerror or error}") from None
    try:
        stored = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise BadEntry("its payload holds pickled Python objects besides tensors and plain values (refused: "
                       "reading them could run code)") from None
    except Exception as error:  # torch raises several types; its messages speak of checkpoints, so not shown
        raise BadEntry(f"its payload cannot be read ({type(error).__name__})") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT or "item" not in stored:
        raise BadEntry("its payload is not a cache entry")
    try:
        return _decode(stored["item"], 0)
    except (TypeError, ValueError, RuntimeError) as error:  # e.g. a MetaTensor refusing its stored meta
        raise BadEntry(f"its item cannot be rebuilt ({type(error).__name__})") from None


def _signer(key: bytes, path: Path) -> Any:
    """The HMAC, fed with the entry's place (chain folder and item name) before its payload."""
    signature = hmac.new(key, MAGIC, hashlib.sha256)
    signature.update(f"{path.parent.name}/{path.name}\0".encode())
    return signature


def _encode(value: Any, depth: int) -> Any:
    """``value`` as tensors and plain values (`PLAIN`, dict, list, tuple) only."""
    if depth > MAX_DEPTH:
        raise Unstorable(f"values nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, MetaTensor):
        return {TAG: "MetaTensor", "array": value.as_tensor().detach().clone(),
                "meta": _encode(dict(value.meta), depth + 1),
                "operations": _encode(list(value.applied_operations), depth + 1), "is_batch": bool(value.is_batch)}
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).clone()  # a view's copy: not its whole storage
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, (str, bytes)):
        array = np.asarray(value)
        try:
            tensor = torch.from_numpy(np.array(array, order="C", copy=True))
        except TypeError:
            raise Unstorable(f"a numpy array of {array.dtype}") from None
        return {TAG: "ndarray" if isinstance(value, np.ndarray) else "numpy scalar", "array": tensor}
    if isinstance(value, PurePath):
        return {TAG: "path", "text": str(value)}
    if isinstance(value, (bool, type(None), torch.dtype, torch.Size, torch.device)):
        return value
    for plain in (str, int, float, bytes):  # MONAI's str enums (TraceKeys, SpaceKeys) become their strings
        if isinstance(value, plain):
            return plain(value.value) if hasattr(value, "value") and isinstance(value.value, plain) else plain(value)
    if isinstance(value, Mapping):
        if TAG in value:
            raise Unstorable(f"a dict with the key '{TAG}'")
        return {_encode(name, depth + 1): _encode(item, depth + 1) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_encode(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    raise Unstorable(f"a {type(value).__module__}.{type(value).__qualname__}")


def _decode(value: Any, depth: int) -> Any:
    """The inverse of `_encode`, refusing anything `_encode` does not write."""
    if depth > MAX_DEPTH:
        raise BadEntry(f"its values are nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict) and TAG in value:
        return _tagged(value, depth)
    if isinstance(value, dict):
        return {_decode(name, depth + 1): _decode(item, depth + 1) for name, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_decode(item, depth + 1) for item in value)
    if isinstance(value, (torch.Tensor, *PLAIN)):
        return value
    raise BadEntry(f"it holds a {type(value).__name__}")


def _tagged(value: dict[str, Any], depth: int) -> Any:
    kind, array = value[TAG], value.get("array")
    if kind == "path" and isinstance(value.get("text"), str):
        return Path(value["text"])
    if not isinstance(array, torch.Tensor):
        raise BadEntry(f"its {printable(kind)} holds no tensor")
    if kind == "ndarray":
        return array.numpy()
    if kind == "numpy scalar" and array.ndim == 0:
        return array.numpy()[()]
    if kind != "MetaTensor":
        raise BadEntry(f"it holds an unknown value '{printable(kind)[:40]}'")
    meta, operations = _decode(value.get("meta"), depth + 1), _decode(value.get("operations"), depth + 1)
    if not isinstance(meta, dict) or not isinstance(operations, list):
        raise BadEntry("it holds a MetaTensor without its meta dict and list of operations")
    tensor = MetaTensor(array, meta=meta, applied_operations=operations)
    tensor.is_batch = bool(value.get("is_batch", False))
    return tensor
