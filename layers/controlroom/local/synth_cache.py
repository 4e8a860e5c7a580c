"""A cache of synthesized CDK apps, keyed by a hash of everything the synthesis reads.

Entries live in ``build/cdk.out.cache/<env>-<digest>/``. An entry only ever appears by renaming a
finished synthesis into place, so an interrupted run (Ctrl-C, a crash) leaves no half entry; two runs
with the same inputs take a lock, so the second waits for the first and reuses its result.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

# Everything `cdk synth` reads from the checkout.
INPUT_DIRS = ("infra_cdk", "layers", "stepfunctions", "functions")
INPUT_FILES = ("cdk.json", "package.json", "package-lock.json", "pyproject.toml")
# The local engine and CLI are neither shipped in the layer (infra_cdk/layer_build.py) nor imported by the
# app (cdk.json's watch excludes them too): editing the demo must not cost a new synthesis.
NOT_SYNTHESIZED = ("layers/controlroom/local",)
SKIPPED_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# Installed packages the app synthesizes with, and the environment it reads (infra_cdk/app.py).
PACKAGES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii")
ENVIRONMENT = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")

DISABLE_VARIABLE = "CONTROLROOM_SYNTH_CACHE"
KEEP_PER_ENV = 6  # the demo plus the few override sets the e2e tests synthesize
ABANDONED_SECONDS = 3600  # a temporary directory this old was left by a killed run
MARKER = ".controlroom-synth.json"
_DIGEST_CHARS = 20


def enabled_by_environment() -> bool:
    """False when ``CONTROLROOM_SYNTH_CACHE`` is 0, off, no or false."""
    return os.environ.get(DISABLE_VARIABLE, "1").strip().lower() not in ("0", "off", "no", "false")


def _input_files(root: Path) -> Iterator[Path]:
    skipped = {root / relative for relative in NOT_SYNTHESIZED}
    for folder in INPUT_DIRS:
        # followlinks: a checkout may symlink its folders (the e2e tests' homes do).
        for directory, subdirs, files in os.walk(root / folder, followlinks=True):
            here = Path(directory)
            subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_NAMES and here / d not in skipped)
            for name in sorted(files):
                if not name.endswith(SKIPPED_SUFFIXES):
                    yield here / name
    for name in INPUT_FILES:
        if (root / name).is_file():
            yield root / name


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def input_digest(root: Path, env: str, overrides: Mapping[str, Any]) -> str:
    """The sha256 of every input of ``cdk synth -c env=<env>`` with these overrides.

    Parameters
    ----------
    root
        The checkout (holding infra_cdk/, layers/, stepfunctions/, functions/, cdk.json).
    env
        The environment synthesized.
    overrides
        The ``override:<key>`` context values.

    Returns
    -------
    str
        Hex digest; any changed file, override, package version or Python version changes it.
    """
    digest = hashlib.sha256()
    settings = {
        "env": env,
        "overrides": {str(key): str(value) for key, value in overrides.items()},
        "python": sys.version,
        "machine": platform.machine(),
        "packages": {name: _package_version(name) for name in PACKAGES},
        "environment": {name: os.environ.get(name, "") for name in ENVIRONMENT},
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for path in _input_files(root):
        digest.update(b"\0" + path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class SynthCache:
    """The entries under one directory, e.g. ``build/cdk.out.cache``."""

    def __init__(self, directory: Path, keep: int = KEEP_PER_ENV) -> None:
        self.directory = directory
        self.keep = keep

    def entry(self, env: str, digest: str) -> Path:
        return self.directory / f"{env}-{digest[:_DIGEST_CHARS]}"

    @staticmethod
    def complete(entry: Path) -> bool:
        return (entry / MARKER).is_file() and (entry / "manifest.json").is_file()

    @contextmanager
    def _locked(self, entry: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
        with (self.directory / f".{entry.name}.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait(
                    f"another controlroom is synthesizing the same inputs into {entry.name}: waiting for it"
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def fetch(
        self,
        env: str,
        digest: str,
        build: Callable[[Path], None],
        on_wait: Callable[[str], None] = lambda message: None,
    ) -> tuple[Path, bool]:
        """The entry for (env, digest), built by ``build(directory)`` on a miss.

        Returns
        -------
        tuple[Path, bool]
            The entry's directory, and whether it was already there (a hit).
        """
        entry = self.entry(env, digest)
        if self.complete(entry):
            try:
                return self._used(entry), True
            except FileNotFoundError:  # pruned by another run this instant: build it again
                pass
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked(entry, on_wait):
            if self.complete(entry):  # the run we waited for built it
                return self._used(entry), True
            self._build(entry, env, digest, build)
        self.prune(env, protect=entry)
        return entry, False

    def _build(self, entry: Path, env: str, digest: str, build: Callable[[Path], None]) -> None:
        temporary = self.directory / f".tmp-{entry.name}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            build(temporary)
            if not (temporary / "manifest.json").is_file():
                raise FileNotFoundError(f"the synthesis wrote no manifest.json into {temporary}")
            marker = {"env": env, "digest": digest, "created_at": time.time(), "pid": os.getpid()}
            (temporary / MARKER).write_text(json.dumps(marker), encoding="utf-8")
            # An incomplete leftover of the same name (edited by hand) must not block the rename.
            shutil.rmtree(entry, ignore_errors=True)
            try:
                temporary.rename(entry)
            except OSError:
                # Only a run that bypassed our lock (its lock file pruned meanwhile) can have won the race.
                if not self.complete(entry):
                    raise
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def _used(self, entry: Path) -> Path:
        # Pruning keeps the most recently used entries.
        os.utime(entry / MARKER)
        return entry

    def prune(self, env: str, protect: Path | None = None) -> list[Path]:
        """Remove all but the ``keep`` most recently used entries of ``env``, and abandoned temporaries."""
        removed: list[Path] = []
        entries = []
        for path in self.directory.glob(f"{env}-*"):
            try:
                entries.append(((path / MARKER).stat().st_mtime, path))
            except FileNotFoundError:
                continue
        entries.sort(reverse=True)
        for _, path in entries[self.keep :]:
            if path != protect:
                shutil.rmtree(path, ignore_errors=True)
                (self.directory / f".{path.name}.lock").unlink(missing_ok=True)
                removed.append(path)
        now = time.time()
        for path in self.directory.glob(".tmp-*"):
            try:
                abandoned = now - path.stat().st_mtime > ABANDONED_SECONDS
            except FileNotFoundError:
                continue
            if abandoned:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed
