"""Importing NodeGraphQt without setuptools' distutils shim: a cut in the editor's start (issue 12).

NodeGraphQt imports ``distutils.version`` (for ``LooseVersion``). With setuptools installed, its
``_distutils_hack`` meta-path shim answers that import by importing the whole of setuptools, about a
third of a second before the window can paint. Python 3.11 still ships ``distutils``, so `launch` imports
NodeGraphQt with the shim set aside for that one import and puts it back at once; a normal run imports
neither setuptools nor distutils afterwards. On Python 3.12+ (no ``distutils`` in the standard library),
or without the shim, NodeGraphQt is imported as usual.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

SHIM_MODULE = "_distutils_hack"  # setuptools' module; its .pth file installs the shim at interpreter start


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


def import_node_graph() -> None:
    """Import NodeGraphQt (and with it Qt.py) the fast way; nothing happens when it is already imported."""
    if "NodeGraphQt" in sys.modules:
        return
    with standard_library_distutils():
        importlib.import_module("NodeGraphQt")
