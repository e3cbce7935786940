"""Exit codes and the usage error shared by `cli` (the parser) and `cli_commands` (the commands).

Its own module so that `cli_commands` never imports `cli` (no import cycle; see the layers contract).
"""

from __future__ import annotations

from medical_imaging_framework.run.status import RunStatus, exit_code

# the codes of `run.status` (the one map between a run's status and an exit code), named for the commands
EXIT_OK = exit_code(RunStatus.DONE)
EXIT_FAILED = exit_code(RunStatus.FAILED)
EXIT_INVALID = exit_code(RunStatus.INVALID)
EXIT_INTERRUPTED = exit_code(RunStatus.CANCELLED)
EXIT_READER_GONE = 141  # the reader of stdout left (`mif runs | head -1`): what the shell reports for git then


class UsageError(Exception):
    """Bad arguments or an invalid pipeline: printed as one message, exit code 2."""
