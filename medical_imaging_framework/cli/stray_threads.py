"""Letting the daemon threads a run started finish before ``mif run`` exits.

Python 3.11 ends a daemon thread that is still running when the interpreter shuts down with ``pthread_exit``
the moment it asks for the GIL back. Inside a torch op that moment is in pybind11's ``gil_scoped_release``
destructor, which may not throw: the forced unwind calls ``std::terminate`` and the process aborts ("terminate
called without an active exception", exit 134) after it already said how the run ended (issue 18). The known
cause is fixed where it was (the transforms cache, `nodes.transforms.pipeline`); this guard keeps any other
library's worker thread from bringing it back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

GRACE_S = 5.0  # at most this long in all; the threads of a normal run have ended already (none is waited for)


@contextlib.contextmanager
def daemon_threads_finished(grace_s: float = GRACE_S) -> Iterator[None]:
    """On leaving, wait up to ``grace_s`` for the daemon threads started inside to end (not after Ctrl-C twice).

    Args:
        grace_s: the longest wait, for every such thread together.
    """
    before = set(threading.enumerate())
    aborted = False
    try:
        yield
    except KeyboardInterrupt:  # "abort now": do not hold the user up
        aborted = True
        raise
    finally:
        if not aborted:
            deadline = time.monotonic() + grace_s
            for thread in threading.enumerate():
                if thread not in before and thread.daemon and thread.is_alive():
                    thread.join(max(0.0, deadline - time.monotonic()))


__all__ = ["GRACE_S", "daemon_threads_finished"]
