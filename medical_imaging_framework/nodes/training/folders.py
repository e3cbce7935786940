"""Which Trainers of a pipeline would start a fresh run in a checkpoint folder an earlier run already used,
and what to tell the user. The Trainer's parameter names live here, beside its spec, not in `checkpoints`.

A *fresh* run is a node whose ``checkpoint_dir`` is set and whose ``resume_from`` is empty (the Trainer, or
a plugin's trainer with the same parameters): it starts at epoch 1 and would write its files next to (and
over) those of an earlier run. After an elastic restart (torchrun started the worker group again) no node is
a fresh run: the Trainer resumes from the newest checkpoint of its folder (`nodes.training.run`).
"""

from __future__ import annotations

from medical_imaging_framework.checkpoints.folder import UsedCheckpointFolder, inspect_folder
from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.pipeline_file import graph_from_dict, graph_to_dict
from medical_imaging_framework.core.registry import NodeRegistry
from medical_imaging_framework.run.launch_env import restart_count

CHECKPOINT_DIR, RESUME_FROM, TENSORBOARD_DIR = "checkpoint_dir", "resume_from", "tensorboard_dir"


def fresh_runs(graph: Graph) -> list[tuple[str, str]]:
    """``(node id, checkpoint_dir as typed)`` of every node of ``graph`` that starts a fresh run into a folder.

    Args:
        graph: a pipeline.
    """
    if restart_count() > 0:  # an elastic restart resumes (`elastic_resume_choice`): nothing is written over
        return []
    found = []
    for node in graph.nodes.values():
        directory, resume = node.config.get(CHECKPOINT_DIR), node.config.get(RESUME_FROM, "")
        if isinstance(directory, str) and directory.strip() and not str(resume or "").strip():
            found.append((node.id, directory))
    return found


def used_checkpoint_folders(graph: Graph) -> list[UsedCheckpointFolder]:
    """Every fresh run of ``graph`` whose folder already holds checkpoint files.

    A ``tensorboard_dir`` inside the checkpoint folder is part of the run there (moved with it on Overwrite).

    Args:
        graph: a validated pipeline.
    """
    found = []
    for node_id, directory in fresh_runs(graph):
        tensorboard = graph.nodes[node_id].config.get(TENSORBOARD_DIR)
        also = (tensorboard,) if isinstance(tensorboard, str) else ()
        if used := inspect_folder(node_id, directory, also):
            found.append(used)
    return found


def fresh_run_warning(used: UsedCheckpointFolder) -> str:
    """The one-line warning ``mif run`` prints before a fresh run into ``used``.

    Args:
        used: what `used_checkpoint_folders` found.
    """
    epoch = f"last epoch {used.last_epoch}" if used.last_epoch is not None else "epoch unknown"
    return (
        f"warning: checkpoint folder '{used.directory}' already holds {len(used.files)} checkpoint file(s) "
        f"of an earlier run ({epoch}); this fresh run writes over them. To continue that run instead: "
        f"--set {used.node_id}.{RESUME_FROM}=last"
    )


def resuming(graph: Graph, used: list[UsedCheckpointFolder], registry: NodeRegistry) -> Graph:
    """A copy of ``graph`` whose nodes writing into ``used`` folders resume from their newest checkpoint.

    Args:
        graph: the pipeline.
        used: what `used_checkpoint_folders` found.
        registry: node types (to copy the graph).
    """
    copy = graph_from_dict(graph_to_dict(graph), registry, source=graph.name)
    for folder in used:
        copy.nodes[folder.node_id].config[RESUME_FROM] = "last"
    return copy
