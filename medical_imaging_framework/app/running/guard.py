"""Before a run: ask when a fresh run would write into a checkpoint folder another run already used.

Choices: **Resume from Last** (this run continues the newest checkpoint there: ``resume_from=last`` for
this run only, the pipeline is not changed), **Overwrite** (the earlier run's files, its checkpoints with its
``metrics.csv``, evaluation results, report and TensorBoard folder inside it, are moved into
``previous_runs/<run id>/`` inside the folder, so nothing is lost and nothing of it mixes with the new run), or
**Cancel**.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget

from medical_imaging_framework.checkpoints.files import FINAL_NAME
from medical_imaging_framework.checkpoints.folder import (
    PREVIOUS_RUNS,
    UsedCheckpointFolder,
    set_aside,
)
from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.nodes.training.folders import resuming, used_checkpoint_folders

PROMPT_NAME = "checkpoint_folder_prompt"


class Choice(Enum):
    """The user's answer."""

    RESUME = "resume"
    OVERWRITE = "overwrite"
    CANCEL = "cancel"


def prompt_text(used: list[UsedCheckpointFolder]) -> str:
    """What the question says: each folder, its files and last epoch, and what each button does.

    Args:
        used: the folders found.
    """
    lines = []
    for folder in used:
        epoch = f"up to epoch {folder.last_epoch}" if folder.last_epoch is not None else "epoch unknown"
        runs = f", run {', '.join(folder.run_ids)}" if folder.run_ids else ""
        others = f"; with {', '.join(path.name for path in folder.run_files)}" if folder.run_files else ""
        lines.append(f"• '{folder.directory}' ({folder.node_id}): {len(folder.files)} checkpoint file(s), "
                     f"{epoch}{runs}{others}")
    return (
        "This run starts at epoch 1, but its checkpoint folder already holds the files of another run:\n"
        + "\n".join(lines)
        + "\n\nResume from Last: continue that run from its newest checkpoint.\n"
        f"Overwrite: move that run's files into '{PREVIOUS_RUNS}/' inside the folder, then start afresh.\n"
        "Cancel: change nothing."
    )


def finished(graph: Graph, used: UsedCheckpointFolder) -> bool:
    """Whether the run in ``used`` ended (it wrote ``final_model.pt``) with at least the epochs this run asks for:
    resuming it would train nothing.

    Args:
        graph: the pipeline about to run.
        used: one folder `used_checkpoint_folders` found.
    """
    wanted = graph.nodes[used.node_id].config.get("num_epochs")
    ended = any(path.name == FINAL_NAME for path in used.files)
    return ended and used.last_epoch is not None and isinstance(wanted, int) and used.last_epoch >= wanted


def ask(parent: QWidget, used: list[UsedCheckpointFolder], complete: bool = False) -> Choice:
    """Show the question (modal) and return the answer.

    Args:
        parent: the window.
        used: the folders found.
        complete: every run found ended with the epochs this run asks for: Overwrite is the default button
            (Return), since resuming would train nothing; otherwise Resume from Last is.
    """
    text = prompt_text(used)
    if complete:
        text += "\n\nThat run is complete (it saved its final model): resuming it would train nothing."
    box = QMessageBox(QMessageBox.Icon.Warning, "Checkpoint folder already used", text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(PROMPT_NAME)
    resume = box.addButton("Resume from Last", QMessageBox.ButtonRole.AcceptRole)
    overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(overwrite if complete else resume)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    if clicked is resume:
        return Choice.RESUME
    if clicked is overwrite:
        return Choice.OVERWRITE
    return Choice.CANCEL


def graph_to_run(parent: QWidget, graph: Graph, registry: NodeRegistry,
                 reused: Collection[str] = ()) -> tuple[Graph | None, str]:
    """The graph to run after asking about used checkpoint folders, and a note for the status bar.

    Args:
        parent: the window (parent of the question and of error boxes).
        graph: the validated pipeline.
        registry: node types (to copy the graph for a resumed run).
        reused: the nodes the run will reuse (`RunController.reused_nodes`): a reused Trainer writes nothing.

    Returns:
        ``(graph, note)``; graph is None when the user cancelled or a file could not be moved.
    """
    used = [folder for folder in used_checkpoint_folders(graph) if folder.node_id not in reused]
    if not used:
        return graph, ""
    choice = ask(parent, used, complete=all(finished(graph, folder) for folder in used))
    if choice is Choice.CANCEL:
        return None, "Not run: the checkpoint folder holds another run's files"
    if choice is Choice.RESUME:
        folders = ", ".join(f.directory for f in used)
        return resuming(graph, used, registry), f"Resuming from the newest checkpoint in {folders}"
    moved = []
    for folder in used:
        try:
            moved.append(str(set_aside(folder)))
        except OSError as error:
            QMessageBox.critical(parent, "Cannot move checkpoints",
                                 f"Could not move the checkpoint files of '{folder.directory}': {error}")
            return None, f"Not run: could not move the files in {folder.directory}"
    return graph, "Earlier checkpoints moved to " + ", ".join(moved)
