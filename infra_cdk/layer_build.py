"""Build the shared Lambda layer directory (build/layer-<mode>/python/...) without Docker, cached by content hash."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Literal

from infra_cdk.config import ROOT
from infra_cdk.layer_lock import LOCK, PIP_PLATFORM_ARGS, check_lock

LayerMode = Literal["full", "source-only"]
PipRunner = Callable[[list[str]], None]
PythonFinder = Callable[[], "str | None"]

PACKAGE = "controlroom"
# Not shipped: the local engine and CLI run only on a workstation.
EXCLUDED_SUBPACKAGES = frozenset({"local"})
IGNORED_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
# The Lambda runtime's Python: the layer's bytecode must be compiled by this version (the magic number
# in every .pyc), or the runtime ignores it and, /opt being read-only, compiles every file at every cold start.
RUNTIME_PYTHON = "3.12"


def _shipped(path: Path, package_dir: Path) -> bool:
    relative = path.relative_to(package_dir)
    if relative.parts and relative.parts[0] in EXCLUDED_SUBPACKAGES:
        return False
    if any(part in IGNORED_NAMES for part in relative.parts):
        return False
    return path.is_file() and not path.name.endswith(IGNORED_SUFFIXES)


def source_files(root: Path = ROOT) -> list[Path]:
    """Every file of the controlroom package that goes into the layer, sorted."""
    package_dir = root / "layers" / PACKAGE
    return sorted(path for path in package_dir.rglob("*") if _shipped(path, package_dir))


def _digest(root: Path, files: list[Path], *extra: str) -> str:
    digest = hashlib.sha256()
    for text in extra:
        digest.update(text.encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _default_pip(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, stdout=subprocess.DEVNULL)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    # Parallel test workers may synthesize at once: one of them builds, the others wait.
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_source(root: Path, files: list[Path], python_dir: Path) -> None:
    destination = python_dir / PACKAGE
    shutil.rmtree(destination, ignore_errors=True)
    package_dir = root / "layers" / PACKAGE
    for path in files:
        target = destination / path.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _install_locked_wheels(lock: Path, python_dir: Path, pip: PipRunner) -> None:
    # A fresh directory so a removed requirement does not linger in the layer.
    shutil.rmtree(python_dir, ignore_errors=True)
    python_dir.mkdir(parents=True)
    # Exactly the locked wheels: --no-deps because the lock is already the whole resolution for Lambda (pip
    # must not resolve again, nor compare the layer with the build machine's own packages), and
    # --require-hashes so a wheel replaced on the index fails the build instead of shipping.
    pip(
        [
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            *PIP_PLATFORM_ARGS,
            "--target",
            str(python_dir),
            "-r",
            str(lock),
        ]
    )
    shutil.rmtree(python_dir / "bin", ignore_errors=True)  # console scripts: no use on Lambda


def runtime_python_candidates(version: str = RUNTIME_PYTHON) -> list[str]:
    """Interpreters that may be Python ``version``: on PATH, this one, pyenv's, the usual system paths."""
    candidates = [shutil.which(f"python{version}"), sys.executable]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(path) for path in sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"))]
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    return list(dict.fromkeys(c for c in candidates if c))


def find_runtime_python(candidates: Iterable[str] | None = None, version: str = RUNTIME_PYTHON) -> str | None:
    """The first candidate interpreter that reports Python ``version``, or None.

    Parameters
    ----------
    candidates
        Executables to try in order; defaults to ``runtime_python_candidates(version)``.
    version
        ``major.minor`` of the Lambda runtime.
    """
    for candidate in runtime_python_candidates(version) if candidates is None else candidates:
        try:
            result = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if result.returncode == 0 and result.stdout.strip() == version:
            return candidate
    return None


@lru_cache(maxsize=1)
def _cached_runtime_python() -> str | None:
    # One search per process: a test session synthesizes several stacks.
    return find_runtime_python()


def _compile(python_dir: Path, interpreter: str | None, mode: LayerMode) -> None:
    # unchecked-hash: the .pyc does not depend on file times (the asset zip may not keep them) and is
    # used without re-reading the source; the layer is immutable, so it can never be stale.
    if interpreter is None:
        print(
            f"controlroom layer ({mode}): warning: no Python {RUNTIME_PYTHON} found to compile the layer; "
            "shipping it without bytecode (Lambda compiles it at every cold start)",
            file=sys.stderr,
        )
        return
    result = subprocess.run(
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(python_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        print(
            f"controlroom layer ({mode}): warning: compileall failed, some files ship uncompiled: {last}",
            file=sys.stderr,
        )


def _bytecode_tag(interpreter: str | None) -> str:
    return f"cpython-{RUNTIME_PYTHON.replace('.', '')}" if interpreter else "none"


def build_layer(
    mode: LayerMode,
    root: Path = ROOT,
    pip: PipRunner | None = None,
    runtime_python: PythonFinder | None = None,
) -> Path:
    """Build (or reuse) the layer directory for ``mode`` and return it.

    Parameters
    ----------
    mode
        ``source-only`` copies layers/controlroom (minus controlroom/local) to python/controlroom;
        ``full`` also installs the wheels pinned in layers/requirements.lock (generated from
        layers/requirements.txt by `make lock`) for the Lambda runtime.
    root
        The repository root; the result is ``<root>/build/layer-<mode>``.
    pip
        Runs ``pip <args>``; tests pass a fake. Defaults to this interpreter's pip.
    runtime_python
        Returns the interpreter of the Lambda runtime's version that compiles the layer (every file,
        ``__pycache__`` kept), or None to ship it uncompiled with one warning line. Defaults to
        ``find_runtime_python``; tests pass a fake.

    Returns
    -------
    Path
        The directory to hand to ``lambda.Code.from_asset``.

    Raises
    ------
    infra_cdk.layer_lock.LayerLockError
        ``full`` only: the lock is missing or does not match layers/requirements.txt.
    """
    layer_dir = root / "build" / f"layer-{mode}"
    stamp_path = root / "build" / f"layer-{mode}.stamp.json"
    lock = root / LOCK
    with _locked(root / "build" / f"layer-{mode}.lock"):
        files = source_files(root)
        interpreter = (runtime_python or _cached_runtime_python)()
        wanted = {"source": _digest(root, files), "bytecode": _bytecode_tag(interpreter)}
        if mode == "full":
            check_lock(root)
            wanted["requirements"] = _digest(root, [lock], *PIP_PLATFORM_ARGS)
        stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
        if stamp == wanted and (layer_dir / "python" / PACKAGE).is_dir():
            print(f"controlroom layer ({mode}): up to date in {layer_dir}", file=sys.stderr)
            return layer_dir
        print(f"controlroom layer ({mode}): building {layer_dir}", file=sys.stderr)
        stamp_path.unlink(missing_ok=True)
        python_dir = layer_dir / "python"
        # Only the library changed: keep the wheels and their bytecode, compile the library again.
        compile_dir = python_dir / PACKAGE
        if mode == "full" and stamp.get("requirements") != wanted["requirements"]:
            _install_locked_wheels(lock, python_dir, pip or _default_pip)
            compile_dir = python_dir
        elif mode == "source-only":
            shutil.rmtree(layer_dir, ignore_errors=True)
        if stamp.get("bytecode") != wanted["bytecode"]:
            compile_dir = python_dir
        _copy_source(root, files, python_dir)
        _compile(compile_dir, interpreter, mode)
        stamp_path.write_text(json.dumps(wanted))
    return layer_dir
