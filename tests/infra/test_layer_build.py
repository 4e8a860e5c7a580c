"""The layer build ships the library without its local engine, installs the locked Lambda wheels once, and caches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from infra_cdk.layer_build import build_layer, find_runtime_python, source_files
from infra_cdk.layer_lock import LayerLockError, lock_pins, write_lock


def no_runtime_python() -> None:
    """A machine without the Lambda runtime's Python: the layer ships uncompiled."""
    return None


class FakePip:
    """Records pip invocations and, as ``pip install --no-deps -r LOCK`` does, puts each locked package in --target."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> None:
        self.calls.append(args)
        target = Path(args[args.index("--target") + 1])
        for folder in [*lock_pins(Path(args[args.index("-r") + 1])), "bin"]:
            (target / folder).mkdir(parents=True, exist_ok=True)
            (target / folder / "__init__.py").write_text("")


def lock_from(repo: Path, *pins: str) -> None:
    """Write layers/requirements.txt with ``pins`` and lock it as `make lock` does, from a fake pip report."""
    (repo / "layers" / "requirements.txt").write_text("".join(f"{pin}\n" for pin in pins))

    def resolver(requirements: Path, constraints: Path) -> list[dict]:
        return [
            {
                "metadata": {"name": name, "version": version},
                "download_info": {
                    "url": f"https://files.example/{name}-{version}-py3-none-any.whl",
                    "archive_info": {"hashes": {"sha256": hashlib.sha256(name.encode()).hexdigest()}},
                },
            }
            for name, version in (pin.split("==") for pin in pins)
        ]

    write_lock(repo, resolver)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    package = tmp_path / "layers" / "controlroom"
    for relative in ("__init__.py", "settings.py", "store/audit.py", "policy/base.cedar", "local/cli.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(f"# {relative}\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["pydantic==2.14.3", "boto3==1.44.5"]\n'
    )
    lock_from(tmp_path, "pydantic==2.14.3")
    return tmp_path


def _shipped(layer_dir: Path) -> set[str]:
    return {str(p.relative_to(layer_dir)) for p in layer_dir.rglob("*") if p.is_file()}


def test_source_only_copies_the_package_without_the_local_engine(repo: Path) -> None:
    # When the source-only layer is built
    layer_dir = build_layer("source-only", root=repo, runtime_python=no_runtime_python)
    # Then the package sits under python/ (the Lambda layer path), minus controlroom/local and bytecode
    assert layer_dir == repo / "build" / "layer-source-only"
    assert _shipped(layer_dir) == {
        "python/controlroom/__init__.py",
        "python/controlroom/settings.py",
        "python/controlroom/store/audit.py",
        "python/controlroom/policy/base.cedar",
    }


def test_real_source_list_excludes_local_engine() -> None:
    files = source_files()
    assert files, "layers/controlroom has no files"
    assert not [f for f in files if "/controlroom/local/" in f.as_posix() or f.suffix == ".pyc"]


def test_second_build_is_cached_and_a_change_rebuilds(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a built layer
    build_layer("source-only", root=repo, runtime_python=no_runtime_python)
    # When nothing changed, then nothing is rebuilt
    build_layer("source-only", root=repo, runtime_python=no_runtime_python)
    assert "up to date" in capsys.readouterr().err
    # When a source file changes, then the copy follows it
    (repo / "layers" / "controlroom" / "settings.py").write_text("# changed\n")
    layer_dir = build_layer("source-only", root=repo, runtime_python=no_runtime_python)
    assert "building" in capsys.readouterr().err
    assert (layer_dir / "python" / "controlroom" / "settings.py").read_text() == "# changed\n"


def test_full_installs_exactly_the_locked_lambda_wheels_once(repo: Path) -> None:
    pip = FakePip()
    # When the full layer is built twice
    layer_dir = build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    # Then pip ran once, for the Lambda runtime rather than this machine, into python/
    assert len(pip.calls) == 1
    args = pip.calls[0]
    for flag, value in (
        ("--platform", "manylinux2014_x86_64"),
        ("--python-version", "3.12"),
        ("--implementation", "cp"),
        ("--target", str(layer_dir / "python")),
        ("-r", str(repo / "layers" / "requirements.lock")),
    ):
        assert args[args.index(flag) + 1] == value
    # from the lock alone: every wheel checked against its hash, and no second resolution by pip (which
    # would also compare the layer with this machine's packages and print a spurious resolver ERROR)
    assert {"--only-binary=:all:", "--require-hashes", "--no-deps"} <= set(args)
    shipped = _shipped(layer_dir)
    assert {"python/pydantic/__init__.py", "python/controlroom/settings.py"} <= shipped
    assert not [path for path in shipped if path.startswith("python/bin/")]


def test_full_reinstalls_only_when_the_lock_changes(repo: Path) -> None:
    pip = FakePip()
    build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    # When only the library changes, then the wheels are kept and the source is re-copied
    (repo / "layers" / "controlroom" / "settings.py").write_text("# v2\n")
    layer_dir = build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    assert len(pip.calls) == 1
    assert (layer_dir / "python" / "controlroom" / "settings.py").read_text() == "# v2\n"
    assert (layer_dir / "python" / "pydantic" / "__init__.py").exists()
    # When a requirement is added and locked, then pip runs again and the new package ships
    lock_from(repo, "pydantic==2.14.3", "cedarpy==4.12.2")
    build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    assert len(pip.calls) == 2
    assert (layer_dir / "python" / "cedarpy" / "__init__.py").exists()


def test_full_refuses_a_lock_older_than_the_requirements(repo: Path) -> None:
    # Given a requirement changed without `make lock`
    (repo / "layers" / "requirements.txt").write_text("pydantic==2.14.4\n")
    pip = FakePip()
    # When the full layer is built, then it fails naming the fix, and installs nothing
    with pytest.raises(LayerLockError, match="make lock"):
        build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    assert pip.calls == []


def test_requirements_match_pyproject_without_boto3() -> None:
    import tomllib

    from infra_cdk.config import ROOT

    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "layers" / "requirements.txt").read_text().splitlines()]
    shipped = {line for line in lines if line and not line.startswith("#")}
    assert shipped == {dep for dep in pinned if not dep.startswith("boto3")}


def _fake_python(directory: Path, version: str) -> Path:
    """An executable that reports ``version`` and, run as ``-m compileall ... DIR``, writes a pyc per .py in DIR.

    It logs its compileall arguments beside itself, so a test can check how the layer was compiled.
    """
    tag = version.replace(".", "")
    script = directory / f"python{version}"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then echo {version}; exit 0; fi\n'
        f'echo "$@" >> "{directory}/compileall-{tag}.log"\n'
        "for last; do :; done\n"
        'find "$last" -name "*.py" | while read -r f; do\n'
        '  d=$(dirname "$f")/__pycache__; mkdir -p "$d"; n=$(basename "$f" .py)\n'
        f'  printf pyc > "$d/$n.cpython-{tag}.pyc"\n'
        "done\n"
    )
    script.chmod(0o755)
    return script


def test_the_layer_is_compiled_by_the_runtime_python_and_ships_its_bytecode(
    repo: Path, tmp_path: Path
) -> None:
    # Given an interpreter of the Lambda runtime's version (3.12) on the build machine
    python312 = _fake_python(tmp_path, "3.12")
    # When the layer is built
    layer_dir = build_layer("source-only", root=repo, runtime_python=lambda: str(python312))
    # Then every module ships with its 3.12 bytecode in __pycache__, and the workstation's 3.11 pyc does not
    shipped = _shipped(layer_dir)
    assert {
        "python/controlroom/__pycache__/__init__.cpython-312.pyc",
        "python/controlroom/__pycache__/settings.cpython-312.pyc",
        "python/controlroom/store/__pycache__/audit.cpython-312.pyc",
    } <= shipped
    assert not [path for path in shipped if "cpython-311" in path]
    # compiled to hash-based pycs that Lambda uses without checking file times (the asset zip may reset them)
    (arguments,) = (tmp_path / "compileall-312.log").read_text().splitlines()
    assert arguments.split()[:2] == ["-m", "compileall"]
    assert "--invalidation-mode unchecked-hash" in arguments
    assert arguments.endswith(str(layer_dir / "python"))


def test_without_the_runtime_python_the_layer_builds_uncompiled_with_one_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When no Python 3.12 is found (a CI machine with only 3.11)
    layer_dir = build_layer("source-only", root=repo, runtime_python=no_runtime_python)
    # Then the build succeeds, ships no bytecode, and says so once
    assert not [path for path in _shipped(layer_dir) if path.endswith(".pyc")]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "3.12" in warnings[0] and "without bytecode" in warnings[0]


def test_an_interpreter_found_later_recompiles_the_wheels_too(repo: Path, tmp_path: Path) -> None:
    # Given a full layer built uncompiled
    pip = FakePip()
    build_layer("full", root=repo, pip=pip, runtime_python=no_runtime_python)
    # When a 3.12 interpreter is found on a later build with nothing else changed
    python312 = _fake_python(tmp_path, "3.12")
    layer_dir = build_layer("full", root=repo, pip=pip, runtime_python=lambda: str(python312))
    # Then the wheels are kept (pip ran once) and compiled along with the library
    assert len(pip.calls) == 1
    assert {
        "python/pydantic/__pycache__/__init__.cpython-312.pyc",
        "python/controlroom/__pycache__/settings.cpython-312.pyc",
    } <= _shipped(layer_dir)
    # When only the library changes afterwards, then only the library is compiled again
    (repo / "layers" / "controlroom" / "settings.py").write_text("# v3\n")
    build_layer("full", root=repo, pip=pip, runtime_python=lambda: str(python312))
    last = (tmp_path / "compileall-312.log").read_text().splitlines()[-1]
    assert last.endswith(str(layer_dir / "python" / "controlroom"))


def test_the_runtime_python_is_the_first_candidate_of_its_version(tmp_path: Path) -> None:
    python311 = _fake_python(tmp_path, "3.11")
    python312 = _fake_python(tmp_path, "3.12")
    missing = str(tmp_path / "python3.12-not-installed")
    assert find_runtime_python([missing, str(python311), str(python312)]) == str(python312)
    assert find_runtime_python([missing, str(python311)]) is None


@pytest.mark.skipif(find_runtime_python() is None, reason="no Python 3.12 on this machine")
def test_a_real_runtime_python_compiles_the_layer(repo: Path) -> None:
    import subprocess

    python312 = find_runtime_python()
    assert python312
    magic = subprocess.run(
        [python312, "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # When the layer is built with the interpreter found on this machine
    layer_dir = build_layer("source-only", root=repo)
    # Then each module ships a 3.12 pyc (its magic number), hash-based and unchecked (flags 0b01)
    header = (layer_dir / "python" / "controlroom" / "__pycache__" / "settings.cpython-312.pyc").read_bytes()[
        :8
    ]
    assert header[:4].hex() == magic
    assert int.from_bytes(header[4:8], "little") == 0b01
