"""`controlroom demo` and `controlroom up` refuse at once what cannot work: no terminal, a taken port,
an environment cdk.json does not define, a cdk.out that is not one."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra_cdk.config import ENVIRONMENTS_KEY, read_cdk_json_context

from controlroom.local import cli, preflight

REPO = Path(__file__).resolve().parents[2]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port another process could hold: bound and listening for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout whose cdk.json defines the environments alpha and beta only."""
    for folder in ("functions", "stepfunctions"):
        (tmp_path / folder).mkdir()
    context = {ENVIRONMENTS_KEY: {"alpha": {}, "beta": {}}}
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "true", "context": context}))
    monkeypatch.setenv("CONTROLROOM_HOME", str(tmp_path))
    return tmp_path


def _refuse_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as building an engine (the work preflight must precede)."""
    from controlroom.local import demo, engine

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine was started although the preflight should have refused")

    monkeypatch.setattr(engine, "LocalEngine", no_engine)
    monkeypatch.setattr(demo, "LocalEngine", no_engine)


def test_no_terminal_and_no_decision_is_refused() -> None:
    # Given stdin is a pipe, not a terminal, and no --decision
    # When the demo checks, Then it refuses and names the choices
    with pytest.raises(
        preflight.PreflightError, match=r"no terminal to ask on: pass --decision approve\|reject"
    ):
        preflight.check_terminal(None, io.StringIO(""))
    # And a decision, or a terminal to ask on, is enough
    preflight.check_terminal("approve", io.StringIO(""))
    preflight.check_terminal(None, _Terminal())


def test_a_taken_port_is_refused(listening_port: int) -> None:
    with pytest.raises(preflight.PreflightError, match=f"port {listening_port} on 127.0.0.1 is in use"):
        preflight.check_port(listening_port)
    with pytest.raises(preflight.PreflightError, match="not a TCP port"):
        preflight.check_port(70000)
    preflight.check_port(0)  # 0: a free one is picked later


def test_environments_are_the_ones_cdk_json_defines() -> None:
    # The same environments the CDK app reads (infra_cdk/config.py), from the same file
    assert preflight.environment_names(REPO) == sorted(
        read_cdk_json_context(REPO / "cdk.json")[ENVIRONMENTS_KEY]
    )
    preflight.check_environment("local", REPO)
    with pytest.raises(
        preflight.PreflightError, match=r"unknown environment 'nope': cdk.json defines dev, local"
    ):
        preflight.check_environment("nope", REPO)


def test_up_env_choices_come_from_cdk_json(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a checkout whose cdk.json defines alpha and beta
    # When `up --env local` is parsed, Then argparse refuses it (exit 2) and offers alpha and beta
    with pytest.raises(SystemExit) as exited:
        cli.main(["up", "--env", "local"])
    assert exited.value.code == 2
    assert "invalid choice: 'local' (choose from 'alpha', 'beta')" in capsys.readouterr().err


def test_up_refuses_a_taken_port_before_any_work(
    listening_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _refuse_engine(monkeypatch)
    assert cli.main(["up", "--port", str(listening_port)]) == 2
    assert f"controlroom up: port {listening_port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_up_refuses_a_cdk_out_that_is_not_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _refuse_engine(monkeypatch)
    assert cli.main(["up", "--port", "0", "--cdk-out", str(tmp_path)]) == 2
    assert "not a synthesized cloud assembly (no manifest.json)" in capsys.readouterr().err
    # A cloud assembly of another environment's stack
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "controlroom-dev.template.json").write_text("{}")
    assert cli.main(["up", "--port", "0", "--env", "local", "--cdk-out", str(tmp_path)]) == 2
    assert "holds no stack for env 'local' (it holds: controlroom-dev)" in capsys.readouterr().err
    preflight.check_cdk_out(tmp_path, "dev")


def test_demo_refuses_before_any_work(
    listening_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _refuse_engine(monkeypatch)
    # Given stdin is not a terminal
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    # Then the demo without --decision refuses with a usage error
    assert cli.main(["demo"]) == 2
    assert "controlroom demo: no terminal to ask on" in capsys.readouterr().err
    # And with --decision but a taken port, it refuses too (both flows)
    assert cli.main(["demo", "--decision", "approve", "--port", str(listening_port)]) == 2
    assert cli.main(["demo", "--flow", "deployment", "--port", str(listening_port)]) == 2
    assert capsys.readouterr().err.count(f"port {listening_port} on 127.0.0.1 is in use") == 2
