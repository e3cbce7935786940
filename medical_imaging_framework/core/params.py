"""Typed node parameters: parsing text input and validating values.

The GUI dialog, the CLI's `--set` and pipeline loading all go through `Param.parse`, so a value is
accepted or refused by the same rule everywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ParamKind(StrEnum):
    """The value types a parameter can hold."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    PATH = "path"
    INT_LIST = "int_list"


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
        where = f"node '{node_id}', field '{field}'" if node_id else f"field '{field}'"
        super().__init__(f"{where}: {rule}")


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
        minimum: smallest allowed number (inclusive), for INT/FLOAT/INT_LIST.
        maximum: largest allowed number (inclusive).
        choices: allowed values for CHOICE.
        allow_empty: for STR/PATH, whether "" is a legal value.
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
            return "must be a comma-separated list of whole numbers" + self._bounds_text()
        return "must be text" if self.allow_empty else "must not be empty"

    def _bounds_text(self) -> str:
        low, high = self.minimum, self.maximum
        fmt = _format_number
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
        }.get(self.kind, self._parse_text)
        try:
            return parser(value)
        except (TypeError, ValueError):
            shown = value if isinstance(value, str) else repr(value)
            raise ParamError(node_id, self.name, f"{self.rule()} (got '{shown}')") from None

    def to_text(self, value: Any) -> str:
        """Format a value the way a user would type it."""
        if self.kind is ParamKind.BOOL:
            return "true" if value else "false"
        if self.kind is ParamKind.INT_LIST and isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    def _check_bounds(self, number: float) -> None:
        if self.minimum is not None and number < self.minimum:
            raise ValueError
        if self.maximum is not None and number > self.maximum:
            raise ValueError

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
            value = float(value.strip())
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
        if not items:
            raise ValueError
        for item in items:
            self._check_bounds(item)
        return items

    @staticmethod
    def _parse_list_item(item: Any) -> int:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError
        return item

    def _parse_text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError
        if not self.allow_empty and not value.strip():
            raise ValueError
        return value


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def _parse_whole_number(text: str) -> int:
    """ASCII digits with an optional sign only: Python's int() would also take "1_0" or non-Latin digits."""
    text = text.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _format_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
