"""Run events: small frozen dataclasses delivered to a sink callback.

One event stream, three consumers: the CLI prints them, the GUI worker re-emits them as a Qt
signal, tests collect them in a list. `format_event` gives the text line both the CLI and the
GUI log pane show, so they are the same, character for character.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from medical_imaging_framework.core.text import printable

# The Literal aliases below (levels, kinds) are plain strings on the wire (JSON lines, docs/events.md).


@dataclass(frozen=True)
class Event:
    """Base class of every run event."""


@dataclass(frozen=True)
class RunStarted(Event):
    pipeline: str
    node_count: int


@dataclass(frozen=True)
class NodeStarted(Event):
    node_id: str
    type_id: str


@dataclass(frozen=True)
class NodeFinished(Event):
    """A node ended well; ``reused``: its outputs came from an earlier run (`run.cache`), it did not run."""

    node_id: str
    seconds: float
    reused: bool = False


@dataclass(frozen=True)
class NodeFailed(Event):
    node_id: str
    message: str
    traceback: str = ""


LogLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class LogLine(Event):
    """A line of text for the log, exactly as it should read."""

    text: str
    node_id: str = ""
    level: LogLevel = "info"


@dataclass(frozen=True)
class Progress(Event):
    """Training progress; ``batch`` counts within ``epoch`` (both 1-based)."""

    node_id: str
    epoch: int
    num_epochs: int
    batch: int
    num_batches: int


@dataclass(frozen=True)
class EpochEnded(Event):
    node_id: str
    epoch: int
    num_epochs: int
    loss: float
    val_loss: float | None = None
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


CheckpointKind = Literal["periodic", "best", "final"]


@dataclass(frozen=True)
class CheckpointSaved(Event):
    """A checkpoint file is safely on disk. ``kind`` is ``periodic``, ``best`` or ``final``."""

    node_id: str
    kind: CheckpointKind
    path: str
    epoch: int
    loss: float


# a save's kind, or "directory" (the folder could not be made or listed), "cleanup" (an old file was not
# deleted), "" (not said)
CheckpointFailureKind = Literal["periodic", "best", "final", "directory", "cleanup", ""]


@dataclass(frozen=True)
class CheckpointFailed(Event):
    """A save failed; earlier checkpoints are intact. ``kind`` is the save's kind, or ``directory``/``cleanup``."""

    node_id: str
    path: str
    message: str
    kind: CheckpointFailureKind = ""


@dataclass(frozen=True)
class CheckpointsConfigured(Event):
    """Training starts with checkpoints going to ``directory`` (as the user typed it), for run ``run_id`` (the
    Trainer's; a resumed run keeps its id; "" when not known)."""

    node_id: str
    directory: str
    run_id: str = ""


@dataclass(frozen=True)
class TrainingResumed(Event):
    """Training continues after epoch ``epoch`` of checkpoint ``path``."""

    node_id: str
    path: str
    epoch: int
    num_epochs: int


@dataclass(frozen=True)
class TrainingReused(Event):
    """The Trainer did not train: a later run reused the finished training of run ``run_id`` (its weights of
    epoch ``epoch`` of ``num_epochs``, file ``checkpoint``) from its folder ``directory`` (as typed); the
    "reused:" log line is the executor's, so this event has no line of its own."""

    node_id: str
    directory: str
    run_id: str
    epoch: int
    num_epochs: int = 0
    checkpoint: str = ""


@dataclass(frozen=True)
class TrainingCompleted(Event):
    """Every epoch ran; ``final_path`` is the final model file ("" when checkpoints are off or it failed);
    ``failed_saves`` counts the checkpoint saves of this run that did not reach the disk."""

    node_id: str
    epoch: int
    final_path: str = ""
    failed_saves: int = 0


@dataclass(frozen=True)
class TrainingStopped(Event):
    node_id: str
    epoch: int


@dataclass(frozen=True)
class MetricsReported(Event):
    """Evaluation results: ``per_case`` rows and ``mean`` values by metric name."""

    node_id: str
    mean: dict[str, float]
    per_case: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SampleAvailable(Event):
    """A sample for the image viewer: numpy arrays (C, *spatial); prediction may be None; ``class_names``
    (background first) name the classes of the label and prediction maps when the data names them."""

    node_id: str
    image: Any
    label: Any = None
    prediction: Any = None
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunFinished(Event):
    """``status`` is ``done``, ``failed`` or ``cancelled``."""

    status: str
    seconds: float


EventSink = Callable[[Event], None]


def format_event(event: Event) -> str | None:
    """The log line for ``event`` (may hold newlines), or None when it has no line of its own.

    Every control or format character in it (from a file name, a folder typed into a pipeline, a message of a
    library) is shown escaped (`printable`), so no consumer prints one raw: the terminal of ``mif run``, the
    human stream of ``--events jsonl``, the editor's log.

    Args:
        event: any run event.
    """
    line = _line(event)
    return None if line is None else printable(line, keep_newlines=True)


def _line(event: Event) -> str | None:
    """The unescaped line of ``event`` (see `format_event`)."""
    if isinstance(event, LogLine):
        return event.text
    if isinstance(event, EpochEnded):
        text = f"Epoch [{event.epoch}/{event.num_epochs}], Loss: {event.loss:.4f}"
        if event.val_loss is not None:
            text += f", Val Loss: {event.val_loss:.4f}"
        return text
    if isinstance(event, NodeFailed):
        return f"✗ Node '{event.node_id}' failed: {event.message}"
    checkpoint_line = _checkpoint_line(event)
    if checkpoint_line is not None:
        return checkpoint_line
    if isinstance(event, TrainingStopped):
        return f"Training stopped at epoch {event.epoch}"
    if isinstance(event, RunFinished) and event.status == "cancelled":
        return "Run stopped."
    return None


def _checkpoint_line(event: Event) -> str | None:
    """The lines of checkpoint events, exactly as docs/training/CHECKPOINTS.md shows them."""
    if isinstance(event, CheckpointsConfigured):
        return f"✓ Checkpoints will be saved to: {event.directory}\n"
    if isinstance(event, CheckpointSaved):
        if event.kind == "periodic":
            name = event.path.replace("\\", "/").rsplit("/", 1)[-1]
            return f"  ✓ Saved checkpoint: {name}"
        if event.kind == "best":
            return f"  ✓ Saved best model (loss: {event.loss:.4f})"
        return None  # the final save is reported by TrainingCompleted
    if isinstance(event, CheckpointFailed):
        if event.kind == "directory":
            return f"  ✗ Cannot use checkpoint directory {event.path}: {event.message}"
        if event.kind == "cleanup":
            return f"  ✗ Could not delete old checkpoint {event.path}: {event.message}"
        return f"  ✗ Could not save checkpoint {event.path}: {event.message}"
    if isinstance(event, TrainingResumed):
        return (
            f"✓ Resumed from {event.path} (epoch {event.epoch}); "
            f"continuing at epoch {event.epoch + 1} of {event.num_epochs}"
        )
    if isinstance(event, TrainingCompleted):
        text = "\n✓ Training complete."
        text = f"{text} Final model saved to: {event.final_path}" if event.final_path else text
        if event.failed_saves:
            plural = "save" if event.failed_saves == 1 else "saves"
            text += f"\n✗ {event.failed_saves} checkpoint {plural} of this run failed (see the ✗ lines above)."
        return text
    return None
