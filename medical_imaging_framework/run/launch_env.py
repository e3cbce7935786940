"""What a launched `mif run` process is told: torchrun's variables and the hidden ``--validated`` flag.

Apart from `run.launch` (which imports subprocess and ctypes) so that building `mif`'s argument parser --
all `mif --help` does -- imports nothing more than this.
"""

from __future__ import annotations

import os

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
# Hidden `mif run` flag: whoever launched this process validated the pipeline already (validation once per launch).
VALIDATED_FLAG = "--validated"


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher) set the variables of a process group."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


__all__ = ["TORCHRUN_VARIABLES", "VALIDATED_FLAG", "launched_by_torchrun"]
