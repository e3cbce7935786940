"""Whether Qt is installed and can open a window here, checked before `mif gui` loads Qt (whose failure is
an abort)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from importlib.util import find_spec

GUI_PACKAGES = ("PySide6", "NodeGraphQt", "pyqtgraph")  # the `gui` extra (pyproject.toml)
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no window can open (a sentence with what to do), or None when a display is there.

    Args:
        environ: the environment (``os.environ`` by default).
        platform: ``sys.platform`` by default; only Linux and other X11/Wayland systems need a display.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin")):
        return None
    requested = environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if requested in HEADLESS_PLATFORMS:
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "mif gui needs a display, and none was found (DISPLAY and WAYLAND_DISPLAY are not set). "
        "On a server, train headless with `mif run PIPELINE.json`, connect with `ssh -X`, "
        "or start a virtual display (xvfb-run mif gui)."
    )


def missing_gui_package() -> str | None:
    """What to install when a package of the ``gui`` extra is missing (one sentence), or None when all are there."""
    for name in GUI_PACKAGES:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):  # a broken install, or a module whose __spec__ is unset
            found = False
        if not found:
            return f"mif gui needs {name}, which is not installed: pip install 'medical_imaging_framework[gui]'"
    return None
