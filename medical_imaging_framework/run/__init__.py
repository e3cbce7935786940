"""Executing a pipeline: control types, events and their JSON-lines stream, the executor and the run session.

Torch- and Qt-free. Training and checkpoints build on it, never the other way. Importing the package imports
nothing else (``mif --help`` stays instant): its names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medical_imaging_framework.run.control import Cancelled, CancelToken, NodeError
    from medical_imaging_framework.run.events import Event, format_event
    from medical_imaging_framework.run.executor import Executor, NodeContext, RunResult
    from medical_imaging_framework.run.session import RunSession
    from medical_imaging_framework.run.status import RunStatus

_HOMES = {
    "Cancelled": "control", "CancelToken": "control", "NodeError": "control",
    "Event": "events", "format_event": "events",
    "Executor": "executor", "NodeContext": "executor", "RunResult": "executor",
    "RunSession": "session", "RunStatus": "status",
}

__all__ = [
    "CancelToken", "Cancelled", "Event", "Executor", "NodeContext", "NodeError", "RunResult", "RunSession", "RunStatus",
    "format_event",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
