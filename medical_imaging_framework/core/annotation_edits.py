"""Undoable edits of the canvas annotations (notes and groups), mixed into `GraphEditor`.

Each edit is one command on the editor's history and is announced to its observers as
``annotation_added``, ``annotation_removed`` or ``annotation_changed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from medical_imaging_framework.core.annotations import Annotation, annotation_problem
from medical_imaging_framework.core.edit_history import Command, EditHistory
from medical_imaging_framework.core.graph import Graph

Position = tuple[float, float]


class AnnotationEdits:
    """The annotation commands of `GraphEditor` (which provides ``graph``, ``history``, ``_push`` and ``_notify``)."""

    graph: Graph
    history: EditHistory

    def _push(self, text: str, commands: Sequence[Command]) -> None:
        raise NotImplementedError

    def _notify(self, method: str, subject: Any) -> None:
        raise NotImplementedError

    # -- primitive changes (called by the commands only) -------------------------------------
    def _insert_annotation(self, annotation: Annotation, index: int) -> None:
        self.graph.annotations.insert(index, annotation)
        self._notify("annotation_added", annotation)

    def _take_annotation(self, annotation: Annotation) -> int:
        index = next(i for i, a in enumerate(self.graph.annotations) if a is annotation)
        del self.graph.annotations[index]
        self._notify("annotation_removed", annotation)
        return index

    def _set_annotation(self, annotation: Annotation, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            setattr(annotation, key, value)
        self._notify("annotation_changed", annotation)

    # -- commands ----------------------------------------------------------------------------
    def add_annotation(self, annotation: Annotation) -> Annotation:
        """Add a note or group as one undo step.

        Raises:
            ValueError: a field breaks its rule (`annotation_problem`).
        """
        problem = annotation_problem(annotation.values())
        if problem:
            raise ValueError(f"{annotation.kind}: {problem}")
        self._push(f"add {annotation.kind} '{annotation.title}'", [_AddAnnotation(self, annotation)])
        return annotation

    def change_annotation(self, annotation: Annotation, **values: Any) -> bool:
        """Change fields of ``annotation`` (title, text, x, y, w, h) as one undo step; False when nothing changes.

        Raises:
            ValueError: a new value breaks its field's rule; nothing changes then.
        """
        problem = annotation_problem({**annotation.values(), **values})
        if problem:
            raise ValueError(f"{annotation.kind} '{annotation.title}': {problem}")
        changed = {k: v for k, v in values.items() if getattr(annotation, k) != v}
        if not changed:
            return False
        self._push(f"edit {annotation.kind} '{annotation.title}'", [_ChangeAnnotation(self, annotation, changed)])
        return True

    def remove_annotations(self, annotations: Iterable[Annotation]) -> None:
        """Remove notes and groups (not the nodes inside a group) as one undo step."""
        self._push("delete notes", self.annotation_removals(annotations))

    def annotation_removals(self, annotations: Iterable[Annotation]) -> list[Command]:
        """The commands removing ``annotations`` (those present), for a step that also removes nodes."""
        present = [a for a in self.graph.annotations if any(a is b for b in annotations)]
        return [_RemoveAnnotation(self, a) for a in present]

    def annotation_moves(self, positions: Mapping[Annotation, Position]) -> list[Command]:
        """The commands moving annotations to ``positions`` (their top-left corners), for a move step."""
        return [_ChangeAnnotation(self, a, {"x": float(xy[0]), "y": float(xy[1])})
                for a, xy in positions.items() if (a.x, a.y) != (float(xy[0]), float(xy[1]))]


class _AddAnnotation:
    def __init__(self, editor: AnnotationEdits, annotation: Annotation) -> None:
        self.editor, self.annotation, self.text = editor, annotation, f"add {annotation.kind}"

    def redo(self) -> None:
        self.editor._insert_annotation(self.annotation, len(self.editor.graph.annotations))

    def undo(self) -> None:
        self.editor._take_annotation(self.annotation)


class _RemoveAnnotation:
    def __init__(self, editor: AnnotationEdits, annotation: Annotation) -> None:
        self.editor, self.annotation, self.text = editor, annotation, f"delete {annotation.kind}"
        self.index = -1

    def redo(self) -> None:
        self.index = self.editor._take_annotation(self.annotation)

    def undo(self) -> None:
        self.editor._insert_annotation(self.annotation, self.index)


class _ChangeAnnotation:
    def __init__(self, editor: AnnotationEdits, annotation: Annotation, new: Mapping[str, Any]) -> None:
        self.editor, self.annotation, self.text = editor, annotation, f"edit {annotation.kind}"
        self.old = {key: getattr(annotation, key) for key in new}
        self.new = dict(new)

    def redo(self) -> None:
        self.editor._set_annotation(self.annotation, self.new)

    def undo(self) -> None:
        self.editor._set_annotation(self.annotation, self.old)
