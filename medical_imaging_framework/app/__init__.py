"""The desktop editor (PySide6 + NodeGraphQt + pyqtgraph); the only package that imports Qt.

Sub-packages, top to bottom: ``window`` (the main window and its layout) uses ``canvas`` (the node graph
view of the core document), ``document`` (the open file), ``running`` (runs, their modes, the Report) and
``widgets`` (dialogs and panels); all of them use ``qt`` (workarounds for Qt and NodeGraphQt). `launch`
(``app.launch``) opens the window. Importing this package imports nothing.
"""

from __future__ import annotations
