"""Build the shared Lambda layer directory (build/layer-<mode>/python/...) without Docker, cached by content hash."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from infra_cdk.config import ROOT

LayerMode = Literal["full", "source-only"]
PipRunner = Callable[[list[str]], None]

PACKAGE = "controlroom"
# Not shipped: the local engine and CLI run only on a workstation.
EXCLUDED_SUBPACKAGES = frozenset({"local"})
IGNORED_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
# Wheels for the Lambda runtime (Python 3.12, x86_64), never the build machine's; no Docker needed.
# The Lambda Python runtime ships the AWS SDK; Powertools extras pull it in again (aws-encryption-sdk,
# aws-xray-sdk). A second copy would add ~25 MB and shadow the runtime's SDK, so it is removed.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--only-binary=:all:",
)


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


def _install_requirements(requirements: Path, python_dir: Path, pip: PipRunner) -> None:
    # A fresh directory so a removed requirement does not linger in the layer.
    shutil.rmtree(python_dir, ignore_errors=True)
    python_dir.mkdir(parents=True)
    pip(
        [
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            *PIP_PLATFORM_ARGS,
            "--target",
            str(python_dir),
            "-r",
            str(requirements),
        ]
    )
    shutil.rmtree(python_dir / "bin", ignore_errors=True)  # console scripts: no use on Lambda
    for name in RUNTIME_PROVIDED:
        for path in [python_dir / name, *python_dir.glob(f"{name}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)


def build_layer(mode: LayerMode, root: Path = ROOT, pip: PipRunner | None = None) -> Path:
    """Build (or reuse) the layer directory for ``mode`` and return it.

    Parameters
    ----------
    mode
        ``source-only`` copies layers/controlroom (minus controlroom/local) to python/controlroom;
        ``full`` also pip-installs layers/requirements.txt for the Lambda runtime.
    root
        The repository root; the result is ``<root>/build/layer-<mode>``.
    pip
        Runs ``pip <args>``; tests pass a fake. Defaults to this interpreter's pip.

    Returns
    -------
    Path
        The directory to hand to ``lambda.Code.from_asset``.
    """
    layer_dir = root / "build" / f"layer-{mode}"
    stamp_path = root / "build" / f"layer-{mode}.stamp.json"
    requirements = root / "layers" / "requirements.txt"
    with _locked(root / "build" / f"layer-{mode}.lock"):
        files = source_files(root)
        wanted = {"source": _digest(root, files)}
        if mode == "full":
            wanted["requirements"] = _digest(root, [requirements], *PIP_PLATFORM_ARGS)
        stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
        if stamp == wanted and (layer_dir / "python" / PACKAGE).is_dir():
            print(f"controlroom layer ({mode}): up to date in {layer_dir}", file=sys.stderr)
            return layer_dir
        print(f"controlroom layer ({mode}): building {layer_dir}", file=sys.stderr)
        stamp_path.unlink(missing_ok=True)
        python_dir = layer_dir / "python"
        if mode == "full" and stamp.get("requirements") != wanted["requirements"]:
            _install_requirements(requirements, python_dir, pip or _default_pip)
        elif mode == "source-only":
            shutil.rmtree(layer_dir, ignore_errors=True)
        _copy_source(root, files, python_dir)
        stamp_path.write_text(json.dumps(wanted))
    return layer_dir
