"""Executing a pipeline: control types, events and their JSON-lines stream, the executor and the run session.

Torch- and Qt-free: importing it is cheap. Training and checkpoints build on it, never the other way.
"""

from __future__ import annotations

from medical_imaging_framework.run.control import Cancelled, CancelToken, NodeError
from medical_imaging_framework.run.events import Event, format_event
from medical_imaging_framework.run.executor import Executor, NodeContext, RunResult

__all__ = ["CancelToken", "Cancelled", "Event", "Executor", "NodeContext", "NodeError", "RunResult", "format_event"]
