"""`mif run` lets the daemon threads its run started end before Python exits (issue 18, point 9)."""

from __future__ import annotations

import threading
import time

import pytest

from medical_imaging_framework.cli.stray_threads import daemon_threads_finished


def test_daemon_threads_started_inside_end_before_leaving() -> None:
    finished = threading.Event()

    def work() -> None:
        time.sleep(0.3)
        finished.set()

    with daemon_threads_finished(grace_s=30):
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
    assert finished.is_set() and not thread.is_alive()


def test_the_wait_is_bounded_and_skipped_after_an_abort() -> None:
    release = threading.Event()
    try:
        with daemon_threads_finished(grace_s=0.2):
            stuck = threading.Thread(target=release.wait, daemon=True)
            stuck.start()
        assert stuck.is_alive()  # left after the grace
        with pytest.raises(KeyboardInterrupt), daemon_threads_finished(grace_s=30):
            aborted = threading.Thread(target=release.wait, daemon=True)
            aborted.start()
            raise KeyboardInterrupt
        assert aborted.is_alive()  # Ctrl-C twice: not waited for
    finally:
        release.set()
