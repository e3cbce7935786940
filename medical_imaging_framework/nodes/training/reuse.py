"""How a finished training is reused by a later run: by reference to its checkpoint (docs/gui/RUNS.md).

The Trainer's output is never kept in memory between runs: the reference names the checkpoint its model
carries (best or final, `output_weights`), with the run id, epoch, size and modification time; a later run whose
Trainer key is the same loads those weights into the freshly built model. Only a training that ran to its
last epoch reaches here (a stopped or failed one raises), and only one whose weights are in a file.

Torch-free at module level: the Trainer's spec imports it; ``restore`` imports torch when it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from medical_imaging_framework.nodes.inference.weights import WeightsSource, attach, weights_of
from medical_imaging_framework.run.events import TrainingReused
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.run.launch_env import restart_count


def watched_files(config: dict[str, Any]) -> list[str] | None:
    """The file the Trainer resumes from (its size and time enter the key); None for ``last``/``auto`` and
    after an elastic restart.

    ``last`` and ``auto`` pick a file when the run starts, from a folder the training itself writes into, so a
    Trainer set to them is never reused; nor is one in a worker group torchrun restarted (it resumes ``auto``).

    Args:
        config: the Trainer's parsed parameters.
    """
    choice = str(config.get("resume_from", "")).strip()
    if choice in ("last", "auto") or restart_count() > 0:
        return None
    return [choice] if choice else []


def reference(outputs: dict[str, Any]) -> dict[str, Any] | None:
    """The reference of a finished training's output: its checkpoint file, run id, epoch, size and time.

    Args:
        outputs: the Trainer's outputs (``model`` carries a `WeightsSource`).
    """
    source = weights_of(outputs.get("model"))
    if source is None or not source.checkpoint or not os.path.isfile(source.checkpoint):
        return None  # weights only in memory (checkpoints off): nothing to refer to
    stat = os.stat(source.checkpoint)
    return {
        "label": f"run {source.run_id}, epoch {source.epoch}",
        "checkpoint": source.checkpoint,
        "run_id": source.run_id,
        "epoch": source.epoch,
        "note": source.note,
        "files": {source.checkpoint: [stat.st_size, stat.st_mtime_ns]},  # `ResultCache.reference` checks them
    }


def restore(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any],
            entry: dict[str, Any]) -> dict[str, Any] | None:
    """The Trainer's output again: the referenced weights loaded into the input model; None when the file
    holds another run or epoch now, so the Trainer trains.

    Args:
        ctx: the running node's context.
        inputs: the Trainer's inputs (``model``: a freshly built model of the same key).
        config: the Trainer's parsed parameters (``device``).
        entry: the reference `reference` wrote.
    """
    from medical_imaging_framework.checkpoints.files import load_checkpoint, peek_checkpoint
    from medical_imaging_framework.training.distributed import rank_device
    from medical_imaging_framework.training.loop import resolve_device

    path = Path(str(entry.get("checkpoint", "")))  # its size and time were checked by the cache
    if not path.is_file():
        return None
    peek = peek_checkpoint(path)
    if peek is None or (peek.run_id, peek.epoch) != (entry.get("run_id"), entry.get("epoch")):
        return None
    device = rank_device(resolve_device(config["device"]))
    model = inputs["model"].to(device)
    load_checkpoint(path, model=model, map_location=device)
    attach(model, WeightsSource(str(path), peek.run_id, peek.epoch, str(entry.get("note", ""))))
    model.eval()
    # announced like a training's folder, so the run's record, the Report action and the Runs dock find it
    ctx.emit(TrainingReused(ctx.node_id, str(path.parent), str(peek.run_id or ""), int(peek.epoch or 0),
                            int(config.get("num_epochs") or 0), str(path)))
    return {"model": model}
