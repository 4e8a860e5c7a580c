"""Build a slow artifact (a synthesized app) once per test run, shared by every pytest-xdist worker, and say so."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DONE = ".complete"


def announce(config: pytest.Config, message: str) -> None:
    """Print one line on the terminal now, from the controller or from an xdist worker.

    A worker's stdout goes nowhere and its stderr is captured while a fixture runs; with capture suspended,
    the worker's stderr is the terminal's, so a long session fixture is not minutes of silence.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    capture = config.pluginmanager.getplugin("capturemanager")
    line = f"\n[{worker or 'pytest'}] {message}\n"
    if capture is None:
        sys.stderr.write(line)
        return
    with capture.global_and_fixture_disabled():
        sys.stderr.write(line)
        sys.stderr.flush()


@contextmanager
def announced(config: pytest.Config, what: str) -> Iterator[None]:
    """Announce ``what`` before and after, with how long it took."""
    started = time.monotonic()
    announce(config, f"{what} ...")
    yield
    announce(config, f"{what}: done in {time.monotonic() - started:.0f}s")


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory shared by the workers of this run only (xdist gives each worker a basetemp inside the run's)."""
    basetemp = tmp_path_factory.getbasetemp()
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    shared = root / "shared"
    shared.mkdir(exist_ok=True)
    return shared


def build_once(
    tmp_path_factory: pytest.TempPathFactory,
    config: pytest.Config,
    key: str,
    build: Callable[[Path], object],
    what: str,
) -> Path:
    """Return ``<shared>/<key>``, running ``build(directory)`` only if no worker of this run has built it yet.

    Parameters
    ----------
    key
        Names the artifact (and its inputs): two calls with the same key share one build.
    build
        Fills the empty directory it is given; an exception leaves nothing behind, so a later call retries.
    what
        Said on the terminal while the build runs (workers waiting for it say so too).
    """
    shared = shared_dir(tmp_path_factory)
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)
    target = shared / slug
    with (shared / f"{slug}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Another worker is building it: wait for that build instead of running a second one.
            with announced(config, f"waiting for another worker: {what}"):
                fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (target / DONE).is_file():
                return target
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            try:
                with announced(config, what):
                    build(target)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            (target / DONE).touch()
            return target
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
