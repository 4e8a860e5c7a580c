"""The `controlroom` commands against a running local engine, as an operator's script drives them.

The engine runs in this process; the commands find it through the state file, as they find
`controlroom up` (main([...]) in-process, and once as a child process on a closed pipe).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlroom.local import cli
from controlroom.local.client import EngineClient
from controlroom.local.engine import LocalEngine

from .conftest import EVENTS, REPO

pytestmark = pytest.mark.e2e

EVENT = str(EVENTS / "alarm_lambda_errors.json")


@pytest.fixture(scope="module")
def home(session_engine: LocalEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A checkout of this module's own (its .controlroom/ holds the state file) with the engine in it."""
    home = tmp_path_factory.mktemp("home")
    for name in ("functions", "stepfunctions", "cdk.json"):
        (home / name).symlink_to(REPO / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTROLROOM_HOME", str(home))
        yield home
        (home / ".controlroom" / "local.json").unlink(missing_ok=True)


@pytest.fixture
def client(home: Path, session_engine: LocalEngine) -> EngineClient:
    """A clean account with the demo workload (alias live on the bad version), for each test."""
    engine = session_engine.redeploy(seed_world=True)
    engine.write_state_file()  # a redeploy makes new resources (the audit key): tell the commands
    assert engine.client is not None
    return engine.client


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = cli.EXIT_OK) -> Any:
    got, out, err = _run(capsys, *argv)
    assert got == code, err
    return json.loads(out)


def test_an_incident_driven_end_to_end_through_the_cli(client, capsys):
    # When an operator fires the sample alarm
    fired = _json(capsys, "fire", EVENT, "--now", "--json")
    (execution,) = fired["executions"]
    incident_id = execution["incident_id"]
    assert incident_id.startswith("inc-") and execution["execution_arn"].endswith(f":{incident_id}")
    approval = client.wait_for_approval(incident_id, execution["execution_arn"])
    client.wait_for_links(approval.approval_id)
    # Then `incidents` lists it, waiting for a human
    listed = _json(capsys, "incidents", "--json")["incidents"]
    assert [(row["incident_id"], row["status"]) for row in listed] == [(incident_id, "AWAITING_APPROVAL")]
    assert listed[0]["alarm_name"] == "checkout-api-errors" and listed[0]["end_reason"] is None
    # And `approvals` says what approving would do, how risky it is and how long is left
    (row,) = _json(capsys, "approvals", "--json")["approvals"]
    assert row["approval_id"] == approval.approval_id and row["incident_id"] == incident_id
    assert row["action"] == "Roll back checkout-api alias live from v2 to v1"
    assert row["risk"] == "medium" and row["seconds_left"] > 60 and row["expired"] is False
    # And the inbox holds the email with its signed link
    emails = _json(capsys, "inbox", "--json")["emails"]
    assert any(approval.approval_id in link for email in emails for link in email["links"])
    # When it is approved from the CLI
    code, out, _ = _run(capsys, "approve", approval.approval_id, "--comment", "checked")
    assert code == cli.EXIT_OK and "decided by cli:" in out
    assert client.wait(execution["execution_arn"]).terminal_state == "Resolved"
    # Then it is listed as resolved, with why, and its audit chain verifies
    (resolved,) = _json(capsys, "incidents", "--status", "resolved", "--json")["incidents"]
    assert resolved["incident_id"] == incident_id and resolved["end_reason"]
    assert _json(capsys, "incidents", "--status", "ESCALATED", "--json")["incidents"] == []
    report = _json(capsys, "audit", "verify", incident_id, "--json")
    assert (report["status"], report["ok"]) == ("verified", True) and report["records"] > 5
    card = _json(capsys, "scorecard", "--json", "--publish")  # the publish line goes to stderr
    assert {"environment", "incidents", "kinds", "rows", "notes"} <= set(card)
    assert card["environment"] == "local" and card["incidents"] == 1


def _decide_when_asked(client: EngineClient, verdict: str) -> threading.Thread:
    """A human in another terminal: decides the first approval that shows up."""

    def decide() -> None:
        approval = next(iter(client.checkpoint.pending_approvals()), None)
        while approval is None:
            threading.Event().wait(0.1)
            approval = next(iter(client.checkpoint.pending_approvals()), None)
        client.decide(approval.approval_id, verdict, "cli:other-terminal")

    thread = threading.Thread(target=decide, daemon=True)
    thread.start()
    return thread


def _cli_process(home: Path, *argv: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    """`controlroom ARGV` as its own process, finding the engine through the state file as it finds `up`."""
    environment = {**os.environ, "CONTROLROOM_HOME": str(home), "PYTHONPATH": str(REPO / "layers")}
    return subprocess.run(
        [sys.executable, "-m", "controlroom.local.cli", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=environment,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(
    ("verdict", "end_state", "code"), [("approve", "Resolved", 0), ("reject", "Rejected", 1)]
)
def test_fire_wait_reports_the_end_state_and_exits_by_it(client, home, verdict, end_state, code):
    # Given a human who decides in another terminal when asked
    decider = _decide_when_asked(client, verdict)
    # When a script fires the alarm and waits, in a process of its own (the agents run in the engine's)
    result = _cli_process(home, "fire", EVENT, "--now", "--wait", "--json")
    decider.join(timeout=10)
    # Then it exits by the end state, and its stdout is the one JSON document
    assert result.returncode == code, result.stderr.decode()
    fired = json.loads(result.stdout)
    (execution,) = fired["executions"]
    assert fired["waited"] is True
    assert (execution["status"], execution["end_state"]) == ("SUCCEEDED", end_state)
    incident = client.incident(execution["incident_id"])
    assert execution["reason"] == incident.summary and execution["reason"]


def test_unknown_ids_are_not_found_not_broken(client, capsys):
    unknown_incident, unknown_approval = "inc-0000000000000000", "apr-" + "0" * 32
    code, out, err = _run(capsys, "audit", "verify", unknown_incident)
    assert (code, out) == (cli.EXIT_NOT_FOUND, "")
    assert "not found" in err and "BROKEN" not in err
    for argv in (
        ["trace", unknown_incident],
        ["trace", "dep-0000000000000000"],
        ["approve", unknown_approval],
    ):
        code, out, err = _run(capsys, *argv)
        assert (code, out) == (cli.EXIT_NOT_FOUND, ""), argv
        assert err.startswith("controlroom: error: not found: no ") and "Traceback" not in err


def _closed_pipe_run(home: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a child process whose stdout's reader is already gone (`| head -c0`, deterministic)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return _cli_process(home, *argv, stdout=write_end)
    finally:
        os.close(write_end)


def test_a_closed_pipe_exits_141_without_a_traceback(client, home):
    # Given an incident, so `incidents` has rows to print
    client.fire(_now_event())
    for argv in (["incidents", "--json"], ["--help"]):
        result = _closed_pipe_run(home, *argv)
        assert result.returncode == cli.EXIT_CLOSED_PIPE, (argv, result.stderr.decode())
        assert result.stderr == b"", argv


def _now_event() -> dict[str, Any]:
    from controlroom.local.world import load_event, restamp

    return restamp(load_event(Path(EVENT)))
