"""Run records: what one run was, as a plain JSON file a person can read (``run.json``).

A record is written next to the checkpoints, in each Trainer's checkpoint folder (rank 0 writes), or, for a run
without a checkpoint folder (inference only, checkpoints off), in ``runs/<run id>/`` of the working folder (the
folder relative checkpoint folders resolve against: the run's current directory). The file is the truth; the
per-folder index (`run.run_index`) is only a cache of where the files are. A resumed run appends a `Segment` to
the record of the run it continues instead of starting a new one.

Torch- and Qt-free: the CLI (`mif runs`) and the editor's Runs dock read records with `read_record`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.run.process_identity import ProcessIdentity, identity_from_dict

RECORD_NAME = "run.json"
RECORD_FORMAT = "mif-run"
RECORD_VERSION = 1
STATUSES = ("running", "done", "failed", "stopped", "killed")  # killed: read only, never written (run_liveness)


class RecordError(ValueError):
    """A record file that cannot be read, naming the file and what is wrong."""


@dataclass
class Segment:
    """One stretch of a run: the first launch, then one per resume.

    Args:
        started: local start time (``YYYY-MM-DD HH:MM:SS``).
        ended: local end time ("" while running).
        status: ``running``, ``done``, ``failed`` or ``stopped``.
        epoch_from: the epoch the segment continued after (0 for a fresh start).
        epoch_to: the last epoch it finished.
        overrides: the ``--set`` overrides of this launch.
    """

    started: str
    ended: str = ""
    status: str = "running"
    epoch_from: int = 0
    epoch_to: int = 0
    overrides: list[str] = field(default_factory=list)


@dataclass
class Evaluation:
    """One evaluating node's results.

    Args:
        node_id: the evaluating node.
        csv: the ``evaluation.csv`` it wrote ("" when it wrote none).
        mean: its mean metrics (``dice``, ``hd95``, ``dice_<class>``, ...).
        checkpoint: the checkpoint file the scored weights came from ("" when in memory or unknown).
        weights_run_id: the run that wrote those weights ("" when unknown).
        weights_epoch: their epoch (None when unknown).
    """

    node_id: str
    csv: str = ""
    mean: dict[str, float] = field(default_factory=dict)
    checkpoint: str = ""
    weights_run_id: str = ""
    weights_epoch: int | None = None

    @property
    def dice_per_class(self) -> dict[str, float]:
        """The mean Dice of each class (``dice_<class>`` keys), by class name."""
        return {key[len("dice_"):]: value for key, value in self.mean.items() if key.startswith("dice_")}


@dataclass
class ReusedTraining:
    """A finished training a run reused instead of training (`run.cache`): whose weights it took.

    Args:
        node_id: the reused Trainer.
        run_id: the run that trained them.
        epoch: their epoch; num_epochs: the epochs that training was asked for.
        folder: its checkpoint folder (absolute); checkpoint: the file loaded.
    """

    node_id: str
    run_id: str
    epoch: int = 0
    num_epochs: int = 0
    folder: str = ""
    checkpoint: str = ""


@dataclass
class RunRecord:
    """One run (see the module docstring). ``path`` is where it was read from (not stored in the file).

    Args:
        run_id: the Trainer's run id (kept by a resumed run), or one of the run's own without a Trainer folder.
        pipeline_name: the pipeline's name.
        status: the last segment's status.
        started: when the first segment started.
        ended: when the last segment ended ("" while running).
        device: the device line the Trainer printed ("" without one).
        mode: how it ran (``mif run``, ``editor``, ``separate process``, ``torchrun, N processes``).
        working_folder: the folder relative paths resolve against (the run's current directory).
        pipeline: the pipeline exactly as it ran, in its file form (``--set`` overrides applied); after a resume,
            as the last segment ran it.
        overrides: the ``--set`` overrides of the last segment (``NODE.PARAM=VALUE``; each segment keeps its own).
        checkpoint_folders: the absolute checkpoint folders of its Trainers.
        metrics_csv: the ``metrics.csv`` files of its Trainers.
        evaluations: the evaluating nodes' results.
        epochs: the last epoch trained; num_epochs: the epochs asked for.
        best_val_loss: the lowest validation loss over every segment (None without validation).
        segments: the first launch and each resume.
        process: the process that writes it (its last segment's; None in a record of an older mif).
        reused: the trainings it reused instead of training (their epochs are not this run's).
    """

    run_id: str
    pipeline_name: str = ""
    status: str = "running"
    started: str = ""
    ended: str = ""
    device: str = ""
    mode: str = ""
    working_folder: str = ""
    pipeline: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    checkpoint_folders: list[str] = field(default_factory=list)
    metrics_csv: list[str] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    epochs: int = 0
    num_epochs: int = 0
    best_val_loss: float | None = None
    segments: list[Segment] = field(default_factory=list)
    process: ProcessIdentity | None = None
    reused: list[ReusedTraining] = field(default_factory=list)
    path: Path | None = None

    @property
    def folder(self) -> Path | None:
        """The folder holding the record file."""
        return None if self.path is None else self.path.parent

    @property
    def mean_dice(self) -> float | None:
        """The mean Dice of the last evaluation that reports one (None without)."""
        for evaluation in reversed(self.evaluations):
            value = evaluation.mean.get("dice")
            if value is not None:
                return value
        return None

    @property
    def epochs_text(self) -> str:
        """``3/20``; ``2/2 (reused ef16a3)`` for a run that trained nothing but reused a training; ``-``."""
        if self.num_epochs:
            return f"{self.epochs}/{self.num_epochs}"
        if self.reused:
            first = self.reused[0]
            return f"{first.epoch}/{first.num_epochs or first.epoch} (reused {first.run_id[:6]})"
        return "-"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form written to ``run.json``."""
        return {
            "format": RECORD_FORMAT, "version": RECORD_VERSION, "run_id": self.run_id,
            "pipeline_name": self.pipeline_name, "status": self.status, "started": self.started,
            "ended": self.ended, "device": self.device, "mode": self.mode, "working_folder": self.working_folder,
            "epochs": self.epochs, "num_epochs": self.num_epochs, "best_val_loss": _finite_or_none(self.best_val_loss),
            "checkpoint_folders": list(self.checkpoint_folders), "metrics_csv": list(self.metrics_csv),
            "evaluations": [{"node_id": e.node_id, "csv": e.csv,
                             "mean": {k: _finite_or_text(v) for k, v in e.mean.items()},
                             "checkpoint": e.checkpoint, "weights_run_id": e.weights_run_id,
                             "weights_epoch": e.weights_epoch} for e in self.evaluations],
            "segments": [{**vars(segment), "overrides": list(segment.overrides)} for segment in self.segments],
            "process": None if self.process is None else self.process.to_dict(),
            "reused": [vars(reused).copy() for reused in self.reused],
            "overrides": list(self.overrides), "pipeline": self.pipeline,
        }


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite_or_text(value: float) -> float | str:
    """JSON has no inf/nan: they are written as the strings ``inf``/``nan`` (HD95 of a missed class is inf)."""
    return value if math.isfinite(value) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def record_from_dict(data: Any, source: str | os.PathLike[str] = "<data>") -> RunRecord:
    """A `RunRecord` from its JSON form; raises `RecordError` naming ``source`` and the field.

    Args:
        data: the parsed ``run.json``.
        source: the file (for messages).
    """
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise RecordError(f"{source}: not a mif run record (no \"format\": \"{RECORD_FORMAT}\")")
    if data.get("version") != RECORD_VERSION:
        raise RecordError(f"{source}: run record version {data.get('version')!r}; this mif reads version "
                          f"{RECORD_VERSION}")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise RecordError(f"{source}: \"run_id\" must be a non-empty text")
    try:
        evaluations = [Evaluation(node_id=str(e["node_id"]), csv=str(e.get("csv", "")),
                                  mean={str(k): float(v) for k, v in dict(e.get("mean", {})).items()},
                                  checkpoint=str(e.get("checkpoint", "")),
                                  weights_run_id=str(e.get("weights_run_id", "")),
                                  weights_epoch=e.get("weights_epoch") if isinstance(e.get("weights_epoch"), int)
                                  else None) for e in data.get("evaluations", [])]
        segments = [Segment(started=str(s.get("started", "")), ended=str(s.get("ended", "")),
                            status=str(s.get("status", "")), epoch_from=int(s.get("epoch_from", 0)),
                            epoch_to=int(s.get("epoch_to", 0)),
                            overrides=[str(item) for item in s.get("overrides", []) or []])
                    for s in data.get("segments", [])]
        reused = [ReusedTraining(node_id=str(r["node_id"]), run_id=str(r["run_id"]), epoch=int(r.get("epoch", 0)),
                                 num_epochs=int(r.get("num_epochs", 0)), folder=str(r.get("folder", "")),
                                 checkpoint=str(r.get("checkpoint", ""))) for r in data.get("reused", []) or []]
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise RecordError(f"{source}: \"evaluations\", \"segments\" or \"reused\" is malformed ({error})") from None
    pipeline = data.get("pipeline")
    return RunRecord(
        run_id=run_id, pipeline_name=str(data.get("pipeline_name", "")), status=str(data.get("status", "")),
        started=str(data.get("started", "")), ended=str(data.get("ended", "")), device=str(data.get("device", "")),
        mode=str(data.get("mode", "")), working_folder=str(data.get("working_folder", "")),
        pipeline=pipeline if isinstance(pipeline, dict) else {},
        overrides=[str(item) for item in data.get("overrides", []) or []],
        checkpoint_folders=[str(item) for item in data.get("checkpoint_folders", []) or []],
        metrics_csv=[str(item) for item in data.get("metrics_csv", []) or []],
        evaluations=evaluations, epochs=int(_number(data.get("epochs")) or 0),
        num_epochs=int(_number(data.get("num_epochs")) or 0), best_val_loss=_number(data.get("best_val_loss")),
        segments=segments, process=identity_from_dict(data.get("process")), reused=reused,
        path=Path(source) if source != "<data>" else None,
    )


def read_record(path: str | os.PathLike[str]) -> RunRecord:
    """Read a ``run.json`` (or the folder holding one); raises `RecordError` naming the file.

    Args:
        path: the record file, or its folder.
    """
    file = Path(path)
    if file.is_dir():
        file = file / RECORD_NAME
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{file}: no run record there") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"{file}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    except ValueError as error:
        raise RecordError(f"{file}: not valid JSON ({error})") from None
    record = record_from_dict(data, file)
    record.path = file.resolve()
    return record


def read_loss_curve(path: str | os.PathLike[str]) -> dict[int, tuple[float, float | None]]:
    """Epoch -> (training loss, validation loss or None) from a ``metrics.csv`` (a diverged epoch's ``nan``/``inf``
    loss is left out); raises `RecordError` naming the file, the line and the column of a cell that is not a
    number.

    Ours, not ``training.metrics_log.read_metrics``: that module imports torch, and the editor's Runs dock
    overlays curves on the GUI thread, also before torch has loaded.

    Args:
        path: the file.
    """
    rows: dict[int, tuple[float, float | None]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not {"epoch", "train_loss"} <= set(reader.fieldnames or []):
                raise RecordError(f"{path}: no 'epoch' and 'train_loss' columns")
            for row in reader:
                cells = {}
                for column in ("epoch", "train_loss", "val_loss"):
                    text = (row.get(column) or "").strip()
                    try:
                        value = float(text) if text else None
                    except ValueError:
                        raise ValueError(f"line {reader.line_num}: column '{column}' holds {text[:40]!r}") from None
                    cells[column] = value if value is not None and math.isfinite(value) else None  # nan: no point
                if cells["epoch"] is not None and cells["train_loss"] is not None:
                    rows[int(cells["epoch"])] = (cells["train_loss"], cells["val_loss"])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RecordError(f"{path}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    except ValueError as error:
        raise RecordError(f"{path}: {error}, not a number") from None
    return rows


def write_record(record: RunRecord, folder: str | os.PathLike[str]) -> Path:
    """Write ``record`` as ``folder/run.json`` atomically (the folder is created); returns the file.

    A ``run.json`` of another run already there (a fresh run into a used folder) is kept as
    ``run-<its id>.json``, so no record is lost.

    Args:
        record: the run.
        folder: where it goes.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / RECORD_NAME
    if path.is_file():
        try:
            other = read_record(path)
        except RecordError:
            other = None
        if other is not None and other.run_id != record.run_id:
            os.replace(path, target / f"run-{other.run_id}.json")
    write_atomically(path, json.dumps(record.to_dict(), indent=1, ensure_ascii=False) + "\n")
    return path


__all__ = ["RECORD_NAME", "Evaluation", "RecordError", "ReusedTraining", "RunRecord", "Segment", "read_loss_curve",
           "read_record", "record_from_dict", "write_record"]
