"""A `mif run` ended by SIGKILL never writes its record's end; `mif runs` lists it as ``killed`` (its process is
gone), and `mif runs show` says so with the last epoch in metrics.csv (issue 21, runs polish point 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.run.process_identity import ProcessIdentity, current_process, process_gone
from medical_imaging_framework.run.records import read_record
from tests.support.tiny import ONE_THREAD, PIPELINE, set_arguments

ROOT = Path(__file__).resolve().parents[2]


def test_a_sigkilled_run_is_listed_killed_with_its_last_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, **ONE_THREAD, "MIF_RUN_RECORDS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(
        [sys.executable, "-m", "medical_imaging_framework", "run", str(PIPELINE),
         *set_arguments("ck", num_epochs=50)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    metrics = tmp_path / "ck" / "metrics.csv"
    try:
        assert child.stdout is not None
        for line in child.stdout:  # killed after an epoch line, once metrics.csv holds an epoch (written after it)
            lines.append(line)
            if line.startswith("Epoch [") and metrics.is_file() and len(metrics.read_text().splitlines()) > 1:
                break
        assert lines and lines[-1].startswith("Epoch ["), "".join(lines)
        assert read_record(tmp_path / "ck").status == "running"  # the run was alive and recorded when killed
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    assert read_record(tmp_path / "ck").status == "running"  # nothing wrote its end: the file still says so

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["runs"]) == 0
    _header, row = capsys.readouterr().out.splitlines()
    run_id, _, status, epochs = row.split()[:4]
    last = len(metrics.read_text().splitlines()) - 1  # one row per finished epoch
    assert (status, epochs) == ("killed", f"{last}/50")

    assert main(["runs", "show", run_id]) == 0
    shown = capsys.readouterr().out
    assert f"Run {run_id}: segmentation_train (killed)" in shown
    assert f"its process (pid {child.pid} on " in shown and f"last epoch in metrics.csv: {last}" in shown
    assert "killed, epochs 0 -> " in shown  # the segment too


def test_a_live_process_a_reused_pid_and_another_machine() -> None:
    me = current_process()
    assert process_gone(me) is False
    if me.start_ticks is not None:  # Linux: the same pid started at another time is another process
        assert process_gone(ProcessIdentity(me.pid, me.host, me.start_ticks + 1, me.boot_id)) is True
        assert process_gone(ProcessIdentity(me.pid, me.host, me.start_ticks, "another-boot")) is True
    assert process_gone(ProcessIdentity(me.pid, "some-other-host", me.start_ticks, me.boot_id)) is None
