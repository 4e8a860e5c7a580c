"""The layer's lock file pins every wheel the Lambda layer ships, for the Lambda platform, with its hash."""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from infra_cdk.config import ROOT
from infra_cdk.layer_lock import (
    LOCK,
    REQUIREMENTS,
    RUNTIME_PROVIDED,
    LayerLockError,
    check_lock,
    lock_pins,
    normalize,
    pinned,
    write_lock,
)
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

# What the Lambda python3.12 x86_64 runtime accepts, as pip's --platform manylinux2014_x86_64 expands it.
LAMBDA_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
LAMBDA_TAGS = {
    *cpython_tags((3, 12), platforms=LAMBDA_PLATFORMS),
    *compatible_tags((3, 12), "cp312", platforms=LAMBDA_PLATFORMS),
}
# Environment markers as the Lambda runtime evaluates them.
LAMBDA_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}


def _entries(lock: Path) -> list[tuple[str, str, str]]:
    """(wheel file name, name==version, sha256) of every lock entry, as the file spells them."""
    return re.findall(
        r"^# (\S+\.whl)\n(\S+==\S+) \\\n\s+--hash=sha256:([0-9a-f]{64})$", lock.read_text(), re.M
    )


def test_the_lock_pins_every_requirement_at_its_version() -> None:
    # Given the repository's requirements and lock
    locked = lock_pins(ROOT / LOCK)
    # Then each requirement of the layer is locked at the version requirements.txt pins
    for name, version in pinned(ROOT / REQUIREMENTS).items():
        assert locked.get(name) == version, f"{name}: locked {locked.get(name)}, required {version}"
    # and the lock was generated from exactly these requirements (the build refuses it otherwise)
    check_lock(ROOT)


def test_the_lock_holds_every_dependency_of_the_requirements_except_the_runtime_sdk() -> None:
    # Given the dependencies each pinned requirement declares (with its extras, markers as on Lambda)
    locked = lock_pins(ROOT / LOCK)
    needed: set[str] = set()
    for line in (ROOT / REQUIREMENTS).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        assert importlib.metadata.version(requirement.name) == str(requirement.specifier)[2:]
        for declared in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(declared)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in extras
            ):
                needed.add(normalize(dependency.name))
    # Then the lock (installed with --no-deps) holds all of them, and none of the SDK the runtime ships
    assert needed - RUNTIME_PROVIDED <= locked.keys(), sorted(needed - RUNTIME_PROVIDED - locked.keys())
    assert not RUNTIME_PROVIDED & locked.keys()


def test_every_locked_wheel_is_for_the_lambda_runtime_and_has_one_hash() -> None:
    entries = _entries(ROOT / LOCK)
    # Every entry of the lock is a wheel named above it with a sha256 (nothing unhashed slips in)
    assert (
        len(entries) == len(lock_pins(ROOT / LOCK)) == len(re.findall(r"--hash=", (ROOT / LOCK).read_text()))
    )
    for filename, pin, _ in entries:
        name, version, _, tags = parse_wheel_filename(filename)
        # the wheel is the one of the pinned version, and installs on cp312 manylinux x86_64
        assert pin == f"{name}=={version}"
        assert set(tags) & LAMBDA_TAGS, f"{filename} does not install on the Lambda runtime"
    # and the compiled ones really are built for it (not a pure-Python fallback for this machine)
    assert Tag("cp312", "cp312", "manylinux2014_x86_64") in {
        tag
        for filename, pin, _ in entries
        if pin.startswith("pydantic-core==")
        for tag in parse_wheel_filename(filename)[3]
    }


def _report(*packages: tuple[str, str]) -> list[dict]:
    return [
        {
            "metadata": {"name": name, "version": version},
            "download_info": {
                "url": f"https://files.example/{name.replace('-', '_')}-{version}-py3-none-any.whl",
                "archive_info": {"hashes": {"sha256": hashlib.sha256(name.encode()).hexdigest()}},
            },
        }
        for name, version in packages
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "requirements.txt").write_text("# the layer\nPydantic==2.14.3\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["pydantic==2.14.3", "boto3==1.44.5"]\n'
    )
    return tmp_path


def test_the_lock_is_resolved_against_the_pinned_sdk_and_leaves_it_out(repo: Path) -> None:
    seen: dict[str, str] = {}

    def resolver(requirements: Path, constraints: Path) -> list[dict]:
        seen["constraints"] = constraints.read_text()
        return _report(
            ("pydantic", "2.14.3"),
            ("Typing_Extensions", "4.16.0"),
            ("boto3", "1.44.5"),
            ("botocore", "1.44.5"),
        )

    # When the lock is written from pip's resolution
    lock = write_lock(repo, resolver)
    # Then pip resolved with the project's SDK pin (not the newest boto3), which the lock then leaves out
    assert seen["constraints"] == "boto3==1.44.5\n"
    assert lock_pins(lock) == {"pydantic": "2.14.3", "typing-extensions": "4.16.0"}
    check_lock(repo)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda repo: (repo / "layers" / "requirements.txt").write_text("pydantic==2.14.4\n"),
            "not generated",
        ),
        (
            lambda repo: (repo / "pyproject.toml").write_text(
                '[project]\ndependencies = ["boto3==1.44.9"]\n'
            ),
            "not generated",
        ),
        (lambda repo: (repo / "layers" / "requirements.lock").unlink(), "missing"),
        (
            lambda repo: (repo / "layers" / "requirements.lock").write_text(
                (repo / "layers" / "requirements.lock")
                .read_text()
                .replace("pydantic==2.14.3", "pydantic==2.14.2")
            ),
            "locks pydantic at 2.14.2",
        ),
    ],
    ids=["requirement-changed", "sdk-pin-changed", "lock-missing", "lock-edited"],
)
def test_a_lock_that_does_not_match_its_requirements_is_refused(repo: Path, change, message: str) -> None:
    write_lock(repo, lambda requirements, constraints: _report(("pydantic", "2.14.3")))
    change(repo)
    with pytest.raises(LayerLockError, match=message):
        check_lock(repo)


def test_an_unpinned_requirement_or_a_wheel_without_hash_cannot_be_locked(repo: Path) -> None:
    (repo / "layers" / "requirements.txt").write_text("pydantic>=2\n")
    with pytest.raises(LayerLockError, match="not pinned"):
        write_lock(repo, lambda requirements, constraints: _report(("pydantic", "2.14.3")))
    (repo / "layers" / "requirements.txt").write_text("pydantic==2.14.3\n")
    sdist = _report(("pydantic", "2.14.3"))
    sdist[0]["download_info"] = {"url": "https://files.example/pydantic-2.14.3.tar.gz", "archive_info": {}}
    with pytest.raises(LayerLockError, match="without a wheel sha256"):
        write_lock(repo, lambda requirements, constraints: sdist)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_lock_regenerates_the_lock_with_the_lock_module() -> None:
    # `make -n` prints the recipe without running it
    result = subprocess.run(["make", "-n", "lock"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "-m infra_cdk.layer_lock" in result.stdout
