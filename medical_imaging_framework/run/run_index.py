"""The runs of a working folder: an index of their records (``.mif/runs.json``), listing, lookup and the trash.

The index is a cache of where the ``run.json`` files are (`run.records`): it is updated at each run and rebuilt
by scanning the working folder when it is missing, damaged, or names a file that has gone (a moved folder). The
records are the truth. Removing a run moves its folder into ``.mif/trash/<run id>-<time>/``; nothing is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.run.records import RECORD_NAME, RecordError, RunRecord, read_record
from medical_imaging_framework.run.run_liveness import mark_killed

STATE_FOLDER = ".mif"
INDEX_NAME = "runs.json"
TRASH_NAME = "trash"
INDEX_FORMAT = "mif-runs-index"
SCAN_DEPTH = 4  # working/experiments/name/checkpoints/run.json; deeper would make a scan of a home folder slow


class RunLookupError(LookupError):
    """No run (or more than one) answers to an id in a working folder; the message names both."""


def index_path(working_folder: str | os.PathLike[str]) -> Path:
    """``<working folder>/.mif/runs.json``."""
    return Path(working_folder) / STATE_FOLDER / INDEX_NAME


def is_record_name(name: str) -> bool:
    """``run.json``, or ``run-<id>.json`` (the record of an earlier run kept beside a newer one)."""
    return name == RECORD_NAME or (name.startswith("run-") and name.endswith(".json"))


def scan_records(working_folder: str | os.PathLike[str]) -> list[Path]:
    """Every record file under ``working_folder`` (hidden folders, the trash among them, are skipped).

    Args:
        working_folder: the folder to search, ``SCAN_DEPTH`` levels deep.
    """
    root = Path(working_folder)
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        depth = len(Path(folder).relative_to(root).parts)
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and depth < SCAN_DEPTH)
        found += [Path(folder) / name for name in sorted(files) if is_record_name(name)]
    return found


def _read_index(working_folder: Path) -> list[Path] | None:
    """The record files the index names, or None when it is missing, damaged or names a file that has gone."""
    try:
        data = json.loads(index_path(working_folder).read_text(encoding="utf-8"))
        entries = data["runs"] if data.get("format") == INDEX_FORMAT else None
        paths = [working_folder / str(entry["path"]) for entry in entries] if isinstance(entries, list) else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if paths is None or not all(path.is_file() for path in paths):
        return None
    return paths


def _write_index(working_folder: Path, paths: list[Path]) -> None:
    entries = []
    for path in dict.fromkeys(paths):
        try:
            shown = os.path.relpath(path, working_folder)
        except ValueError:  # another drive (Windows)
            shown = str(path)
        entries.append({"path": shown})
    try:
        (working_folder / STATE_FOLDER).mkdir(parents=True, exist_ok=True)
        write_atomically(index_path(working_folder), json.dumps({"format": INDEX_FORMAT, "version": 1,
                                                                  "runs": entries}, indent=1) + "\n")
    except OSError:
        pass  # a read-only working folder: the index is only a cache, the records are scanned again next time


def rebuild_index(working_folder: str | os.PathLike[str]) -> list[Path]:
    """Scan ``working_folder`` for records and write a fresh index; returns the record files.

    Args:
        working_folder: the folder whose runs are indexed.
    """
    root = Path(working_folder).resolve()
    paths = scan_records(root)
    _write_index(root, paths)
    return paths


def add_to_index(working_folder: str | os.PathLike[str], *record_files: str | os.PathLike[str]) -> None:
    """Name ``record_files`` in the index of ``working_folder`` (rebuilt first when it is not usable).

    Args:
        working_folder: the run's working folder.
        record_files: ``run.json`` files (anywhere, also outside the working folder).
    """
    root = Path(working_folder).resolve()
    paths = _read_index(root)
    if paths is None:
        paths = scan_records(root)
    _write_index(root, [*paths, *(Path(record_file).resolve() for record_file in record_files)])


def list_runs(working_folder: str | os.PathLike[str]) -> list[RunRecord]:
    """The runs of ``working_folder``, newest first (one per run id; unreadable records are skipped); one still
    ``running`` whose process is gone reads ``killed`` (`run.run_liveness`).

    Args:
        working_folder: the folder relative checkpoint folders resolve against.
    """
    root = Path(working_folder).resolve()
    paths = _read_index(root)
    if paths is None:
        paths = rebuild_index(root)
    records: dict[str, RunRecord] = {}
    for path in paths:
        try:
            record = read_record(path)
        except RecordError:
            continue
        records.setdefault(record.run_id, record)
    return sorted((mark_killed(record) for record in records.values()), key=lambda record: record.started, reverse=True)


def find_run(working_folder: str | os.PathLike[str], run_id: str) -> RunRecord:
    """The run whose id is or starts with ``run_id``; raises `RunLookupError` naming the id and the folder.

    Args:
        working_folder: where to look.
        run_id: a run id or an unambiguous prefix of one.
    """
    runs = list_runs(working_folder)
    exact = [record for record in runs if record.run_id == run_id]
    matches = exact or [record for record in runs if run_id and record.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(record.run_id for record in runs) or "none"
        raise RunLookupError(f"no run '{run_id}' in {Path(working_folder).resolve()} (runs: {known})")
    raise RunLookupError(f"'{run_id}' names {len(matches)} runs in {Path(working_folder).resolve()}: "
                         f"{', '.join(record.run_id for record in matches)}; give more of the id")


def trash_run(record: RunRecord, working_folder: str | os.PathLike[str]) -> Path:
    """Move the run's folder into ``<working folder>/.mif/trash/<run id>-<time>/`` (never deletes); returns it.

    The folder holding the record moves whole (checkpoints, ``metrics.csv``, evaluation files); the index is
    rebuilt without it.

    Args:
        record: a run read from disk (``record.path`` set).
        working_folder: the folder whose trash receives it.

    Raises:
        OSError: the folder could not be moved (the message names it).
    """
    if record.folder is None:
        raise RecordError(f"run {record.run_id}: its record was not read from a file, there is nothing to move")
    root = Path(working_folder).resolve()
    folder = record.folder.resolve()
    if folder == root or folder in root.parents:  # checkpoint_dir "." : the trash would be inside what it moves
        raise OSError(f"run {record.run_id}: its folder {folder} holds the working folder {root}; move its files "
                      "by hand")
    target = root / STATE_FOLDER / TRASH_NAME / f"{record.run_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        shutil.move(str(folder), str(target / folder.name))
    except OSError as error:
        raise OSError(f"run {record.run_id}: cannot move {folder} to {target}: "
                      f"{error.strerror or error}") from None
    rebuild_index(root)
    return target


__all__ = ["RunLookupError", "add_to_index", "find_run", "index_path", "list_runs", "rebuild_index",
           "scan_records", "trash_run"]
