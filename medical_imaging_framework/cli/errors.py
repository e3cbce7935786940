"""Exit codes and the usage error shared by `cli` (the parser) and `cli_commands` (the commands).

Its own module so that `cli_commands` never imports `cli` (no import cycle; see the layers contract).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or an invalid pipeline: printed as one message, exit code 2."""
