"""Typed node parameters: parsing text input and validating values.

The GUI dialog, the CLI's `--set` and pipeline loading all go through `Param.parse`, so a value is
accepted or refused by the same rule everywhere.
"""

from __future__ import annotations

import errno
import math
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from medical_imaging_framework.core.text import printable

# Whole numbers are held in a C long by torch, NumPy and the data loader: larger ones fail at run time.
INT_LIMIT = 2**63 - 1
# NumPy, MONAI and Python's `random` take seeds below 2**32.
MAX_SEED = 2**32 - 1
# A file or folder name longer than this many bytes is refused by common file systems (ext4, NTFS, APFS).
NAME_MAX = 255
PATH_MAX = 4096
_SHOWN_MAX = 80


class ParamKind(StrEnum):
    """The value types a parameter can hold."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    PATH = "path"
    INT_LIST = "int_list"
    FLOAT_LIST = "float_list"


class ParamError(ValueError):
    """A parameter value broke its rule.

    Args:
        node_id: the node that holds the parameter ("" when unknown).
        field: the parameter name.
        rule: what was wrong, in words a user understands.
    """

    def __init__(self, node_id: str, field: str, rule: str) -> None:
        self.node_id = node_id
        self.field = field
        self.rule = rule
        where = f"node '{printable(node_id)}', field '{printable(field)}'" if node_id else f"field '{printable(field)}'"
        super().__init__(f"{where}: {printable(rule)}")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One parameter of a node type.

    Args:
        name: key in the node's ``config`` dict.
        kind: the value type.
        default: the value a new node starts with.
        label: human title, shown in the parameter dialog.
        help: one sentence shown as a tooltip and by ``mif nodes``.
        minimum: smallest allowed number (inclusive), for INT/FLOAT/INT_LIST/FLOAT_LIST (each item of a list).
        maximum: largest allowed number (inclusive).
        choices: allowed values for CHOICE.
        allow_empty: for STR/PATH, whether "" is a legal value.
        empty_list: for INT_LIST/FLOAT_LIST, whether an empty list (text "") is a legal value (it then means
            a default the help text states, e.g. "every class").
        above: for FLOAT/FLOAT_LIST, a number each value must lie strictly above (e.g. 0 for a spacing).
        fills: for CHOICE, values other fields of the node take when a choice is picked in the editor, as
            ``((choice, ((field, value), ...)), ...)`` (e.g. a CT window preset shows its window).
    """

    name: str
    kind: ParamKind
    default: Any
    label: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)
    allow_empty: bool = True
    fills: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    empty_list: bool = False
    above: float | None = None

    @property
    def title(self) -> str:
        """The label, or a readable form of the name."""
        return self.label or self.name.replace("_", " ").capitalize()

    def rule(self) -> str:
        """Describe the accepted values in words."""
        if self.kind is ParamKind.INT:
            return "must be a whole number" + self._bounds_text()
        if self.kind is ParamKind.FLOAT:
            return "must be a number" + self._bounds_text()
        if self.kind is ParamKind.BOOL:
            return "must be true or false"
        if self.kind is ParamKind.CHOICE:
            return "must be one of: " + ", ".join(self.choices)
        if self.kind is ParamKind.INT_LIST:
            return "must be a comma-separated list of whole numbers" + self._bounds_text() + self._empty_text()
        if self.kind is ParamKind.FLOAT_LIST:
            return "must be a comma-separated list of numbers" + self._bounds_text() + self._empty_text()
        return "must be text" if self.allow_empty else "must not be empty"

    def _empty_text(self) -> str:
        return " (or empty)" if self.empty_list else ""

    def _bounds_text(self) -> str:
        low, high = self.minimum, self.maximum
        fmt = _format_number
        if self.above is not None:
            return f" above {fmt(self.above)}" + (f" and <= {fmt(high)}" if high is not None else "")
        if low is not None and high is not None:
            return f" between {fmt(low)} and {fmt(high)}"
        if low is not None:
            return f" >= {fmt(low)}"
        if high is not None:
            return f" <= {fmt(high)}"
        return ""

    def parse(self, value: Any, node_id: str = "") -> Any:
        """Turn text (or an already typed value) into a valid value of this parameter.

        Args:
            value: user text such as "5", or a typed value from a pipeline file or code.
            node_id: the node, named in the error.

        Raises:
            ParamError: naming node, field and rule when the value is refused.
        """
        parser = {
            ParamKind.INT: self._parse_int,
            ParamKind.FLOAT: self._parse_float,
            ParamKind.BOOL: self._parse_bool,
            ParamKind.CHOICE: self._parse_choice,
            ParamKind.INT_LIST: self._parse_int_list,
            ParamKind.FLOAT_LIST: self._parse_float_list,
        }.get(self.kind, self._parse_text)
        try:
            return parser(value)
        except _Refused as refusal:
            raise ParamError(node_id, self.name, f"{refusal} (got '{shown_value(value)}')") from None
        except (TypeError, ValueError, OverflowError):
            raise ParamError(node_id, self.name, f"{self.rule()} (got '{shown_value(value)}')") from None

    def to_text(self, value: Any) -> str:
        """Format a value the way a user would type it."""
        if self.kind is ParamKind.BOOL:
            return "true" if value else "false"
        if self.kind in (ParamKind.INT_LIST, ParamKind.FLOAT_LIST) and isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    def _check_bounds(self, number: float) -> None:
        if self.above is not None and number <= self.above:
            raise ValueError
        if self.minimum is not None and number < self.minimum:
            raise ValueError
        if self.maximum is not None and number > self.maximum:
            raise ValueError
        if abs(number) > INT_LIMIT and self.kind not in (ParamKind.FLOAT, ParamKind.FLOAT_LIST):
            raise _Refused(f"is too large: whole numbers here must lie between {-INT_LIMIT} and {INT_LIMIT}")

    def _parse_int(self, value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            value = int(value)
        if isinstance(value, str):
            value = _parse_whole_number(value)
        if not isinstance(value, int):
            raise TypeError
        self._check_bounds(value)
        return value

    def _parse_float(self, value: Any) -> float:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, str):
            value = _parse_decimal(value)
        if not isinstance(value, (int, float)):
            raise TypeError
        value = float(value)
        if not math.isfinite(value):
            raise ValueError
        self._check_bounds(value)
        return value

    def _parse_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError

    def _parse_choice(self, value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in self.choices:
            raise ValueError
        return value.strip()

    def _parse_int_list(self, value: Any) -> list[int]:
        if isinstance(value, str):
            parts = [p for p in value.replace(" ", "").split(",") if p]
            items = [_parse_whole_number(p) for p in parts]
        elif isinstance(value, (list, tuple)):
            items = [self._parse_list_item(v) for v in value]
        else:
            raise TypeError
        if not items and not self.empty_list:
            raise ValueError
        for item in items:
            self._check_bounds(item)
        return items

    @staticmethod
    def _parse_list_item(item: Any) -> int:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError
        return item

    def _parse_float_list(self, value: Any) -> list[float]:
        if isinstance(value, str):
            items = [_parse_decimal(p) for p in value.replace(" ", "").split(",") if p]
        elif isinstance(value, (list, tuple)):
            items = [self._parse_float_item(v) for v in value]
        else:
            raise TypeError
        if not items and not self.empty_list:
            raise ValueError
        for item in items:
            if not math.isfinite(item):
                raise ValueError
            self._check_bounds(item)
        return items

    @staticmethod
    def _parse_float_item(item: Any) -> float:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise TypeError
        return float(item)

    def _parse_text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError
        if not self.allow_empty and not value.strip():
            raise ValueError
        if _SURROGATE.search(value):
            raise _Refused("must be text without unpaired surrogate characters (they cannot be saved as UTF-8)")
        if self.kind is ParamKind.PATH:
            problem = path_problem(value)
            if problem:
                raise _Refused(problem)
        return value


class _Refused(ValueError):
    """A value refused for a reason more precise than the parameter's general rule."""


def path_problem(text: str) -> str:
    """Why ``text`` cannot be a file or folder path on this system, or "" when it can.

    Checks the text alone (NUL bytes, over-long names), not whether the path exists.

    Args:
        text: a path as typed or read from a pipeline file.
    """
    if "\0" in text:
        return "a path cannot contain a NUL byte"
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > PATH_MAX:
        return f"the path is {len(encoded)} bytes long; the limit is {PATH_MAX}"
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            return f"a path component is {len(part)} bytes long; file systems allow at most {NAME_MAX}"
    return ""


def path_unreachable(path: str | os.PathLike[str]) -> str:
    """Why ``path`` cannot be opened (``does not exist``, ``is a symbolic link loop``, ...), or "" when it can.

    Asks the disk (one ``stat``); the words follow "'<path>' " or "..., which " in a message.

    Args:
        path: a file or folder named by a user or read from a file.
    """
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop (a link that leads back to itself)"
        if error.errno == errno.ENOENT and os.path.islink(path):
            return f"is a symbolic link to '{os.readlink(path)}', which does not exist"
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "does not exist"
        return f"cannot be reached: {error.strerror or error}"
    except ValueError as error:  # a NUL byte in the name
        return f"cannot be reached: {error}"
    return ""


def shown_value(value: Any) -> str:
    """A value as quoted in an error: control characters escaped, long values cut.

    Args:
        value: text or a typed value from a pipeline file or the command line.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 256:
        return f"<a whole number of about {int(abs(value).bit_length() * 0.30103) + 1} digits>"
    text = value if isinstance(value, str) else _safe_repr(value)
    if len(text) > _SHOWN_MAX:
        text = f"{text[:_SHOWN_MAX]}... ({len(text)} characters)"
    return printable(text)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except (ValueError, RecursionError):  # e.g. a huge int, or a deeply nested list
        return f"<{type(value).__name__}>"


_SURROGATE = re.compile("[\ud800-\udfff]")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _parse_whole_number(text: str) -> int:
    """ASCII digits with an optional sign only: Python's int() would also take "1_0" or non-Latin digits."""
    text = text.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _parse_decimal(text: str) -> float:
    """ASCII decimal notation only ("1.5", "-2e-3"): float() would also take "1_0", non-Latin digits or "nan"."""
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _format_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
