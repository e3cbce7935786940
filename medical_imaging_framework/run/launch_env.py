"""What a launched `mif run` process is told: torchrun's variables, the hidden ``--validated`` flag, ``--no-cache``.

Apart from `run.launch` (which imports subprocess and ctypes) so that building `mif`'s argument parser --
all `mif --help` does -- imports nothing more than this, nor do the node specs (the editor's first paint).
"""

from __future__ import annotations

import os

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# Hidden `mif run` flag: whoever launched this process validated the pipeline already (validation once per launch).
VALIDATED_FLAG = "--validated"
NO_CACHE_FLAG = "--no-cache"  # `mif run`'s switch; the editor passes it to a child run when Reuse results is off


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher) set the variables of a process group."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def restart_count() -> int:
    """How many times torchrun restarted the worker group (``TORCHELASTIC_RESTART_COUNT``; 0 otherwise)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


__all__ = ["NO_CACHE_FLAG", "TORCHRUN_VARIABLES", "VALIDATED_FLAG", "launched_by_torchrun", "restart_count"]
