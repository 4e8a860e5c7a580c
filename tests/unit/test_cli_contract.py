"""The CLI's contract with scripts: every --json shape, every exit code, errors on stderr, help and version.

The engine is a fake holding real contract objects (incidents, approvals, briefs, audit reports), so
each shape and code is checked without starting moto; tests/e2e/test_cli_engine.py runs the same
commands against a real local engine.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from controlroom.contracts import ApprovalRecord, ApprovalVote, IncidentStatus, utcnow
from controlroom.contracts.approval import ApprovalBrief, BriefAction
from controlroom.errors import ApprovalAlreadyDecided, ApprovalNotFound, IncidentNotFound
from controlroom.local import cli
from controlroom.local.client import EngineClient, EngineNotRunning, ExecutionView
from controlroom.store import AuditVerification, IncidentItem
from tests.unit.test_approval_support import incident

REPO = Path(__file__).resolve().parents[2]
EVENT = str(REPO / "events" / "alarm_lambda_errors.json")
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:controlroom-local-incident:inc-00000000000000a1"


def _item(
    incident_id: str,
    status: IncidentStatus,
    hours_ago: float,
    summary: str = "",
    alarm: str = "checkout-errors",
) -> IncidentItem:
    opened = utcnow() - timedelta(hours=hours_ago)
    ref = incident(alarm).model_copy(update={"incident_id": incident_id, "opened_at": opened})
    return IncidentItem(
        incident=ref, status=status, updated_at=opened.isoformat(), execution_arn=EXECUTION, summary=summary
    )


def _approval(approval_id: str, minutes_left: float, votes: int = 0) -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id=approval_id,
        incident_id="inc-00000000000000a1",
        plan_digest="p" * 64,
        approvers=["alice@example.com", "bob@example.com"],
        required_approvals=2,
        created_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(minutes=minutes_left),
        votes=[
            ApprovalVote(
                approver="alice@example.com", verdict="approve", decided_at=now, plan_digest="p" * 64
            )
        ][:votes],
    )


def _brief(approval_id: str) -> ApprovalBrief:
    rollback = BriefAction(
        action_id="act-1",
        action_type="rollback_lambda_alias",
        target="lambda:checkout-api:live",
        risk="medium",
        parameters={
            "function_name": "checkout-api",
            "alias": "live",
            "from_version": "2",
            "target_version": "1",
        },
    )
    notify = BriefAction(action_id="act-2", action_type="notify_only", target="notification", risk="none")
    now = utcnow()
    return ApprovalBrief(
        approval_id=approval_id,
        incident_id="inc-00000000000000a1",
        environment="prod",
        alarm_name="checkout-errors",
        fired_at=now,
        resource="lambda_function:checkout-api:live",
        diagnosis_cause="bad deploy",
        diagnosis_summary="version 2",
        confidence=0.9,
        diagnosis_produced_by="fallback",
        plan_summary="roll back",
        plan_digest="p" * 64,
        actions=[rollback, notify],
        expires_at=now,
    )


LIVE = "apr-" + "1" * 32
STALE = "apr-" + "2" * 32


class FakeEngine:
    """The EngineClient calls the CLI makes, answered from real contract objects."""

    def __init__(self) -> None:
        self.items = [
            _item("inc-00000000000000a1", IncidentStatus.AWAITING_APPROVAL, 1),
            _item("inc-00000000000000a2", IncidentStatus.RESOLVED, 3, "rolled back; the alarm is OK"),
            _item("inc-00000000000000a3", IncidentStatus.ESCALATED, 2, "policy denied the plan"),
        ]
        self.approvals = [_approval(LIVE, 30, votes=1), _approval(STALE, -5)]
        self.started: list[str] = [EXECUTION]
        self.end = ExecutionView(EXECUTION, "SUCCEEDED", "Resolved", {}, None, None)
        self.reports: dict[str, AuditVerification] = {}
        self.sfn = self

    # incidents and approvals
    def incidents(self, status: IncidentStatus | None = None) -> list[IncidentItem]:
        chosen = [item for item in self.items if status is None or item.status is status]
        return sorted(chosen, key=lambda item: item.incident.opened_at, reverse=True)

    def incident(self, incident_id: str) -> IncidentItem:
        for item in self.items:
            if item.incident.incident_id == incident_id:
                return item
        raise IncidentNotFound(f"no incident {incident_id}")

    def pending_approvals(self) -> list[ApprovalRecord]:
        return list(self.approvals)

    def approval_brief(self, approval_id: str) -> ApprovalBrief | None:
        return _brief(approval_id) if approval_id == LIVE else None

    def decide(self, approval_id: str, verdict: str, approver: str, comment: str = "") -> Any:
        if approval_id == STALE:
            raise ApprovalAlreadyDecided(f"{approval_id} was decided before")
        raise ApprovalNotFound(f"no approval {approval_id}")

    def inbox(self) -> list[dict[str, Any]]:
        return [
            {
                "message_id": "m-1",
                "source": "controlroom@example.com",
                "to": ["alice@example.com"],
                "subject": "Approve: roll back checkout-api",
                "links": ["http://127.0.0.1:1/approvals/apr-1?sig=x"],
            }
        ]

    # events and executions
    def fire(self, event: dict[str, Any]) -> list[str]:
        return list(self.started)

    def incident_id(self, execution_arn: str) -> str | None:
        return "inc-00000000000000a1"

    def wait(self, execution_arn: str, timeout: float = 120.0) -> ExecutionView:
        return self.end

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"input": "{}"}

    def verify_audit(self, incident_id: str) -> AuditVerification:
        return self.reports.get(
            incident_id,
            AuditVerification(
                chain_id=incident_id, ok=False, records=0, status="not_found", reason="no audit records"
            ),
        )


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    # Every command finds its engine through the state file: this one finds the fake.
    monkeypatch.setattr(EngineClient, "from_state_file", classmethod(lambda cls, path=None: fake))
    return fake


def _json(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = cli.EXIT_OK) -> Any:
    assert cli.main(argv) == code
    captured = capsys.readouterr()
    return json.loads(captured.out)  # the whole of stdout is one document


# --json shapes -------------------------------------------------------------------------------------
INCIDENT_KEYS = {
    "incident_id",
    "status",
    "environment",
    "alarm_name",
    "resource",
    "opened_at",
    "updated_at",
    "end_reason",
    "execution_arn",
}


def test_incidents_json_lists_newest_first_with_the_end_reason_of_ended_ones(engine, capsys):
    document = _json(capsys, ["incidents", "--json"])
    assert set(document) == {"status_filter", "incidents"} and document["status_filter"] is None
    rows = document["incidents"]
    assert [row["incident_id"] for row in rows] == [
        "inc-00000000000000a1",
        "inc-00000000000000a3",
        "inc-00000000000000a2",
    ]
    assert all(set(row) == INCIDENT_KEYS for row in rows)
    assert rows[0]["end_reason"] is None and rows[0]["status"] == "AWAITING_APPROVAL"
    assert rows[1]["end_reason"] == "policy denied the plan"
    assert rows[0]["resource"] == "lambda_function:checkout:live"
    assert rows[0]["opened_at"] > rows[1]["opened_at"]  # ISO 8601 strings sort as times


def test_incidents_status_filter_takes_any_case_and_rejects_unknown_statuses(engine, capsys):
    document = _json(capsys, ["incidents", "--status", "resolved", "--json"])
    assert document["status_filter"] == "RESOLVED"
    assert [row["incident_id"] for row in document["incidents"]] == ["inc-00000000000000a2"]
    with pytest.raises(SystemExit) as usage:
        cli.main(["incidents", "--status", "SOLVED"])
    assert usage.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'SOLVED'" in capsys.readouterr().err


def test_incidents_text_shows_status_alarm_resource_and_why_it_ended(engine, capsys):
    assert cli.main(["incidents"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    first = out.splitlines()[1]
    assert first.split()[:2] == ["inc-00000000000000a1", "AWAITING_APPROVAL"]
    assert "checkout-errors on lambda_function:checkout:live" in first
    assert "ended: policy denied the plan" in out and "ended: rolled back" in out


APPROVAL_KEYS = {
    "approval_id",
    "incident_id",
    "environment",
    "alarm_name",
    "action",
    "risk",
    "approvals",
    "required_approvals",
    "approvers",
    "expires_at",
    "seconds_left",
    "expired",
}


def test_approvals_json_hides_expired_ones_and_says_how_many(engine, capsys):
    document = _json(capsys, ["approvals", "--json"])
    assert set(document) == {"approvals", "hidden_expired"} and document["hidden_expired"] == 1
    (row,) = document["approvals"]
    assert set(row) == APPROVAL_KEYS
    assert row["approval_id"] == LIVE and row["expired"] is False
    assert row["alarm_name"] == "checkout-errors" and row["environment"] == "prod"
    assert row["action"] == "Roll back checkout-api alias live from v2 to v1 (and 1 more action)"
    assert row["risk"] == "medium"  # the highest of medium and none
    assert (row["approvals"], row["required_approvals"]) == (1, 2)
    assert 29 * 60 < row["seconds_left"] <= 30 * 60


def test_approvals_all_shows_expired_ones_and_text_shows_risk_votes_and_time_left(engine, capsys):
    document = _json(capsys, ["approvals", "--all", "--json"])
    assert [row["approval_id"] for row in document["approvals"]] == [STALE, LIVE]  # soonest expiry first
    stale = document["approvals"][0]
    assert stale["expired"] is True and stale["seconds_left"] == 0 and stale["action"] is None
    assert cli.main(["approvals"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    live_line = next(line for line in out.splitlines() if line.startswith(LIVE))
    assert " medium " in live_line and " 1/2 " in live_line and "checkout-errors" in live_line
    assert "29m" in live_line or "30m" in live_line
    assert "from v2 to v1" in out and STALE not in out
    assert "1 expired approval(s) hidden; --all shows them" in out


def test_inbox_json_lists_recipients_subject_and_links(engine, capsys):
    document = _json(capsys, ["inbox", "--json"])
    assert document == {
        "emails": [
            {
                "to": ["alice@example.com"],
                "subject": "Approve: roll back checkout-api",
                "links": ["http://127.0.0.1:1/approvals/apr-1?sig=x"],
            }
        ]
    }


FIRED_KEYS = {"execution_arn", "incident_id", "status", "end_state", "reason"}


def test_fire_prints_the_incident_id_and_its_json_names_the_execution(engine, capsys):
    assert cli.main(["fire", EVENT, "--now"]) == cli.EXIT_OK
    assert capsys.readouterr().out == f"incident inc-00000000000000a1: execution {EXECUTION}\n"
    document = _json(capsys, ["fire", EVENT, "--json"])
    assert set(document) == {"event_file", "waited", "executions", "duplicate_of"}
    assert document["waited"] is False and document["duplicate_of"] is None
    (execution,) = document["executions"]
    assert set(execution) == FIRED_KEYS
    assert execution["incident_id"] == "inc-00000000000000a1" and execution["end_state"] is None


def test_fire_wait_exits_0_only_when_resolved_and_says_why_it_ended(engine, capsys):
    engine.items[0] = _item("inc-00000000000000a1", IncidentStatus.RESOLVED, 1, "rolled back to v1; alarm OK")
    document = _json(capsys, ["fire", EVENT, "--wait", "--json"])
    assert document["executions"][0] | {"execution_arn": None} == {
        "execution_arn": None,
        "incident_id": "inc-00000000000000a1",
        "status": "SUCCEEDED",
        "end_state": "Resolved",
        "reason": "rolled back to v1; alarm OK",
    }
    # When the flow ends Escalated instead
    engine.items[0] = _item("inc-00000000000000a1", IncidentStatus.ESCALATED, 1, "policy denied the plan")
    engine.end = ExecutionView(EXECUTION, "SUCCEEDED", "Escalated", {}, None, None)
    assert cli.main(["fire", EVENT, "--wait"]) == cli.EXIT_FAILED
    assert "ended Escalated (SUCCEEDED): policy denied the plan" in capsys.readouterr().out


def test_fire_that_starts_nothing_fails_on_stderr_or_names_the_incident_it_folded_into(engine, capsys):
    # Given an event no rule matches (and no open incident of its alarm)
    engine.started = []
    engine.items = [item for item in engine.items if item.status.is_terminal]
    assert cli.main(["fire", EVENT]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("controlroom: error: no rule matched this event")
    # Given the alarm already has an open incident (Intake folds a duplicate before starting anything)
    alarm_name = json.loads(Path(EVENT).read_text())["detail"]["alarmName"]
    engine.items.append(_item("inc-00000000000000b1", IncidentStatus.OPEN, 0.1, alarm=alarm_name))
    document = _json(capsys, ["fire", EVENT, "--json"])
    assert document["duplicate_of"] == "inc-00000000000000b1" and document["executions"] == []


def test_fire_wait_past_its_timeout_exits_1_naming_the_state_it_is_stuck_in(engine, monkeypatch, capsys):
    def stuck(execution_arn: str, timeout: float = 120.0) -> ExecutionView:
        raise TimeoutError(f"{execution_arn} still RUNNING after {timeout:.0f}s (in state WaitForApproval)")

    monkeypatch.setattr(engine, "wait", stuck)
    assert cli.main(["fire", EVENT, "--wait", "--timeout", "5", "--json"]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        captured.err == f"controlroom: error: {EXECUTION} still RUNNING after 5s (in state WaitForApproval)\n"
    )


def test_ctrl_c_exits_130_quietly(engine, monkeypatch, capsys):
    def interrupted(status: Any = None) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "incidents", interrupted)
    assert cli.main(["incidents"]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr() == ("", "")


AUDIT_KEYS = {"chain_id", "ok", "records", "status", "first_bad_seq", "reason", "legacy_records"}


def test_audit_verify_json_and_its_three_exit_codes(engine, capsys):
    engine.reports["inc-00000000000000a1"] = AuditVerification(
        chain_id="inc-00000000000000a1", ok=True, records=9, status="verified"
    )
    engine.reports["inc-00000000000000a2"] = AuditVerification(
        chain_id="inc-00000000000000a2", ok=False, records=4, status="broken", first_bad_seq=3, reason="gap"
    )
    verified = _json(capsys, ["audit", "verify", "inc-00000000000000a1", "--json"])
    assert set(verified) == AUDIT_KEYS and verified["status"] == "verified" and verified["records"] == 9
    broken = _json(capsys, ["audit", "verify", "inc-00000000000000a2", "--json"], cli.EXIT_FAILED)
    assert broken["status"] == "broken" and broken["first_bad_seq"] == 3
    # An id nothing was audited under is "not found" (4), not BROKEN
    assert cli.main(["audit", "verify", "inc-00000000000000ff"]) == cli.EXIT_NOT_FOUND
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "inc-00000000000000ff: not found" in captured.err and "BROKEN" not in captured.err
    missing = _json(capsys, ["audit", "verify", "inc-00000000000000ff", "--json"], cli.EXIT_NOT_FOUND)
    assert missing["status"] == "not_found" and missing["ok"] is False


# exit codes and stderr ------------------------------------------------------------------------------
def test_exit_codes_are_distinct_and_listed_in_the_help(capsys):
    codes = [cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_NO_ENGINE, cli.EXIT_NOT_FOUND]
    assert codes == [0, 1, 2, 3, 4]
    assert cli.EXIT_CLOSED_PIPE == 141 and cli.EXIT_INTERRUPTED == 130
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for code, meaning in (
        (0, "done"),
        (1, "what you asked failed"),
        (2, "usage"),
        (3, "no engine"),
        (4, "not found"),
    ):
        assert f"  {code}    {meaning}" in out


def test_unknown_ids_exit_4_with_the_id_on_stderr(engine, capsys):
    assert cli.main(["approve", "apr-" + "9" * 32]) == cli.EXIT_NOT_FOUND
    assert capsys.readouterr().err == f"controlroom: error: not found: no approval apr-{'9' * 32}\n"
    for command in ("trace", "replay", "answer"):
        argv = [command, "inc-00000000000000ff"] + (["did_this"] if command == "answer" else [])
        assert cli.main(argv) == cli.EXIT_NOT_FOUND, command
        assert capsys.readouterr().err == "controlroom: error: not found: no incident inc-00000000000000ff\n"


def test_a_refused_decision_exits_1_without_a_traceback(engine, capsys):
    assert cli.main(["reject", STALE, "--comment", "too late"]) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.err == f"controlroom: error: {STALE} was decided before\n" and captured.out == ""


def test_no_engine_exits_3_for_every_engine_command(monkeypatch, tmp_path, capsys):
    # Given no state file (no `controlroom up` in this checkout)
    monkeypatch.setattr("controlroom.local.client.state_dir", lambda: tmp_path)
    for argv in (
        ["incidents"],
        ["approvals", "--json"],
        ["inbox"],
        ["fire", EVENT],
        ["audit", "verify", "inc-1"],
    ):
        assert cli.main(argv) == cli.EXIT_NO_ENGINE, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        assert (
            captured.err.startswith("controlroom: error: no local engine is running")
            and "Traceback" not in captured.err
        )


def test_a_state_file_whose_engine_is_gone_exits_3(monkeypatch, tmp_path, capsys):
    from controlroom.local.server import free_port

    state = {
        "endpoint": f"http://127.0.0.1:{free_port()}",
        "outputs": {"CheckpointTableName": "c", "AuditTableName": "a", "AuditKeyArn": "arn:k"},
    }
    (tmp_path / "local.json").write_text(json.dumps(state))
    monkeypatch.setattr("controlroom.local.client.state_dir", lambda: tmp_path)
    assert cli.main(["incidents", "--json"]) == cli.EXIT_NO_ENGINE
    captured = capsys.readouterr()
    assert captured.out == "" and "does not answer" in captured.err


def test_an_engine_dying_mid_command_exits_3_not_a_traceback(engine, monkeypatch, capsys):
    from botocore.exceptions import EndpointConnectionError

    def gone(status: Any = None) -> Any:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")

    monkeypatch.setattr(engine, "incidents", gone)
    assert cli.main(["incidents"]) == cli.EXIT_NO_ENGINE
    assert "Could not connect to the endpoint URL" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as unknown:
        cli.main(["incident"])
    assert unknown.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'incident'" in capsys.readouterr().err
    # A missing event file is bad usage too, said on stderr in one line
    assert cli.main(["fire", str(tmp_path / "none.json")]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.startswith("controlroom: error: cannot read event file")


def test_a_bug_keeps_its_traceback(engine, monkeypatch):
    # Only the errors we expect are turned into a line: anything else must stay visible.
    monkeypatch.setattr(engine, "incidents", lambda status=None: [None])
    with pytest.raises(AttributeError):
        cli.main(["incidents"])


def test_engine_not_running_is_no_longer_a_usage_error():
    from controlroom.local.cli_output import exit_code_of

    assert exit_code_of(EngineNotRunning("down")) == cli.EXIT_NO_ENGINE != cli.EXIT_USAGE


# help and version ----------------------------------------------------------------------------------
def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"controlroom {metadata.version('controlroom')}\n"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


# demo's and up's parser lines belong to their owner (demo --flow has no help, neither has examples yet);
# drop them from this set once they do.
ELSEWHERE: set[tuple[str, ...]] = set()


def test_every_command_has_examples_and_every_argument_has_help():
    for path, parser in _commands(cli._parser())[1:]:
        if path in ELSEWHERE:
            continue
        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
        if leaf:
            assert parser.epilog and "examples:\n  controlroom " + " ".join(path) in parser.epilog, path
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help, (
                f"controlroom {' '.join(path)}: {action.option_strings or action.dest} has no help"
            )


def test_every_read_command_takes_json():
    commands = dict(_commands(cli._parser()))
    for path in (
        ("incidents",),
        ("approvals",),
        ("inbox",),
        ("fire",),
        ("audit", "verify"),
        ("eval", "rca"),
        ("scorecard",),
    ):
        assert "--json" in commands[path]._option_string_actions, path
