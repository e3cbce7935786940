"""Optionally, the editor's run thread runs at a lower CPU priority than the GUI thread (per-thread nice).

On Linux a nice value belongs to a thread, not to the process: ``setpriority(PRIO_PROCESS, tid, n)`` with a
thread id (``threading.get_native_id``) changes that one thread (man 2 setpriority, "BUGS": the call acts
on threads, contrary to POSIX), and threads it creates afterwards inherit it. torch's intra-op OpenMP
threads are created by the thread that first computes in parallel -- the run thread, a fresh one for every
run -- so they get the same nice value without being named here. Elsewhere (macOS, Windows) the call would
renice the whole process, editor included, so it is not made there.

Off by default (`RUN_THREAD_NICE` = 0), as measured: a niced thread still holds the GIL at times (Python
between torch calls), and the GUI thread then waits for it to be scheduled to hand the GIL over, which a
lower priority makes rarer against other busy processes. bench/ui_latency.py --busy 2, two runs each, load
average 10-14 on 2 cores: nice +5 gave GUI lateness p99 58 / 68 ms, max 166 / 222 ms and made the editor's
training 2.1-2.2x slower than headless; nice 0 gave p99 42 / 46 ms, max 82 / 101 ms at 0.94-1.09x. What helps
the GUI thread is handing the GIL over at once after each event (`controller.RunWorker`) and coalescing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

# Added to the run thread's nice value (0..19; a higher value is a lower priority; unprivileged, so one-way).
# 0: the run thread keeps the editor's priority (see above); bench/ui_latency.py --nice N tries another step.
RUN_THREAD_NICE = 0


def lower_this_thread_priority(step: int | None = None) -> int | None:
    """Raise the calling thread's nice value by ``step`` (Linux only); the new value, or None when unchanged.

    Call it from inside the thread to lower (the run thread, at its start). A failure is logged at debug
    level and ignored: the run only goes on at normal priority.

    Args:
        step: how much to add (`RUN_THREAD_NICE` when None); 0 or less changes nothing.
    """
    step = RUN_THREAD_NICE if step is None else step
    if step <= 0 or not sys.platform.startswith("linux"):
        return None
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        target = min(19, current + step)
        os.setpriority(os.PRIO_PROCESS, thread_id, target)
    except OSError as error:
        log.debug("could not lower the run thread's priority: %s", error)
        return None
    return target


__all__ = ["RUN_THREAD_NICE", "lower_this_thread_priority"]
