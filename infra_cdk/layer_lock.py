"""The layer's lock file: every wheel the Lambda layer installs, pinned with its hash (`make lock` writes it)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra_cdk.config import ROOT

# Wheels for the Lambda runtime (Python 3.12, x86_64), never the build machine's; no Docker needed.
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--only-binary=:all:",
)
# The Lambda Python runtime ships the AWS SDK; Powertools extras pull it in again (aws-encryption-sdk,
# aws-xray-sdk). A second copy would add ~25 MB and shadow the runtime's SDK, so it is not locked.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
REQUIREMENTS = Path("layers") / "requirements.txt"
LOCK = Path("layers") / "requirements.lock"
DIGEST_PREFIX = "# requirements-digest: "
# Resolves (requirements file, constraints file) to pip's report ``install`` list.
Resolver = Callable[[Path, Path], list[dict]]

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


class LayerLockError(Exception):
    """layers/requirements.lock is missing, stale, or not installable as it stands; `make lock` rewrites it."""


@dataclass(frozen=True)
class LockedWheel:
    """One wheel of the layer: the distribution, its version, the wheel's file name and its sha256."""

    name: str
    version: str
    filename: str
    sha256: str


def normalize(name: str) -> str:
    """The PEP 503 normalized form of a distribution name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(requirements: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def pinned(requirements: Path) -> dict[str, str]:
    """``{normalized name: version}`` of every ``name[extras]==version`` line.

    Raises
    ------
    LayerLockError
        A line is not pinned with ``==``: the lock could not say which version the layer ships.
    """
    pins: dict[str, str] = {}
    for line in requirement_lines(requirements):
        match = _PIN.match(line)
        if match is None:
            raise LayerLockError(f"{requirements}: {line!r} is not pinned as name==version")
        pins[normalize(match["name"])] = match["version"]
    return pins


def sdk_constraints(root: Path) -> list[str]:
    """The project's pins of the runtime-provided SDK (pyproject.toml), which the layer is resolved against.

    The layer does not ship boto3, but what it ships (aws-encryption-sdk, urllib3, ...) must agree with the
    SDK version the library is tested with: left free, pip resolves the newest boto3 instead.
    """
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return sorted(
        dep for dep in dependencies if (m := _PIN.match(dep)) and normalize(m["name"]) in RUNTIME_PROVIDED
    )


def requirements_digest(root: Path) -> str:
    """A digest of what the lock is resolved from: requirements (extras included), SDK pins, platform."""
    lines = [*sorted(requirement_lines(root / REQUIREMENTS)), *sdk_constraints(root), *PIP_PLATFORM_ARGS]
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def runtime_pip_resolver(python: str) -> Resolver:
    """Resolve with ``python``'s pip (a dry run for the Lambda platform) and return its report's ``install``."""

    def _resolve(requirements: Path, constraints: Path) -> list[dict]:
        # --dry-run --report resolves for the target platform without installing, and without comparing the
        # result with the packages of the interpreter running pip (they are not the layer's environment).
        # Older pips accept the platform options only with --target, which a dry run leaves empty.
        with tempfile.TemporaryDirectory(prefix="controlroom-lock-") as target:
            command = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
            command += ["--disable-pip-version-check", *PIP_PLATFORM_ARGS, "--target", target]
            command += ["--report", "-", "-r", str(requirements), "-c", str(constraints)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LayerLockError(f"pip could not resolve {requirements}:\n{result.stderr[-3000:]}")
        return list(json.loads(result.stdout)["install"])

    return _resolve


def locked_wheels(report_install: list[dict]) -> list[LockedWheel]:
    """The wheels of a pip installation report, minus the runtime's SDK, sorted by name."""
    wheels = []
    for item in report_install:
        name = normalize(item["metadata"]["name"])
        if name in RUNTIME_PROVIDED:
            continue
        url = item["download_info"]["url"]
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes or not url.endswith(".whl"):
            raise LayerLockError(f"pip resolved {name} to {url} without a wheel sha256; cannot lock it")
        filename = url.rsplit("/", 1)[-1].split("#", 1)[0]
        wheels.append(LockedWheel(name, item["metadata"]["version"], filename, hashes["sha256"]))
    return sorted(wheels, key=lambda wheel: wheel.name)


