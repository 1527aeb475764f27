"""Stopping a run from outside: Ctrl-C (SIGINT) and a kill (SIGTERM) end it the same way.

Python turns SIGINT into ``KeyboardInterrupt``; SIGTERM (a CI job cancelled, a scheduler's
time limit, `kill`) would end the process at once, and Ray's driver prints a native stack
dump for it. :func:`stop_on_sigterm` makes SIGTERM raise :class:`Terminated`, a
``KeyboardInterrupt``, so both unwind through every ``finally``: outputs that were being staged
are discarded (they are all or nothing), a sweep's Ray instance is shut down and its finished
points stay cached, and the command says so in one line.
"""

from __future__ import annotations

import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def _raise_terminated(signum, frame):  # noqa: ARG001 - the signal module's signature
    raise Terminated()


def stop_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` (main thread only: signal handlers live there).

    Called when the command line starts, and again after ``ray.init``, which installs its own.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
