"""Ctrl-C during `mif run --nproc N`: torchrun gets it and the run stops with exit 130, and the user sees the
workers' own lines, not torchrun's agent log nor its SignalException traceback. A stand-in for torchrun
(a script that behaves as it does on SIGINT) keeps the test to one small process."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from medical_imaging_framework.run.control import StopEscalation
from medical_imaging_framework.run.launch import launch_torchrun

AGENT = "W1203 13:16:06.700000 3318 torch/distributed/elastic/agent/server/api.py:753]"
FAKE_TORCHRUN = textwrap.dedent(f'''
    import os, signal, sys, threading

    class SignalException(Exception):
        pass

    def on_signal(signum, frame):
        raise SignalException(f"Process {{os.getpid()}} got signal: {{signum}}")

    signal.signal(signal.SIGINT, on_signal)
    print("{AGENT} started 2 workers", file=sys.stderr, flush=True)
    os.kill(os.getppid(), signal.SIGINT)  # the user presses Ctrl-C in the launching `mif run`
    try:
        threading.Event().wait()  # torchrun's monitor loop, until the forwarded SIGINT arrives
    except SignalException:
        print("{AGENT} Received 2 death signal, shutting down workers", file=sys.stderr, flush=True)
        print("[rank 1] a worker's own warning", file=sys.stderr, flush=True)
        raise
''')


def test_ctrl_c_stops_torchrun_without_its_traceback(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "torchrun.py"
    script.write_text(FAKE_TORCHRUN, encoding="utf-8")
    assert launch_torchrun([sys.executable, str(script)]) == 130
    err = capfd.readouterr().err
    assert "Stopping every process after the current batch (again to abort now)..." in err
    assert f"{AGENT} started 2 workers" in err  # before the stop: every line passes
    assert "[rank 1] a worker's own warning" in err
    assert "Traceback" not in err and "SignalException" not in err and "death signal" not in err


def test_a_traceback_of_another_failure_after_a_stop_is_kept() -> None:
    from medical_imaging_framework.run.torchrun_output import TorchrunStderr

    stops, lines = StopEscalation(), []
    stream = TorchrunStderr(stops, lines.append)
    stops.request()
    block = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in <module>\n', "OSError: disk full\n"]
    for line in block:
        stream.feed(line)
    assert lines == block
