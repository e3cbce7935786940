"""The canvas: a NodeGraphQt view that follows the core document and turns user actions into its commands."""

from __future__ import annotations

from medical_imaging_framework.app.qt.imports import import_node_graph

import_node_graph()  # before any module of this package imports NodeGraphQt (see app/qt/imports.py)
