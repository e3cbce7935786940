"""Running from the editor: the run controller (thread or child processes, through `run.RunSession`), the
Run Where modes, the used-folder question, the torch preload and the Report action."""

from __future__ import annotations
