"""Run events as versioned JSON objects, one per line (``mif run --events jsonl``); docs/events.md.

Every object carries ``format`` ("mif-events"), ``version``, ``type`` (the event class name), ``time``
(Unix seconds when the line was written), ``node_id`` (null for run-level events) and the event's own
fields. Arrays (the images of ``SampleAvailable``) are summarised as ``{"shape", "dtype", "min", "max"}``
instead of being written out; numbers that are not finite (a NaN metric) become null.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from medical_imaging_framework.core.text import unsafe_char
from medical_imaging_framework.run.events import Event

FORMAT_NAME = "mif-events"
FORMAT_VERSION = 1
SCHEMA_RESOURCE = "resources/events.schema.json"  # inside the package


def event_to_dict(event: Event, now: float | None = None) -> dict[str, Any]:
    """The JSON-ready dict of ``event``.

    Args:
        event: any run event (a frozen dataclass).
        now: the time to record (default: the current time).
    """
    record: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "type": type(event).__name__,
        "time": round(time.time() if now is None else now, 6),
        "node_id": None,
    }
    for item in dataclasses.fields(event):
        record[item.name] = _jsonable(getattr(event, item.name))
    if record["node_id"] == "":
        record["node_id"] = None
    return record


def event_to_json(event: Event) -> str:
    """One line of JSON (no newline inside) for ``event``, encodable as strict UTF-8.

    Text is written as is, except control, format and surrogate characters, which become ``\\uXXXX`` escapes:
    a file name that is not valid UTF-8 (held by Python as surrogate escapes, ``\\udcff``) stays exact for a
    Python reader (``os.fsencode`` gives back its bytes), and no raw ESC reaches a terminal showing the stream.

    Args:
        event: any run event.
    """
    text = json.dumps(event_to_dict(event), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if text.isascii() and text.isprintable():
        return text
    # json.dumps escapes only the C0 controls and only ensure_ascii=True escapes the rest (every accent and
    # symbol too): escape exactly the characters a strict encoder or a terminal cannot take
    return "".join(_json_escape(char) if unsafe_char(char) else char for char in text)


def _json_escape(char: str) -> str:
    """``char`` as JSON escapes (a UTF-16 surrogate pair above U+FFFF); only ever inside a JSON string here."""
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    # a numpy value exists only once numpy was imported: looked up, not imported here, so the editor's first
    # paint (which imports this module) needs no numpy
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        return _jsonable(value.item())
    if (np is not None and isinstance(value, np.ndarray)) or _is_tensor(value):
        return summarise_array(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "numpy")


def summarise_array(value: Any) -> dict[str, Any]:
    """``{"shape", "dtype", "min", "max"}`` of an array or tensor (min/max null when empty).

    Args:
        value: a numpy array or torch tensor.
    """
    import numpy as np

    array = value.detach().cpu().numpy() if _is_tensor(value) else np.asarray(value)
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    return {
        "shape": [int(size) for size in array.shape],
        "dtype": str(array.dtype),
        "min": _jsonable(finite.min().item()) if finite.size else None,
        "max": _jsonable(finite.max().item()) if finite.size else None,
    }


class JsonLinesWriter:
    """An event sink that writes each event as one JSON line and flushes, so a reader sees it at once.

    The lines are UTF-8 whatever the locale or ``PYTHONIOENCODING`` says (written to the stream's byte buffer
    when it has one), and no event's text can fail to encode (`event_to_json`).

    Args:
        stream: where the lines go (stdout of ``mif run --events jsonl``).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        line = event_to_json(event) + "\n"
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:  # a text-only stream (a test's StringIO)
            self.stream.write(line)
            self.stream.flush()
            return
        self.stream.flush()  # whatever was written as text goes first
        buffer.write(line.encode("utf-8"))
        buffer.flush()


def event_from_dict(record: dict[str, Any]) -> Event | None:
    """The event a JSON line describes (None for a type this version does not know, or another format).

    Array summaries (``SampleAvailable``) come back as None: the stream does not carry the pixels.

    Args:
        record: one parsed line of the stream.
    """
    from medical_imaging_framework.run import events

    if record.get("format") != FORMAT_NAME or record.get("version") != FORMAT_VERSION:
        return None
    kind = getattr(events, str(record.get("type")), None)
    if not (isinstance(kind, type) and issubclass(kind, Event) and dataclasses.is_dataclass(kind)):
        return None
    values: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if item.name not in record:
            continue
        value = record[item.name]
        if isinstance(value, dict) and set(value) == {"shape", "dtype", "min", "max"}:
            value = None  # an array summary: the pixels are not in the stream
        elif item.name in ("mean", "metrics") and isinstance(value, dict):
            value = _numbers(value)
        elif item.name == "class_names" and isinstance(value, list):
            value = tuple(str(name) for name in value)
        elif item.name == "per_case" and isinstance(value, list):
            value = tuple(_numbers(row) for row in value)
        elif item.name == "node_id" and value is None:
            value = ""
        elif item.name == "loss" and value is None:
            value = math.nan  # written as null because JSON has no NaN
        values[item.name] = value
    try:
        return kind(**values)
    except TypeError:  # a required field is missing: not an event of this version
        return None


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    """Null numbers (NaN or infinite when written) back as NaN; names stay strings."""
    return {key: (math.nan if value is None else value) for key, value in row.items()}


def load_schema() -> dict[str, Any]:
    """The JSON Schema every line conforms to (shipped in the package's resources)."""
    from importlib import resources

    text = resources.files("medical_imaging_framework").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "JsonLinesWriter",
    "event_from_dict",
    "event_to_dict",
    "event_to_json",
    "load_schema",
]
