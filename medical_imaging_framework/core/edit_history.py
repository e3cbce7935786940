"""An undo history of commands (Qt-free; the model of QUndoStack without Qt).

A command is any object with ``text``, ``redo()`` and ``undo()``. `EditHistory.push` runs the command
and records it; `undo`/`redo` walk the record. The history remembers which step was last saved
(``set_clean``) and tells its listeners whenever the step, the clean state or the undo/redo
availability may have changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class Command(Protocol):
    """One undoable edit."""

    text: str

    def redo(self) -> None:
        """Apply the edit (also its first application)."""

    def undo(self) -> None:
        """Revert the edit exactly."""


class CompositeCommand:
    """Several commands as one undo step: redone in order, undone in reverse.

    Args:
        text: the step's description (``Undo <text>``).
        children: the commands.
    """

    def __init__(self, text: str, children: Sequence[Command]) -> None:
        self.text = text
        self.children = list(children)

    def redo(self) -> None:
        """Redo every child in order."""
        for child in self.children:
            child.redo()

    def undo(self) -> None:
        """Undo every child in reverse order."""
        for child in reversed(self.children):
            child.undo()


class EditHistory:
    """A linear undo/redo history with a clean (saved) mark.

    Listeners are called with no argument after every change of index or clean mark; they ask
    ``can_undo()``, ``is_clean()``... themselves.
    """

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._index = 0
        self._clean_index: int | None = 0
        self._listeners: list[Callable[[], None]] = []
        self._clean_listeners: list[Callable[[bool], None]] = []

    # -- listening ---------------------------------------------------------------------------
    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every push, undo, redo, clear or clean mark."""
        self._listeners.append(callback)

    def add_clean_listener(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(is_clean)`` whenever the clean state flips (the window's ``*``)."""
        self._clean_listeners.append(callback)

    def _changed(self, was_clean: bool) -> None:
        for callback in list(self._listeners):
            callback()
        if self.is_clean() != was_clean:
            for clean_callback in list(self._clean_listeners):
                clean_callback(self.is_clean())

    # -- editing -----------------------------------------------------------------------------
    def push(self, command: Command) -> None:
        """Run ``command`` and record it as the next step (forgetting any redo steps)."""
        was_clean = self.is_clean()
        command.redo()
        del self._commands[self._index:]
        if self._clean_index is not None and self._clean_index > self._index:
            self._clean_index = None  # the saved state can no longer be reached
        self._commands.append(command)
        self._index += 1
        self._changed(was_clean)

    def undo(self) -> bool:
        """Undo the last step; False when there is none."""
        if not self.can_undo():
            return False
        was_clean = self.is_clean()
        self._index -= 1
        self._commands[self._index].undo()
        self._changed(was_clean)
        return True

    def redo(self) -> bool:
        """Redo the next step; False when there is none."""
        if not self.can_redo():
            return False
        was_clean = self.is_clean()
        self._commands[self._index].redo()
        self._index += 1
        self._changed(was_clean)
        return True

    def clear(self) -> None:
        """Forget every step; the present state is clean."""
        was_clean = self.is_clean()
        self._commands.clear()
        self._index = 0
        self._clean_index = 0
        self._changed(was_clean)

    # -- state -------------------------------------------------------------------------------
    def set_clean(self) -> None:
        """Mark the present step as saved."""
        was_clean = self.is_clean()
        self._clean_index = self._index
        self._changed(was_clean)

    def set_unsaved(self) -> None:
        """Mark no step as saved (a recovered pipeline: no file holds its present state)."""
        was_clean = self.is_clean()
        self._clean_index = None
        self._changed(was_clean)

    def is_clean(self) -> bool:
        """Whether the present step is the saved one."""
        return self._clean_index == self._index

    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return self._index > 0

    def can_redo(self) -> bool:
        """Whether there is a step to redo."""
        return self._index < len(self._commands)

    def undo_text(self) -> str:
        """The description of the step `undo` would revert ("" when none)."""
        return self._commands[self._index - 1].text if self.can_undo() else ""

    def redo_text(self) -> str:
        """The description of the step `redo` would apply ("" when none)."""
        return self._commands[self._index].text if self.can_redo() else ""

    @property
    def index(self) -> int:
        """How many steps are applied."""
        return self._index

    def __len__(self) -> int:
        return len(self._commands)
