"""The Trainer's tracking callbacks: ``metrics.csv`` beside the checkpoints, TensorBoard, MLflow.

The Trainer node adds `tracking_callbacks` to its checkpoint policy; the TensorBoard and MLflow trackers are
built only when their parameter is set (MONAI's own import loads both libraries whenever they are installed).
A tracker that fails (an unwritable store, a server that is down or goes down) is reported with ✗ and
training goes on without it (`GuardedTracker`). `TRACKING_PARAMS` and `tensorboard_dir_problem` are plain
data and plain Python: the Trainer's spec loads without torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import Param, ParamKind
from medical_imaging_framework.core.option_values import checkpoints_enabled
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import LogLine
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    from medical_imaging_framework.training.loop import Callback

TRACKING_PARAMS = (
    Param("tensorboard_dir", ParamKind.PATH, "", "TensorBoard Directory",
          "Write TensorBoard scalars, a sample image and the pipeline here (empty: off)."),
    Param("mlflow_tracking_uri", ParamKind.STR, "", "MLflow Tracking URI",
          "Log an MLflow run, e.g. file:./mlruns or sqlite:///mlflow.db (empty: off)."),
)
MLFLOW_SCHEMES = ("file:", "sqlite:", "http:", "https:", "databricks")


def tracking_callbacks(ctx: NodeContext, config: dict[str, Any], inputs: dict[str, Any]) -> list[Callback]:
    """``MetricsLog`` when checkpoints are on, plus TensorBoard/MLflow loggers when asked for.

    Args:
        ctx: the Trainer's context (pipeline JSON).
        config: the Trainer's parsed parameters.
        inputs: the Trainer's inputs (the validation or training loader gives the sample image).
    """
    from medical_imaging_framework.training.metrics_log import MetricsLog  # imports torch: only when a run starts

    callbacks: list[Callback | None] = []
    directory = config.get("checkpoint_dir", "")
    folder = Path(os.path.expanduser(directory.strip())) if checkpoints_enabled(directory) else None
    if folder is not None:
        callbacks.append(MetricsLog(folder, warn=lambda text: ctx.emit(LogLine(f"warning: {text}", ctx.node_id,
                                                                                "warning"))))
    tensorboard_dir = str(config.get("tensorboard_dir", "")).strip()
    if tensorboard_dir:
        callbacks.append(_tensorboard(ctx, tensorboard_dir, config, inputs))
    uri = str(config.get("mlflow_tracking_uri", "")).strip()
    if uri:
        callbacks.append(_mlflow(ctx, uri, folder))
    return [callback for callback in callbacks if callback is not None]


def tensorboard_dir_problem(text: str) -> str:
    """Why ``tensorboard_dir`` cannot be written to, found without writing, or "" (checked by `mif validate`).

    Args:
        text: the parameter as typed (blank: TensorBoard off).
    """
    path = Path(os.path.expanduser(text.strip())) if text.strip() else None
    while path is not None and not path.exists() and path.parent != path:
        path = path.parent  # SummaryWriter creates the missing folders: the nearest existing one decides
    if path is None or not path.exists() or path.is_dir():
        return ""
    if path == Path(os.path.expanduser(text.strip())):
        return f"'{text.strip()}' is a file, not a folder"
    return f"'{text.strip()}' cannot be created: '{path}' is a file, not a folder"


def _warn(ctx: NodeContext) -> Callable[[str], None]:
    return lambda text: ctx.emit(LogLine(text, ctx.node_id, "warning"))


def _tensorboard(ctx: NodeContext, log_dir: str, config: dict[str, Any], inputs: dict[str, Any]) -> Callback | None:
    from medical_imaging_framework.training.tracker_guard import GuardedTracker, short_reason

    try:
        from medical_imaging_framework.training.trackers import TensorBoardLogger

        logger = TensorBoardLogger(
            log_dir, ctx.pipeline, inputs.get("val_data") or inputs.get("train_data"),
            image_every=config.get("save_every_n_epochs", 5),
        )
    except ImportError as error:
        raise NodeError(f"tensorboard_dir needs the 'tensorboard' package ({error}); pip install tensorboard") from None
    except OSError as error:  # the folder cannot be made (a file on the way, no permission): like a failed write
        problem = tensorboard_dir_problem(log_dir) or short_reason(error)
        ctx.emit(LogLine(f"  ✗ TensorBoard: tensorboard_dir {problem}; training goes on without TensorBoard",
                         ctx.node_id, "warning"))
        return None
    ctx.log(f"TensorBoard: writing to {log_dir} (tensorboard --logdir {log_dir})")
    return GuardedTracker(logger, "TensorBoard", log_dir, _warn(ctx))


def _mlflow(ctx: NodeContext, uri: str, folder: Path | None) -> Callback:
    if not uri.startswith(MLFLOW_SCHEMES):
        raise NodeError(
            f"mlflow_tracking_uri '{uri}' is not a tracking URI: use file:./mlruns or sqlite:///mlflow.db "
            "(a local store, no server) or a server's http(s):// address"
        )
    try:
        from medical_imaging_framework.training.tracker_guard import GuardedTracker
        from medical_imaging_framework.training.trackers import MlflowLogger

        logger = MlflowLogger(uri, ctx.pipeline, artifacts=lambda: folder)
    except ImportError as error:
        raise NodeError(f"mlflow_tracking_uri needs the 'mlflow' package ({error}); pip install mlflow") from None
    ctx.log(f"MLflow: logging the run to {uri}")
    return GuardedTracker(logger, "MLflow", uri, _warn(ctx))
