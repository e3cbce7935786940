"""The main window's run side: Run validates and starts the pipeline, Stop ends it, each event goes to the log,
the plot, the checkpoints table, the canvas and the image view (a mixin of `MainWindow`, kept apart for size)."""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.app.running.modes import run_mode_text
from medical_imaging_framework.core import Problem
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.events import (
    CheckpointSaved,
    CheckpointsConfigured,
    EpochEnded,
    Event,
    NodeFailed,
    Progress,
    RunFinished,
    SampleAvailable,
    format_event,
)
from medical_imaging_framework.run.executor import RunResult

EMPTY_TEXT = "Nothing to run: the pipeline is empty (add nodes from the palette, or open File > Examples)"
FINISH_TEXT = {"done": "Run finished", "failed": "Run failed", "cancelled": "Run stopped", "invalid": "Not run"}


class RunningMixin:
    """`MainWindow`'s running and image-view methods; they use the window's panels, canvas and runner."""

    # the MainWindow attributes these methods use (set by MainWindow.__init__)
    canvas: Any
    runner: Any
    queued_run: Any
    log: Any
    loss_plot: Any
    checkpoints: Any
    progress: Any
    data_outputs: Any
    image_viewer: Any
    image_dock: Any
    live_validation: Any
    action_run: Any
    action_stop: Any
    statusBar: Any
    restore_focus: Any
    _sync_undo_actions: Any

    def report_problems(self, problems: list[Problem]) -> None:
        """List ``problems`` in the log and outline the nodes concerned in red."""
        self.log.append(f"{self.canvas.graph.name}: {len(problems)} problem(s):")
        for problem in problems:
            self.log.append(f"  {problem}")
            if problem.node_id and self.canvas.state_visible(problem.node_id) != "invalid":
                self.canvas.set_state(problem.node_id, "invalid", str(problem).split(": ", 1)[-1])
        self.statusBar().showMessage(f"{len(problems)} problem(s): see the log; nothing was run", 10000)

    def run_pipeline(self) -> bool:
        """Validate, then run in the background; False when nothing was started.

        While PyTorch still loads in the background the run is held (`QueuedRun`) and this method is called
        again once it has loaded; True then means "will start".
        """
        if self.runner.running or self.queued_run.active:
            return False
        if not self.canvas.graph.nodes:
            self.statusBar().showMessage(EMPTY_TEXT, 10000)
            return False
        problems = self.canvas.graph.validate()
        if problems:
            self.canvas.clear_states()
            self.report_problems(problems)
            return False
        if self.queued_run.queue():
            return True
        from medical_imaging_framework.app.running.guard import graph_to_run  # imports torch: once it has loaded

        graph, note = graph_to_run(self, self.canvas.graph, self.registry, self.runner.reused_nodes(self.canvas.graph))
        if note:  # a question was asked: the keyboard goes back to the canvas
            self.restore_focus()
        if graph is None:  # Cancel changes nothing: the last run's node states stay
            self.statusBar().showMessage(note, 10000)
            return False
        self.canvas.clear_states()
        self.loss_plot.reset()
        self.checkpoints.reset()
        self.data_outputs.reset()
        for node_id in self.canvas.graph.nodes:
            self.canvas.set_state(node_id, "pending")
        self.progress.show_status("starting…")
        self.log.begin_run(run_mode_text(self.runner))
        self.runner.start(graph)
        self.action_run.setEnabled(False)
        self.action_stop.setEnabled(True)
        self._sync_undo_actions()
        self.statusBar().showMessage(f"Running… ({note})" if note else "Running…")
        return True

    def stop_run(self) -> None:
        """Stop the run after the current batch (or drop a run still waiting for PyTorch)."""
        self.queued_run.cancel(say_so=True)
        if self.runner.running:
            self.runner.stop()
            self.statusBar().showMessage("Stopping after the current batch…")

    def on_event(self, event: Event) -> None:
        """Show one run event (GUI thread only)."""
        line = format_event(event)
        if line is not None:
            self.log.append(line)
        if isinstance(event, Progress):
            self.progress.show_progress(event)
        if isinstance(event, EpochEnded):
            self.loss_plot.add_epoch(event)
        elif isinstance(event, CheckpointSaved):
            self.checkpoints.add_checkpoint(event)
        elif isinstance(event, CheckpointsConfigured):
            self.loss_plot.follow(event)
        self.canvas.show_event(event)  # node states on the canvas
        if isinstance(event, NodeFailed):
            failed = f"Node '{event.node_id}' failed: {event.message}"
            self.statusBar().showMessage(printable(failed, keep_newlines=True))
        elif isinstance(event, SampleAvailable):
            self.image_viewer.show_sample(event.image, event.label, event.prediction, f"sample from {event.node_id}",
                                          class_names=event.class_names)
            self.image_dock.raise_()
        elif isinstance(event, RunFinished):
            self.progress.show_status(FINISH_TEXT.get(event.status, event.status).lower(), event.status == "done")

    def _on_run_finished(self, result: RunResult | None) -> None:
        self.action_run.setEnabled(True)
        self.action_stop.setEnabled(False)
        self._sync_undo_actions()
        status = result.status if result else "failed"
        self.data_outputs.run_finished(self.runner.session, result)
        if status == "done":
            self.loss_plot.run_ended()  # a resume with no epoch left still shows its training's curve
        if result is not None and result.problems:
            self.report_problems(result.problems)
        for node_id in self.canvas.graph.nodes:
            shown = self.canvas.state_visible(node_id)
            if shown == "running" and status == "cancelled":  # stopped by the user, where it was
                self.canvas.set_state(node_id, "stopped", self.canvas.state_detail(node_id))
            elif shown in ("pending", "running"):
                self.canvas.set_state(node_id, "")
        self.live_validation.schedule()  # edits made during the run are checked now
        message = FINISH_TEXT.get(status, status)
        if result is not None and result.failed_node:
            message += f": node '{result.failed_node}' failed: {result.error}"
        elif result is not None and result.error:
            message += f": {result.error}"
        self.statusBar().showMessage(printable(message, keep_newlines=True), 15000)

    def wait_for_run(self) -> None:
        """Block until a run thread (if any) has ended."""
        self.runner.wait()

    # -- image view ---------------------------------------------------------------------------
    def _on_selection_changed(self, selected: list[Any], deselected: list[Any]) -> None:
        for canvas_node in selected:
            if self.canvas.spec_of(canvas_node) is not None and self.show_node_sample(canvas_node.name()):
                return

    def show_node_sample(self, node_id: str, index: int = 0) -> bool:
        """Show item ``index`` of the Dataset (or a DataLoader's dataset) node ``node_id`` produced in the last run.

        After a run in child processes the node's outputs are rebuilt here first (`DataOutputs`): True then
        means the sample follows.

        Args:
            node_id: a data node of the last run.
            index: the dataset item.
        """
        node = self.canvas.graph.nodes.get(node_id)
        sample = self.data_outputs.sample(node, index) if node is not None else None
        if sample is None:
            return node is not None and self.data_outputs.rebuild(node_id)
        image, label, title = sample
        self.image_viewer.show_sample(image, label, None, title)
        self.image_dock.raise_()
        return True
