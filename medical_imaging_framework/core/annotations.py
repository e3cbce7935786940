"""Canvas annotations: notes (a titled text on the canvas) and groups (a titled frame whose nodes move with it).

They are part of the document (saved in the pipeline file's ``"annotations"`` list, undoable like any
edit) but not of the pipeline: nothing runs or validates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from medical_imaging_framework.core.text import printable

KINDS = ("note", "group")
MAX_TEXT = 10_000  # characters of a title or a text: a note, not a file
MIN_SIZE = 40.0  # canvas units: a frame smaller than this cannot be grabbed
MAX_COORD = 1e7


@dataclass(eq=False)  # compared by identity: two equal notes are still two notes
class Annotation:
    """A note or a group on the canvas.

    Args:
        kind: ``"note"`` or ``"group"`` (a group moves the nodes inside its frame with it).
        title: shown in the frame's header.
        text: shown inside the frame (several lines).
        x: left edge, canvas units.
        y: top edge.
        w: width (>= `MIN_SIZE`).
        h: height (>= `MIN_SIZE`).
    """

    kind: str
    title: str = ""
    text: str = ""
    x: float = 0.0
    y: float = 0.0
    w: float = 320.0
    h: float = 200.0

    def values(self) -> dict[str, Any]:
        """The fields as a dict (the file form, before number tidying)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"kind", "title", "text", "x", "y", "w", "h"}`` (whole numbers written as ints)."""
        tidy = {key: (int(v) if isinstance(v, float) and v.is_integer() else v) for key, v in self.values().items()}
        return tidy


def annotation_problem(values: dict[str, Any]) -> str:
    """Why ``values`` cannot make an annotation ("" when they can): the rule of each field.

    Args:
        values: a candidate ``{"kind", "title", "text", "x", "y", "w", "h"}`` (all but ``kind`` optional).
    """
    unknown = sorted(set(values) - {f.name for f in fields(Annotation)})
    if unknown:
        return f"unknown field '{printable(unknown[0])}' (allowed: kind, title, text, x, y, w, h)"
    if values.get("kind") not in KINDS:
        return f"field 'kind': must be \"note\" or \"group\", not {printable(repr(values.get('kind')))}"
    for key in ("title", "text"):
        value = values.get(key, "")
        if not isinstance(value, str):
            return f"field '{key}': must be text"
        if len(value) > MAX_TEXT:
            return f"field '{key}': at most {MAX_TEXT} characters"
    for key in ("x", "y", "w", "h"):
        value = values.get(key, 0.0 if key in "xy" else MIN_SIZE)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) \
                or abs(value) > MAX_COORD:
            return f"field '{key}': must be a finite number of at most {MAX_COORD:g} in size"
        if key in ("w", "h") and value < MIN_SIZE:
            return f"field '{key}': must be at least {MIN_SIZE:g}"
    return ""


def annotation_from_dict(values: Any) -> Annotation:
    """The annotation of a file entry.

    Args:
        values: one entry of the file's ``"annotations"`` list.

    Raises:
        ValueError: the entry is not an object, or a field breaks its rule (the message says which).
    """
    if not isinstance(values, dict):
        raise ValueError("must be an object {\"kind\": \"note\" or \"group\", \"title\", \"text\", \"x\", \"y\", "
                         "\"w\", \"h\"}")
    problem = annotation_problem(values)
    if problem:
        raise ValueError(problem)
    numbers = {key: float(values[key]) for key in ("x", "y", "w", "h") if key in values}
    return Annotation(kind=values["kind"], title=values.get("title", ""), text=values.get("text", ""), **numbers)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
