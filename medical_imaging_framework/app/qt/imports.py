"""Importing NodeGraphQt the fast way: two cuts in the editor's start (issues 12 and 23).

1. NodeGraphQt imports ``distutils.version`` (for ``LooseVersion``). With setuptools installed, its
   ``_distutils_hack`` meta-path shim answers that import by importing the whole of setuptools, about a third
   of a second before the window can paint. Python 3.11 still ships ``distutils``, so NodeGraphQt is imported
   with the shim set aside for that one import, and the shim is put back at once. On Python 3.12+ (no
   ``distutils`` in the standard library), or without the shim, nothing is set aside.
2. NodeGraphQt imports Qt through Qt.py, whose import copies about 3,000 members of 14 PySide6 modules into
   its own namespaces; every copied class makes PySide6 build the type and its enums (0.1–0.2 s of CPU,
   several times that in wall time on a busy machine). Qt.py's documented ``QtSiteConfig`` hook narrows it to
   the four modules and the one ``QtCompat`` class NodeGraphQt uses, and each of those modules resolves the
   other members from PySide6 on first use (a module ``__getattr__``, PEP 562). Qt.py's Qt5-compatible
   renames (``QtWidgets.QAction``, ``QtWidgets.QUndoCommand``, ...) stay as Qt.py sets them.

Every import of NodeGraphQt in the editor goes through `import_node_graph` (``app.canvas`` calls it), so the
editor and its tests run on the same Qt.py.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SHIM_MODULE = "_distutils_hack"  # setuptools' module; its .pth file installs the shim at interpreter start
QT_MODULES_USED = ("QtCore", "QtGui", "QtWidgets", "QtSvg")  # the Qt.py submodules NodeGraphQt imports
QT_COMPAT_USED = ("QHeaderView",)  # the QtCompat classes NodeGraphQt calls


@contextmanager
def standard_library_distutils() -> Iterator[None]:
    """Within the block, ``import distutils`` loads the standard library's (when there is one), not setuptools'."""
    shim = sys.modules.get(SHIM_MODULE)
    finder = getattr(shim, "DISTUTILS_FINDER", None)
    if sys.version_info >= (3, 12) or "distutils" in sys.modules or finder not in sys.meta_path:
        yield
        return
    sys.meta_path.remove(finder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "distutils is deprecated": NodeGraphQt's choice
            yield
    finally:
        if finder not in sys.meta_path:
            sys.meta_path.insert(0, finder)


def _keep_used_members(members: dict[str, Any]) -> None:
    """Qt.py's ``update_members``: no member is copied up front, and only the modules NodeGraphQt uses load."""
    for name in list(members):
        if name in QT_MODULES_USED:
            members[name] = []
        else:
            del members[name]


def _keep_used_compatibility(members: dict[str, dict[str, Any]]) -> None:
    """Qt.py's ``update_compatibility_members``: only the ``QtCompat`` classes NodeGraphQt calls."""
    for binding in members.values():
        for classname in list(binding):
            if classname not in QT_COMPAT_USED:
                del binding[classname]


@contextmanager
def narrowed_qt_py() -> Iterator[None]:
    """Within the block, ``import Qt`` (Qt.py) is configured by `_keep_used_members` (see the module's doc)."""
    config = types.ModuleType("QtSiteConfig", "mif: Qt.py narrowed to what NodeGraphQt uses")
    config.update_members = _keep_used_members  # type: ignore[attr-defined]
    config.update_compatibility_members = _keep_used_compatibility  # type: ignore[attr-defined]
    previous = sys.modules.get("QtSiteConfig")
    sys.modules["QtSiteConfig"] = config
    try:
        yield
    finally:
        if previous is None:
            sys.modules.pop("QtSiteConfig", None)
        else:
            sys.modules["QtSiteConfig"] = previous


def _import_qt_py() -> None:
    if "Qt" in sys.modules:  # imported already (by someone else, the usual way): nothing to narrow
        return
    with narrowed_qt_py():
        qt = importlib.import_module("Qt")
    for name in QT_MODULES_USED:
        ours, binding = getattr(qt, name, None), getattr(qt, "_" + name, None)
        if isinstance(ours, types.ModuleType) and binding is not None:
            ours.__getattr__ = functools.partial(getattr, binding)  # type: ignore[attr-defined]


def import_node_graph() -> None:
    """Import NodeGraphQt (and with it Qt.py) the fast way; nothing happens when it is already imported."""
    if "NodeGraphQt" in sys.modules:
        return
    _import_qt_py()
    with standard_library_distutils():
        importlib.import_module("NodeGraphQt")
