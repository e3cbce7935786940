"""A process that asked to die with its parent gets the signal when the parent is killed (issue 18, point 11).

Each case: this test starts a middle process, which starts a child that asks (`die_with_parent` in the child
itself, or `parent_death_signal` as the middle's preexec_fn) and reports its pid; the middle is SIGKILLed; the
child must be gone soon after. Linux only (prctl)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
ROOT = Path(__file__).resolve().parents[2]

CHILD_ASKS = """
import signal, sys, time
from medical_imaging_framework.run.process_tree import die_with_parent
assert die_with_parent(signal.SIGTERM)
print("ready", flush=True)
time.sleep(120)
"""
MIDDLE_STARTS = """
import os, signal, subprocess, sys, time
from medical_imaging_framework.run.process_tree import parent_death_signal
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], preexec_fn={preexec}, start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.parametrize(("preexec", "child_code"), [("None", CHILD_ASKS),
                                                     ("parent_death_signal(signal.SIGTERM)", SLEEPER)],
                         ids=["the child asks", "the parent asks for it"])
def test_a_child_ends_when_its_parent_is_killed(preexec: str, child_code: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE_STARTS.format(preexec=preexec), child_code], env=env,
                              stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert middle.stdout is not None
        child = int(middle.stdout.readline())
        assert middle.stdout.readline() == "ready\n"  # from the child (same pipe): it has asked, or been asked for
        assert not _gone(child)
        middle.kill()
        middle.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child), "the child outlived its killed parent"
    finally:
        if middle.poll() is None:
            middle.kill()
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)


CHILD_STUCK_IN_ITS_STOP = """
import signal, sys, time
from medical_imaging_framework.run.process_tree import die_with_parent, end_if_still_running, orphaned
def on_term(signum, frame):  # what a rank does (cli/commands.py), then a graceful stop that never comes
    print("orphaned", orphaned(), flush=True)
    if orphaned():
        end_if_still_running(1.0)
signal.signal(signal.SIGTERM, on_term)
assert die_with_parent(signal.SIGTERM)
print("ready", "orphaned", orphaned(), flush=True)
while True:
    time.sleep(0.05)
"""


def test_an_orphaned_child_whose_stop_hangs_ends_itself_after_its_grace_period() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE_STARTS.format(preexec="None"), CHILD_STUCK_IN_ITS_STOP],
                              env=env, stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert middle.stdout is not None
        child = int(middle.stdout.readline())
        assert middle.stdout.readline() == "ready orphaned False\n"
        middle.kill()
        middle.wait(timeout=30)
        assert middle.stdout.readline() == "orphaned True\n"  # the SIGTERM came, and the child knows why
        deadline = time.monotonic() + 60
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child), "an orphan that ignored its SIGTERM ran on"
    finally:
        if middle.poll() is None:
            middle.kill()
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_the_orphan_grace_period_is_30_s_unless_the_environment_shortens_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of an orphaned torchrun rank set ``MIF_ORPHAN_GRACE_S`` so as not to wait the 30 s; nothing else does."""
    from medical_imaging_framework.run.process_tree import ORPHAN_GRACE_ENV, end_if_still_running, orphan_grace_s

    monkeypatch.delenv(ORPHAN_GRACE_ENV, raising=False)
    assert orphan_grace_s() == 30.0
    for ignored in ("", "soon", "0", "-2", "inf", "nan"):  # read in a signal handler: a bad value is no error
        monkeypatch.setenv(ORPHAN_GRACE_ENV, ignored)
        assert orphan_grace_s() == 30.0, ignored
    monkeypatch.setenv(ORPHAN_GRACE_ENV, "2.5")
    assert orphan_grace_s() == 2.5
    monkeypatch.setenv(ORPHAN_GRACE_ENV, "600")
    timer = end_if_still_running()  # what an orphaned rank's SIGTERM handler calls
    given = end_if_still_running(1000.0)  # a period given by the caller wins
    timer.cancel()  # (either one's end would end this test process)
    given.cancel()
    assert (timer.interval, given.interval) == (600.0, 1000.0)
