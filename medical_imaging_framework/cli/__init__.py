"""`mif`: the command line (parser, commands, exit codes). Thin: parse, call, print.

Importing it is cheap (no torch, no Qt): the commands import what they need when they run.
"""

from __future__ import annotations

from medical_imaging_framework.cli.main import main

__all__ = ["main"]