def render(wheels: list[LockedWheel], digest: str) -> str:
    """The lock file's text: one ``name==version --hash=sha256:...`` entry per wheel, the wheel named above it."""
    lines = [
        "# The Lambda layer's third-party wheels, resolved for the runtime (cp312, manylinux2014_x86_64).",
        "# Generated by `make lock` (python -m infra_cdk.layer_lock) from layers/requirements.txt: do not edit.",
        "# Installed with pip --require-hashes --no-deps, so a commit always ships these exact files.",
        "# boto3, botocore and s3transfer are left out: the Lambda runtime provides the AWS SDK.",
        f"{DIGEST_PREFIX}{digest}",
        "",
    ]
    for wheel in wheels:
        lines += [
            f"# {wheel.filename}",
            f"{wheel.name}=={wheel.version} \\",
            f"    --hash=sha256:{wheel.sha256}",
        ]
    return "\n".join(lines) + "\n"


def lock_pins(lock: Path) -> dict[str, str]:
    """``{normalized name: version}`` of every entry of a lock file."""
    entries = re.findall(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}$", lock.read_text(), re.M
    )
    return {normalize(name): version for name, version in entries}


def check_lock(root: Path = ROOT) -> None:
    """Refuse a lock that does not match the requirements it claims to come from.

    Raises
    ------
    LayerLockError
        The lock is missing, was generated from other requirements, leaves out a requirement or locks it at
        another version, or ships the runtime's SDK.
    """
    requirements, lock = root / REQUIREMENTS, root / LOCK
    if not lock.is_file():
        raise LayerLockError(f"{LOCK} is missing: run `make lock`")
    header = [line for line in lock.read_text().splitlines() if line.startswith(DIGEST_PREFIX)]
    if header != [DIGEST_PREFIX + requirements_digest(root)]:
        raise LayerLockError(f"{LOCK} was not generated from the current {REQUIREMENTS}: run `make lock`")
    locked = lock_pins(lock)
    for name, version in pinned(requirements).items():
        if locked.get(name) != version:
            raise LayerLockError(f"{LOCK} locks {name} at {locked.get(name)}, not {version}: run `make lock`")
    if shipped_sdk := sorted(RUNTIME_PROVIDED & locked.keys()):
        raise LayerLockError(f"{LOCK} locks {', '.join(shipped_sdk)}, which the Lambda runtime provides")


def write_lock(root: Path = ROOT, resolver: Resolver | None = None) -> Path:
    """Resolve layers/requirements.txt for the Lambda runtime and write layers/requirements.lock.

    Parameters
    ----------
    root
        The repository root.
    resolver
        Returns pip's report ``install`` list for a requirements and a constraints file; defaults to the pip
        of the Lambda runtime's Python (3.12) if this machine has one, so environment markers are evaluated
        as on Lambda, else this interpreter's pip.
    """
    from infra_cdk.layer_build import find_runtime_python

    if resolver is None:
        python = find_runtime_python()
        if python is None:
            print(
                "controlroom lock: warning: no Python 3.12 found; markers are evaluated for this one",
                file=sys.stderr,
            )
        resolver = runtime_pip_resolver(python or sys.executable)
    pinned(root / REQUIREMENTS)  # an unpinned line fails here, before any download
    with tempfile.TemporaryDirectory(prefix="controlroom-lock-") as scratch:
        constraints = Path(scratch) / "sdk-constraints.txt"
        constraints.write_text("".join(f"{pin}\n" for pin in sdk_constraints(root)))
        wheels = locked_wheels(resolver(root / REQUIREMENTS, constraints))
    lock = root / LOCK
    lock.write_text(render(wheels, requirements_digest(root)))
    check_lock(root)
    return lock


def main() -> int:
    """`make lock`: rewrite the lock file and say how many wheels it pins."""
    try:
        lock = write_lock()
    except LayerLockError as exc:
        print(f"controlroom lock: {exc}", file=sys.stderr)
        return 1
    print(f"controlroom lock: {len(lock_pins(lock))} wheels pinned with hashes in {lock.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
