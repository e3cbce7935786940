"""The editor's remembered settings (QSettings): the last folder used, the recent pipeline files, where runs go
(Run ▸ Run Where, Reuse Results) and the window's size, place and dock layout.

Tests point QSettings at a temporary folder (`QSettings.setPath`) so they never touch the user's settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "medical-imaging-framework"
APPLICATION = "mif-editor"
MAX_RECENT = 10
LAST_FOLDER_KEY = "files/last_folder"
RECENT_KEY = "files/recent"
RUN_WHERE_KEY = "run/where"
REUSE_KEY = "run/reuse_results"
GEOMETRY_KEY = "window/geometry"
LAYOUT_KEY = "window/state"


def settings() -> QSettings:
    """The editor's settings store (an INI file in the user's configuration folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def last_folder() -> Path:
    """The folder the user last opened or saved a pipeline in; the working folder when none (or gone)."""
    stored = settings().value(LAST_FOLDER_KEY, "")
    folder = Path(str(stored)) if stored else None
    return folder if folder is not None and folder.is_dir() else Path.cwd()


def remember_folder(folder: str | Path) -> None:
    """Make ``folder`` the one Open and Save As start in next time.

    Args:
        folder: a folder the user chose a file in.
    """
    settings().setValue(LAST_FOLDER_KEY, str(Path(folder).resolve()))


def recent_files() -> list[Path]:
    """The recently opened or saved pipeline files, newest first (at most `MAX_RECENT`)."""
    stored = settings().value(RECENT_KEY, [])
    if isinstance(stored, str):  # QSettings gives a one-item list back as a plain string
        stored = [stored]
    return [Path(str(item)) for item in (stored or []) if str(item)][:MAX_RECENT]


def add_recent(path: str | Path) -> list[Path]:
    """Put ``path`` first in the recent files (once), keeping the newest `MAX_RECENT`; returns the list.

    Args:
        path: a pipeline file just opened or saved.
    """
    resolved = Path(path).resolve()
    files = [resolved, *[item for item in recent_files() if item != resolved]][:MAX_RECENT]
    settings().setValue(RECENT_KEY, [str(item) for item in files])
    return files


def clear_recent() -> None:
    """Forget the recent files."""
    settings().remove(RECENT_KEY)


def remembered(key: str) -> object:
    """What was stored under ``key`` (None when nothing was).

    Args:
        key: a settings key, e.g. `RUN_WHERE_KEY`.
    """
    return settings().value(key)


def remember(key: str, value: object) -> None:
    """Store ``value`` under ``key`` for the next start.

    Args:
        key: a settings key.
        value: a string, number or QByteArray.
    """
    settings().setValue(key, value)
