"""Driven by `test_recovery`: an editor that opens a pipeline, changes the Trainer's ``num_epochs`` to 7 and,
once the autosaved copy is on disk, prints ``autosaved <file>`` and waits to be killed (SIGKILL).

Usage: ``python tests/support/recovery_script.py PIPELINE.json ORGANIZATION`` with ``QT_QPA_PLATFORM=offscreen``
and ``XDG_DATA_HOME`` set (ORGANIZATION: the settings' organization the test's own editor uses).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.core import NodeRegistry

EDITED_EPOCHS = 7


def main(pipeline: str, organization: str) -> int:
    app = QApplication(sys.argv[:1])
    app_settings.ORGANIZATION = organization
    from medical_imaging_framework.app.window.main_window import MainWindow

    window = MainWindow(pipeline, registry=NodeRegistry())
    window.show()
    config = dict(window.canvas.graph.nodes["trainer"].config, num_epochs=EDITED_EPOCHS)
    window.canvas.set_config("trainer", config)  # what the parameter dialog's OK does

    def report_when_saved() -> None:
        if window.autosave.file.is_file():
            print(f"autosaved {window.autosave.file}", flush=True)
        else:
            QTimer.singleShot(50, report_when_saved)

    report_when_saved()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
