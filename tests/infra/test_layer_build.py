"""The layer build ships the library without its local engine, installs Lambda wheels once, and caches."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_cdk.layer_build import build_layer, source_files


class FakePip:
    """Records pip invocations and drops a marker package into --target, as pip would."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> None:
        self.calls.append(args)
        target = Path(args[args.index("--target") + 1])
        # what pip leaves for the real requirements: a package, plus the SDK pulled in transitively
        for folder in ("pydantic", "boto3", "boto3-1.44.5.dist-info", "botocore", "s3transfer", "bin"):
            (target / folder).mkdir(parents=True, exist_ok=True)
            (target / folder / "__init__.py").write_text("")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    package = tmp_path / "layers" / "controlroom"
    for relative in ("__init__.py", "settings.py", "store/audit.py", "policy/base.cedar", "local/cli.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(f"# {relative}\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "layers" / "requirements.txt").write_text("pydantic==2.14.3\n")
    return tmp_path


def _shipped(layer_dir: Path) -> set[str]:
    return {str(p.relative_to(layer_dir)) for p in layer_dir.rglob("*") if p.is_file()}


def test_source_only_copies_the_package_without_the_local_engine(repo: Path) -> None:
    # When the source-only layer is built
    layer_dir = build_layer("source-only", root=repo)
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
    build_layer("source-only", root=repo)
    # When nothing changed, then nothing is rebuilt
    build_layer("source-only", root=repo)
    assert "up to date" in capsys.readouterr().err
    # When a source file changes, then the copy follows it
    (repo / "layers" / "controlroom" / "settings.py").write_text("# changed\n")
    layer_dir = build_layer("source-only", root=repo)
    assert "building" in capsys.readouterr().err
    assert (layer_dir / "python" / "controlroom" / "settings.py").read_text() == "# changed\n"


def test_full_installs_lambda_wheels_once(repo: Path) -> None:
    pip = FakePip()
    # When the full layer is built twice
    layer_dir = build_layer("full", root=repo, pip=pip)
    build_layer("full", root=repo, pip=pip)
    # Then pip ran once, for the Lambda runtime rather than this machine, into python/
    assert len(pip.calls) == 1
    args = pip.calls[0]
    for flag, value in (
        ("--platform", "manylinux2014_x86_64"),
        ("--python-version", "3.12"),
        ("--implementation", "cp"),
        ("--target", str(layer_dir / "python")),
        ("-r", str(repo / "layers" / "requirements.txt")),
    ):
        assert args[args.index(flag) + 1] == value
    assert "--only-binary=:all:" in args
    shipped = _shipped(layer_dir)
    assert {"python/pydantic/__init__.py", "python/controlroom/settings.py"} <= shipped
    # and the AWS SDK the runtime already provides is not shipped a second time
    assert not {path.split("/")[1] for path in shipped} & {
        "boto3",
        "boto3-1.44.5.dist-info",
        "botocore",
        "s3transfer",
        "bin",
    }


def test_full_reinstalls_only_when_requirements_change(repo: Path) -> None:
    pip = FakePip()
    build_layer("full", root=repo, pip=pip)
    # When only the library changes, then the wheels are kept and the source is re-copied
    (repo / "layers" / "controlroom" / "settings.py").write_text("# v2\n")
    layer_dir = build_layer("full", root=repo, pip=pip)
    assert len(pip.calls) == 1
    assert (layer_dir / "python" / "controlroom" / "settings.py").read_text() == "# v2\n"
    assert (layer_dir / "python" / "pydantic" / "__init__.py").exists()
    # When a requirement changes, then pip runs again
    (repo / "layers" / "requirements.txt").write_text("pydantic==2.14.3\ncedarpy==4.12.2\n")
    build_layer("full", root=repo, pip=pip)
    assert len(pip.calls) == 2


def test_requirements_match_pyproject_without_boto3() -> None:
    import tomllib

    from infra_cdk.config import ROOT

    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "layers" / "requirements.txt").read_text().splitlines()]
    shipped = {line for line in lines if line and not line.startswith("#")}
    assert shipped == {dep for dep in pinned if not dep.startswith("boto3")}
