"""Experiment tracking callbacks: TensorBoard event files and an MLflow run.

Each library is imported only when its callback is built (a Trainer with ``tensorboard_dir`` or
``mlflow_tracking_uri`` set), so a plain run never loads either. Both are fed the same per-epoch values
as ``metrics.csv`` (`metrics_log.epoch_row`).
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState
from medical_imaging_framework.training.metrics_log import epoch_row

REACH_TIMEOUT = 3.0  # seconds a tracking server has to answer at the start of a run
GATEWAY_DOWN = (502, 503, 504)
SCALAR_TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "lr": "lr", "seconds": "time/epoch_seconds"}


def scalar_tag(column: str) -> str:
    """The TensorBoard tag of a ``metrics.csv`` column (``train_loss`` -> ``loss/train``)."""
    return SCALAR_TAGS.get(column, f"metrics/{column}")


def flat_params(pipeline: Mapping[str, Any]) -> dict[str, str]:
    """``{"node_id.param": "value"}`` for every node of a pipeline JSON dict (MLflow run parameters).

    Args:
        pipeline: the pipeline as written to its file.
    """
    params: dict[str, str] = {}
    for node in pipeline.get("nodes", []):
        for name, value in (node.get("params") or node.get("config") or {}).items():
            params[f"{node.get('id')}.{name}"] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return params


def _finite_metrics(row: Mapping[str, Any]) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in row.items()
        if name != "epoch" and value is not None and math.isfinite(float(value))
    }


def _sample_figure(image: torch.Tensor, label: torch.Tensor | None, prediction: torch.Tensor) -> torch.Tensor:
    """One (3, H, 3W) RGB strip: image | label | prediction, middle slice for 3D, each scaled to [0, 1]."""

    def plane(array: torch.Tensor) -> torch.Tensor:
        array = array[0].float()
        if array.ndim == 3:
            array = array[:, :, array.shape[2] // 2]
        low, high = array.min(), array.max()
        return ((array - low) / (high - low)) if high > low else torch.zeros_like(array)

    panels = [plane(image), plane(label) if label is not None else torch.zeros_like(plane(image)), plane(prediction)]
    strip = torch.cat([panel.T for panel in panels], dim=1)  # rows = y, columns = x (NIfTI indexing)
    return strip[None].repeat(3, 1, 1)


class TensorBoardLogger(Callback):
    """Writes scalars per epoch, the pipeline JSON as text and a sample image every N epochs.

    Args:
        log_dir: the event-file folder (``torch.utils.tensorboard.SummaryWriter``).
        pipeline: the pipeline JSON (logged once as text).
        samples: a loader whose first item is drawn for the sample image (None: no images).
        image_every: epochs between sample images (>= 1).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        pipeline: Mapping[str, Any] | None = None,
        samples: Iterable[Any] | None = None,
        image_every: int = 5,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(os.path.expanduser(str(log_dir)))))
        self.pipeline = pipeline or {}
        self.samples = samples
        self.image_every = max(1, image_every)

    def on_train_start(self, state: TrainingState) -> None:
        """Log the pipeline JSON as text."""
        text = json.dumps(dict(self.pipeline), indent=2)
        self.writer.add_text("pipeline", "    " + text.replace("\n", "\n    "), global_step=state.epoch)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Scalars for every column of the epoch's row; a sample image when due."""
        for name, value in _finite_metrics(epoch_row(state, result)).items():
            self.writer.add_scalar(scalar_tag(name), value, global_step=result.epoch)
        if self.samples is not None and (result.epoch % self.image_every == 0 or result.epoch == result.num_epochs):
            figure = sample_prediction(state.model, self.samples)
            if figure is not None:
                self.writer.add_image("sample/image_label_prediction", figure, global_step=result.epoch)
        self.writer.flush()

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Close the event file."""
        self.close()

    def close(self) -> None:
        """Close the event file (also after a failed write)."""
        self.writer.close()


@torch.no_grad()
def sample_prediction(model: torch.nn.Module, samples: Iterable[Any]) -> torch.Tensor | None:
    """Image, label and prediction of the first item of ``samples`` as one RGB strip, or None.

    Args:
        model: the network being trained (put back in train mode afterwards).
        samples: a loader of dict batches (``image``, optional ``label``).
    """
    batch = next(iter(samples), None)
    if not isinstance(batch, Mapping) or "image" not in batch:
        return None
    device = next(model.parameters()).device
    image = batch["image"][:1].to(device).float()
    was_training = model.training
    model.eval()
    try:
        logits = model(image)
    finally:
        model.train(was_training)
    prediction = (torch.sigmoid(logits) > 0.5) if logits.shape[1] == 1 else logits.argmax(1, keepdim=True)
    label = batch.get("label")
    return _sample_figure(image[0].cpu(), None if label is None else label[0], prediction[0].cpu())


def check_reachable(tracking_uri: str, timeout: float = REACH_TIMEOUT) -> None:
    """Raise when ``tracking_uri`` names an http(s) server that does not answer; any answer will do.

    MLflow's own client retries a request for minutes before it gives up (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
    7 with backoff: about 260 s for a server that is down), so one plain GET of ``/health`` with a short
    timeout decides at the start whether the run is tracked at all. Stores (``file:``, ``sqlite:``) and
    other schemes are not checked.

    Args:
        tracking_uri: the MLflow tracking URI.
        timeout: seconds to wait for an answer.

    Raises:
        ConnectionError: the server refused, timed out, its address does not resolve, or a gateway in front
            of it answers 502/503/504.
    """
    if not tracking_uri.startswith(("http:", "https:")):
        return
    url = tracking_uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout):
            return
    except urllib.error.HTTPError as error:
        if error.code in GATEWAY_DOWN:  # a proxy answered for a server behind it that is down (MLflow retries these)
            raise ConnectionError(f"the tracking server does not answer (HTTP {error.code} {error.reason} from "
                                  "a proxy or gateway in front of it)") from None
        return  # the server answered (another error status still means it is there; MLflow reports the rest)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise ConnectionError(f"the tracking server does not answer within {timeout:g} s ({reason})") from None


class MlflowLogger(Callback):
    """Logs an MLflow run: every node's parameters, metrics per epoch, the checkpoint files as artifacts.

    Args:
        tracking_uri: e.g. ``file:./mlruns`` or ``sqlite:///mlflow.db`` (no server needed).
        pipeline: the pipeline JSON (its node parameters become run parameters).
        experiment: the experiment name.
        artifacts: returns the checkpoint folder at the end (None: nothing to upload).
    """

    def __init__(
        self,
        tracking_uri: str,
        pipeline: Mapping[str, Any] | None = None,
        experiment: str = "mif",
        artifacts: Callable[[], Path | None] | None = None,
    ) -> None:
        if tracking_uri.startswith("file:"):
            # MLflow 3 keeps the file store in maintenance mode behind this switch; the user asked for it
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        local = tracking_uri.startswith(("file:", "sqlite:"))
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri if local else None)
        self.tracking_uri = tracking_uri
        self.pipeline = pipeline or {}
        self.experiment = experiment
        self.artifacts = artifacts
        self.run_id = ""

    def on_train_start(self, state: TrainingState) -> None:
        """Check that a server answers, start the run (experiment created on first use), log the parameters.

        Raises:
            ConnectionError: an http(s) tracking server does not answer within `REACH_TIMEOUT` seconds.
        """
        check_reachable(self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        run = self.client.create_run(experiment_id, tags={"mlflow.runName": str(self.pipeline.get("name", "mif"))})
        self.run_id = run.info.run_id
        params = flat_params(self.pipeline)
        from mlflow.entities import Param

        items = [Param(key, value[:6000]) for key, value in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start:start + 100])
        if state.epoch:
            self.client.set_tag(self.run_id, "resumed_from_epoch", str(state.epoch))

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Log the epoch's row as metrics at step = epoch."""
        from mlflow.entities import Metric

        stamp = int(1000 * time.time())
        metrics = [
            Metric(name, value, stamp, result.epoch)
            for name, value in _finite_metrics(epoch_row(state, result)).items()
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Upload the checkpoint folder (and metrics.csv) and end the run."""
        folder = self.artifacts() if self.artifacts else None
        if folder is not None and folder.is_dir():
            self.client.log_artifacts(self.run_id, str(folder), artifact_path="checkpoints")
        self.client.set_terminated(self.run_id, "FINISHED" if completed else "KILLED")
