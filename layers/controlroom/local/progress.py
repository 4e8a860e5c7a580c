"""Progress lines for the slow steps of `controlroom demo` and `controlroom up`, on stderr.

A step that finishes within ``SLOW_STEP_SECONDS`` prints nothing; a longer one says what it is doing once
it passes that mark, repeats itself every ``HEARTBEAT_SECONDS`` while it runs, and ends with how long it
took, e.g. ``  deploying controlroom-local into moto ... 3.1s``. Stdout stays the demo's narrative.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

SLOW_STEP_SECONDS = 2.0
HEARTBEAT_SECONDS = 10.0

_print_lock = threading.Lock()


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one progress line (thread-safe: the heartbeat thread prints too)."""
    with _print_lock:
        print(text, file=stream or sys.stderr, flush=True)


class Step:
    """A running step; ``result`` replaces the elapsed time in its last line (e.g. "cached")."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.result = ""
        self.announced = False


@contextmanager
def step(
    label: str,
    *,
    enabled: bool = True,
    stream: TextIO | None = None,
    announce_after: float = SLOW_STEP_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Step]:
    """Run the ``with`` body as one named step, printing progress lines if it takes long.

    Parameters
    ----------
    label
        What the step does, e.g. "synthesizing the CDK app (env=local)".
    enabled
        False runs the body silently (tests and library callers that asked for quiet).
    stream
        Where the lines go; stderr by default.
    announce_after
        Seconds after which the step is announced; faster steps print nothing.
    heartbeat
        Seconds between "still running" lines after the announcement.
    clock
        The monotonic clock (tests pass their own).

    Yields
    ------
    Step
        Set ``result`` to say how it ended instead of the elapsed time.
    """
    current = Step(label)
    if not enabled:
        yield current
        return
    started = clock()
    finished = threading.Event()

    def watch() -> None:
        if finished.wait(announce_after):
            return
        current.announced = True
        say(f"  {label} ...", stream)
        while not finished.wait(heartbeat):
            say(f"  {label} ... {clock() - started:.0f}s so far", stream)

    watcher = threading.Thread(target=watch, name="controlroom-progress", daemon=True)
    watcher.start()
    failed = True
    try:
        yield current
        failed = False
    finally:
        finished.set()
        watcher.join()
        elapsed = clock() - started
        if failed and current.announced:
            say(f"  {label} ... failed after {elapsed:.1f}s", stream)
        elif not failed and current.result:
            say(f"  {label} ... {current.result}", stream)
        elif not failed and (current.announced or elapsed >= announce_after):
            say(f"  {label} ... {elapsed:.1f}s", stream)
