"""Permission changes in the middle of real (tiniest) runs, for `test_disk_faults`.

Run as ``python -m tests.support.permission_runs BASE OUT.json`` by a process without root's
``CAP_DAC_OVERRIDE``/``CAP_DAC_READ_SEARCH`` (``setpriv``), so that folder permissions really apply. Each
scenario trains 4 epochs saving every epoch, changes a permission when epoch 2 ends (before its saves), and
restores it when epoch 3 ends. Writes a JSON dict: scenario -> status, error and log lines.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.events import EpochEnded, Event
from tests.support.tiny import lines_of, run_events, tiniest_graph

# scenario -> (folder to chmod relative to the checkpoint folder, mode while broken, Trainer parameters)
SCENARIOS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "parent_not_searchable": ("..", 0o000, {}),
    "parent_not_searchable_stop": ("..", 0o000, {"stop_on_checkpoint_error": True}),
    "folder_read_only": (".", 0o555, {}),
    "folder_not_listable": (".", 0o300, {"keep_last_n": 1}),
}


def override_is_dropped(base: Path) -> bool:
    """Whether this process is really refused by a mode-000 folder (no root override)."""
    probe = base / "probe"
    probe.mkdir()
    probe.chmod(0o000)
    try:
        os.listdir(probe)
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
    return False


def run_scenario(registry: NodeRegistry, base: Path, name: str) -> dict[str, Any]:
    relative, mode, trainer = SCENARIOS[name]
    folder = base / name / "ck"
    folder.mkdir(parents=True)
    target = (folder / relative).resolve()

    def change_permissions(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:
            target.chmod(mode)
        if isinstance(event, EpochEnded) and event.epoch == 3:
            target.chmod(0o755)

    try:
        result, events = run_events(tiniest_graph(registry, folder, num_epochs=4, **trainer), change_permissions)
    finally:
        target.chmod(0o755)
    return {"status": result.status, "error": result.error, "lines": lines_of(events), "folder": str(folder)}


def main(base: Path, out: Path) -> None:
    report: dict[str, Any] = {"override_dropped": override_is_dropped(base)}
    if report["override_dropped"]:
        registry = NodeRegistry()
        for name in SCENARIOS:
            report[name] = run_scenario(registry, base, name)
    out.write_text(json.dumps(report), encoding="utf-8")
    gc.freeze()  # as `mif` does at exit: Python's last collection of the torch and MONAI heap took 2-3 s


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
