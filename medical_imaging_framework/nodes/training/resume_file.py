"""Whether the Trainer's ``resume_from`` names a checkpoint file that is there: asked by its check (``mif validate``,
the editor) and again when it runs. Torch-free, so the spec module can import it."""

from __future__ import annotations

import os

from medical_imaging_framework.core.params import path_problem, path_unreachable


def resume_file_problem(choice: str) -> str:
    """Why ``resume_from`` cannot be resumed from, or "": a named file must exist and be a file (``last`` and
    ``auto`` look in checkpoint_dir when the run starts; a malformed path is the parameter's own problem).

    Args:
        choice: ``resume_from`` as typed, stripped.
    """
    if choice in ("", "last", "auto") or path_problem(choice):
        return ""
    path = os.path.expanduser(choice)
    if os.path.isdir(path):
        return (f"'{choice}' is a folder, not a checkpoint file: name a .pt file in it, or use 'last' (the newest "
                "checkpoint of checkpoint_dir)")
    reason = path_unreachable(path)
    if reason == "does not exist":
        where = "" if os.path.isabs(path) else f" in {os.getcwd()}"
        return f"checkpoint file '{choice}' does not exist{where}"
    return f"checkpoint file '{choice}' {reason}" if reason else ""
