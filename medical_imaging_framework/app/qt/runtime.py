"""Checks of the Qt binding the editor runs on, made before a window opens.

PySide6 6.12.0 drops one reference to ``True`` on every ``Signal.emit()`` made from Python (the
emit's return value is handed back without the reference it owns). The editor emits a signal for
every run event and NodeGraphQt for every canvas change, so after as many emits as ``True`` has
references (about 20,000 once torch is loaded) the interpreter aborts on whichever thread drops the
last one, usually the garbage collector on the GUI thread. That is the "Fatal Python error: Aborted"
of issue 8. 6.10 and 6.11 are not affected; the pin in ``constraints.txt`` avoids 6.12.0, and this
check refuses any other binding with the same fault instead of crashing later with the user's work.
"""

from __future__ import annotations

import ctypes
import sys

# Emits per check: enough to see a per-emit fault clearly, few enough to be harmless where one exists.
PROBE_EMITS = 16


def signal_reference_fault() -> str | None:
    """A sentence describing the binding's reference-count fault on ``Signal.emit``, or None when sound."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal(object)

    received: list[object] = []
    probe = _Probe()
    probe.fired.connect(received.append)
    singletons = (None, True, False)
    before = [sys.getrefcount(value) for value in singletons]
    for number in range(PROBE_EMITS):
        probe.fired.emit(number)
    after = [sys.getrefcount(value) for value in singletons]
    received.clear()
    probe.deleteLater()
    drift: dict[str, int] = {}
    for value, before_count, after_count in zip(singletons, before, after, strict=True):
        change = after_count - before_count
        if abs(change) >= PROBE_EMITS // 2:
            drift[repr(value)] = change
            # Give back what the probe's own emits took, so that the check itself cannot end in
            # "deallocating True" when the process exits.
            for _ in range(-change):
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(value))
    if not drift:
        return None
    changes = ", ".join(f"{name} by {count:+d}" for name, count in drift.items())
    return (
        f"PySide6 {pyside_version} miscounts references on every Signal.emit ({PROBE_EMITS} emits changed the "
        f"reference count of {changes}); the editor would abort after a few thousand signals and lose unsaved "
        "work. Install another version, e.g. pip install 'PySide6-Essentials==6.11.3' 'shiboken6==6.11.3'."
    )
