"""Which weights the Trainer's ``model`` output carries: ``best_model.pt`` (default) or the final epoch's.

The Trainer trains to the last epoch, so its model holds the final weights; with ``output_weights: best`` the
weights of this run's ``best_model.pt`` are loaded back into it before it is passed on, so a Predictor and an
evaluation after the Trainer score the same model as the ``best_model.pt`` row of `mif report` (the Trainer
logs a line when that is not the last epoch). Without one (checkpoints off, or no best save of this run) the
final weights go on, with a note that the evaluation prints. Either way the model carries a `WeightsSource`
(file, run id, epoch) that the evaluation records. Training logs are unchanged when nothing differs.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.checkpoints.files import (
    BEST_NAME,
    FINAL_NAME,
    CheckpointError,
    load_checkpoint,
    peek_checkpoint,
)
from medical_imaging_framework.core.option_values import checkpoints_enabled
from medical_imaging_framework.nodes.inference.weights import WeightsSource, attach
from medical_imaging_framework.run.events import LogLine
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training.distributed import broadcast_object, run_on_main
from medical_imaging_framework.training.loop import TrainingState

CHOICES = ("best", "final")


def _this_run(path: Path | None, run_id: str) -> WeightsSource | None:
    """``path`` as a `WeightsSource` when it is a readable checkpoint of run ``run_id``, else None."""
    if path is None or not path.is_file():
        return None
    peek = peek_checkpoint(path)
    if peek is None or peek.run_id != run_id:
        return None
    return WeightsSource(str(path.resolve()), peek.run_id, peek.epoch)


def _choose(config: dict[str, Any], state: TrainingState) -> tuple[WeightsSource, str]:
    """The weights to pass on and, when ``best`` could not be honoured, why (rank 0: it wrote the files)."""
    directory = str(config.get("checkpoint_dir", ""))
    folder = Path(os.path.expanduser(directory.strip())) if checkpoints_enabled(directory) else None
    final = _this_run(folder / FINAL_NAME if folder else None, state.run_id)
    if final is None or final.epoch != state.epoch:
        final = WeightsSource("", state.run_id, state.epoch)
    if config.get("output_weights", "best") == "final":
        return final, ""
    best = _this_run(folder / BEST_NAME if folder else None, state.run_id)
    if best is not None:
        return best, ""
    why = ("checkpoint_dir is empty (checkpoints off)" if folder is None
           else f"there is no {BEST_NAME} of this run in {directory.strip()}")
    return final, why


def pass_on_weights(ctx: NodeContext, config: dict[str, Any], state: TrainingState, model: torch.nn.Module,
                    device: torch.device) -> None:
    """Load the chosen weights into ``model`` (every rank), attach their `WeightsSource` and log it.

    Args:
        ctx: the running node's context.
        config: the Trainer's parsed parameters (``output_weights``, ``checkpoint_dir``).
        state: the finished training state (run id, last epoch).
        model: the trained model (unwrapped).
        device: where its weights live.
    """
    source, why = broadcast_object(run_on_main(lambda: _choose(config, state)))  # rank 0 wrote the files
    if why:  # said where the weights are scored (the Predictor's consumers), and kept out of plain training logs
        source = replace(source, note=f"output_weights is 'best' but {why}: the final weights (epoch {state.epoch})")
    if source.checkpoint and Path(source.checkpoint).name == BEST_NAME:
        try:
            load_checkpoint(source.checkpoint, model=model, map_location=device)
        except CheckpointError as error:  # training went well: its final weights go on, said twice
            why = f"output_weights is 'best' but {error}: the final weights (epoch {state.epoch})"
            ctx.emit(LogLine(f"warning: {why}", ctx.node_id, "warning"))
            source = WeightsSource("", state.run_id, state.epoch, why)
        if source.epoch != state.epoch:  # the output differs from the weights the last epoch left
            ctx.log(f"Trainer output: {source.describe()}, not the last epoch's ({state.epoch}) weights")
    attach(model, source)
