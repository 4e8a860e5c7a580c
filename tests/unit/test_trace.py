"""`controlroom trace`: the human votes, wall-clock times and waits, changes and missing evidence in full."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controlroom.contracts import (
    ApprovalRecord,
    ApprovalStatus,
    ApprovalVote,
    DecisionRecord,
    IncidentStatus,
)
from controlroom.contracts.deployment import GuardVerdict, ShiftResult, VersionStats
from controlroom.contracts.evidence import EvidenceBundle, MissingEvidence
from controlroom.contracts.execution import ActionResult, ExecutionReport
from controlroom.errors import ApprovalNotFound, IncidentNotFound
from controlroom.local import cli, trace, trace_text
from controlroom.store import IncidentItem
from controlroom.store.audit import AuditRecord
from tests.unit.test_policy_flow_state import INCIDENT_ID, incident, plan

T0 = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)
APPROVAL_ID = "apr-" + "ab" * 16
DEPLOYMENT_ID = "dep-00000000000000d1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(
    step: int, agent: str, start: float, *, output: Any = None, summary: str = "", **fields: Any
) -> DecisionRecord:
    dumped = output.model_dump(mode="json") if hasattr(output, "model_dump") else output
    return DecisionRecord(
        incident_id=fields.pop("incident_id", INCIDENT_ID),
        agent=agent,
        agent_version="0.1.0",
        function_version="4",
        flow_revision="sha256:ab12cd34ef56",
        step=step,
        status=fields.pop("status", "ok"),
        started_at=at(start),
        duration_ms=fields.pop("duration_ms", 200),
        input_digest="0" * 64,
        summary=summary or f"{agent} decided",
        output=dumped,
        **fields,
    )


def approval(*votes: tuple[str, str, str, float], required: int = 1, **fields: Any) -> ApprovalRecord:
    cast = [
        ApprovalVote(
            approver=who, verdict=verdict, comment=comment, decided_at=at(when), plan_digest="d" * 64
        )
        for who, verdict, comment, when in votes
    ]
    return ApprovalRecord(
        approval_id=APPROVAL_ID,
        incident_id=fields.pop("incident_id", INCIDENT_ID),
        plan_digest="d" * 64,
        approvers=["alice@example.com", "bob@example.com"],
        required_approvals=required,
        created_at=at(2),
        expires_at=at(2 + 900),
        votes=cast,
        **fields,
    )


def executed(detail: str) -> ExecutionReport:
    result = ActionResult(
        action_id="act-1",
        action_type="rollback_lambda_alias",
        status="succeeded",
        detail=detail,
        before={"function_version": "2"},
        after={"function_version": "1"},
    )
    return ExecutionReport(dry_run=False, plan_digest="d" * 64, results=[result], executed_at=at(110))


def incident_records(execute_detail: str = "alias live moved from 2 to 1") -> list[DecisionRecord]:
    """An approved incident: the approval requested at +2 s, Execute at +109 s, Verify after a 30 s wait."""
    evidence = EvidenceBundle(
        window_start=at(-3600),
        window_end=at(0),
        missing=[
            MissingEvidence(tool="logs", error_type="ResourceNotFoundException", message="log group is gone"),
            MissingEvidence(tool="changes", error_type="AccessDeniedException", message="not authorized"),
        ],
    )
    return [
        record(1, "intake", 0, context_passed=["event"]),
        record(2, "evidence", 0.3, output=evidence, context_passed=["intake"], left_out=["execution_arn"]),
        record(3, "plan", 1.0, output=plan()),
        record(
            4, "request_approval", 1.9, output={"approval_id": APPROVAL_ID, "expires_at": at(902).isoformat()}
        ),
        record(5, "execute", 109, output=executed(execute_detail), left_out=["diagnosis", "evidence"]),
        record(6, "verify", 139.2),
        record(7, "close", 139.5),
    ]


def item(status: IncidentStatus = IncidentStatus.RESOLVED) -> IncidentItem:
    """The incident, its alarm fired at T0 (the shared fixture's fires now)."""
    ref = incident()
    ref = ref.model_copy(update={"alarm": ref.alarm.model_copy(update={"fired_at": T0})})
    return IncidentItem(incident=ref, status=status, updated_at="now", summary="Resolved: rolled back.")


def approved() -> ApprovalRecord:
    return approval(
        ("alice@example.com", "approve", "rollback is safe, go", 108),
        status=ApprovalStatus.DECIDED,
        outcome="approve",
    )


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_the_human_vote_shows_approver_comment_and_time_and_the_wait_for_it():
    # Given an incident whose plan alice approved 1m46s after it was requested
    text = trace.timeline(item(), incident_records(), [approved()], width=120)
    # Then the vote names her, her comment and the time; the wait is said in words
    assert 'vote: approve by alice@example.com at 03:01:48: "rollback is safe, go"' in lines_of(text)
    assert "waited 1m46s for approval (requested 03:00:02, approved 03:01:48)" in lines_of(text)
    # And who else may approve, and how many approvals the plan needed
    assert (
        f"approval {APPROVAL_ID}: approved; 1 approval(s) needed, approvers alice@example.com, bob@example.com"
        in " ".join(text.split())
    )


def test_wall_clock_times_with_the_date_once_and_the_waits_between_steps():
    text = trace.timeline(item(), incident_records(), [approved()], width=120)
    # The header gives the date once; step lines the time of day (UTC)
    assert text.count("2026-12-01") == 2  # the alarm's fired time and the header's date line
    assert "times UTC on 2026-12-01: steps from 03:00:00 to 03:02:19 (2m20s)" in lines_of(text)
    step_times = {
        line.split()[2]: line.split()[1] for line in text.splitlines() if line.strip()[:1].isdigit()
    }
    assert step_times["intake"] == "03:00:00" and step_times["execute"] == "03:01:49"
    # A gap in which nothing ran (Verify's wait) is shown; the sub-second transitions are not
    assert "waited 30s before verify" in lines_of(text)
    assert sum(line.startswith("waited") for line in lines_of(text)) == 2


def test_a_step_on_the_next_day_shows_its_date():
    records = [record(1, "intake", 0), record(2, "evidence", 23 * 3600 + 30)]
    text = trace.timeline(item(), records, width=120)
    evidence_line = next(line for line in text.splitlines() if " evidence " in line)
    assert "2026-12-02 02:00:30" in evidence_line


def test_executes_change_is_never_truncated_but_wrapped():
    # Given a change whose result detail is far longer than the terminal is wide
    detail = "alias live moved from 2 to 1; " + " ".join(f"routing-entry-{n}-cleared" for n in range(30))
    text = trace.timeline(item(), incident_records(detail), [approved()], width=80)
    # Then the action, its target, from -> to and the whole result are there, wrapped, not cut
    flat = " ".join(text.split())
    assert (
        "change: act-1 rollback_lambda_alias on lambda:checkout:live: function_version 2 -> 1: succeeded: "
        + detail
    ) in flat
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines() if " " in line.strip())


def test_missing_evidence_tools_are_named_with_their_errors():
    text = trace.timeline(item(), incident_records(), [approved()], width=120)
    assert "missing evidence: logs (ResourceNotFoundException: log group is gone)" in lines_of(text)
    assert "missing evidence: changes (AccessDeniedException: not authorized)" in lines_of(text)


def test_context_passed_and_left_out_only_with_verbose():
    plain = trace.timeline(item(), incident_records(), [approved()], width=120)
    verbose = trace.timeline(item(), incident_records(), [approved()], width=120, verbose=True)
    assert "left out" not in plain and "context passed" not in plain
    assert "left out: diagnosis, evidence" in lines_of(verbose)
    assert "context passed: event" in lines_of(verbose)


def test_json_is_one_document_with_stable_keys_votes_and_waits():
    found = trace.incident_trace(item(), incident_records(), [approved()])
    document = json.loads(found.to_json())
    assert list(document) == [
        "kind",
        "id",
        "status",
        "environment",
        "subject",
        "started_at",
        "ended_at",
        "outcome",
        "flow_revisions",
        "steps",
        "approvals",
        "waits",
    ]
    assert (document["kind"], document["id"], document["status"]) == ("incident", INCIDENT_ID, "RESOLVED")
    steps = {step["agent"]: step for step in document["steps"]}
    assert steps["intake"]["started_at"] == "2026-12-01T03:00:00Z"
    assert steps["request_approval"]["approval_id"] == APPROVAL_ID
    assert steps["execute"]["changes"][0]["before"] == {"function_version": "2"}
    assert [m["tool"] for m in steps["evidence"]["missing_evidence"]] == ["logs", "changes"]
    assert steps["execute"]["left_out"] == ["diagnosis", "evidence"]
    (vote,) = document["approvals"][0]["votes"]
    assert vote == {
        "approver": "alice@example.com",
        "verdict": "approve",
        "comment": "rollback is safe, go",
        "decided_at": "2026-12-01T03:01:48Z",
    }
    assert document["approvals"][0]["waited_seconds"] == 106.0
    assert [(w["reason"], w["after_step"], w["before_step"], w["seconds"]) for w in document["waits"]] == [
        ("approval", 4, 5, 106.0),
        ("pause", 5, 6, pytest.approx(30.0)),
    ]


def test_n_of_m_rejection_is_decided_by_the_reject_and_lists_every_vote():
    record_ = approval(
        ("alice@example.com", "approve", "", 30),
        ("bob@example.com", "reject", "not during the sale", 62),
        required=2,
        status=ApprovalStatus.DECIDED,
        outcome="reject",
    )
    records = [*incident_records()[:4], record(5, "close", 63)]
    text = trace.timeline(item(IncidentStatus.REJECTED), records, [record_], width=120)
    assert "vote: approve by alice@example.com at 03:00:30 (no comment)" in lines_of(text)
    assert 'vote: reject by bob@example.com at 03:01:02: "not during the sale"' in lines_of(text)
    assert "waited 1m00s for approval (requested 03:00:02, rejected 03:01:02)" in lines_of(text)


def test_a_pending_approval_says_how_long_it_has_waited_and_when_it_expires():
    found = trace.incident_trace(
        item(IncidentStatus.AWAITING_APPROVAL), incident_records()[:4], [approval()], now=at(122)
    )
    text = trace_text.render(found, width=120)
    assert "waiting for approval since 03:00:02 (2m00s so far, expires 03:15:02)" in lines_of(text)
    assert "no votes" in lines_of(text)
    assert found.waits[-1].ended_at is None


def test_an_expired_approval_says_so():
    expired = approval(status=ApprovalStatus.EXPIRED)
    records = [*incident_records()[:4], record(5, "escalate", 905)]
    text = trace.timeline(item(IncidentStatus.ESCALATED), records, [expired], width=120)
    assert "waited 15m03s for approval: expired without a decision" in lines_of(text)


def deployment_records() -> list[DecisionRecord]:
    """A prod canary: approved by bob, 10 % baked 5 s, the guard failed it, traffic rolled back."""
    stats = {
        "stable": VersionStats(version="1", invocations=1000, errors=5, throttles=0, p99_ms=120.0),
        "canary": VersionStats(version="3", invocations=1000, errors=200, throttles=1, p99_ms=900.0),
    }
    guard = GuardVerdict(
        outcome="fail",
        reasons=["error rate canary 20.00% vs stable 0.50% (z=14.20, p=0.0000): significantly higher"],
        z_score=14.2,
        p_value=0.0,
        p99_ratio=7.5,
        extensions_left=2,
        window_start=at(64),
        window_end=at(69),
        **stats,
    )

    def shift(operation: str, weight: int, version: str, routing: dict[str, float]) -> ShiftResult:
        return ShiftResult(
            operation=operation,  # type: ignore[arg-type]
            step=0,
            weight_percent=weight,
            bake_seconds=5,
            alias_version=version,
            routing=routing,
            verified=True,
            shifted_at=at(64),
        )

    common = {"incident_id": DEPLOYMENT_ID}
    return [
        record(1, "deploy_preflight", 0, **common),
        record(2, "deploy_policy", 0.2, summary="approval: prod needs approval", **common),
        record(3, "deploy_approval", 0.4, output={"approval_id": APPROVAL_ID}, **common),
        record(4, "traffic_shifter", 63.8, output=shift("shift", 10, "1", {"3": 0.1}), **common),
        record(5, "slo_guard", 69.0, output=guard, summary="fail=[REDACTED:password] rate", **common),
        record(6, "traffic_shifter", 69.2, output=shift("rollback", 0, "1", {}), **common),
        record(
            7,
            "deploy_close",
            69.4,
            output={"incident_execution_arn": "arn:aws:states:x:1:execution:i"},
            **common,
        ),
    ]


def test_deployment_trace_shows_votes_bake_guard_readings_and_the_rollback():
    vote = approval(
        ("bob@example.com", "approve", "ship it", 62),
        status=ApprovalStatus.DECIDED,
        outcome="approve",
        incident_id=DEPLOYMENT_ID,
    )
    status = {"status": "ROLLED_BACK", "summary": "rolled back: the canary failed the SLO guard"}
    found = trace.deployment_trace(DEPLOYMENT_ID, status, deployment_records(), [vote])
    text = trace_text.render(found, width=120)
    assert text.splitlines()[0].startswith(f"deployment {DEPLOYMENT_ID}  status ROLLED_BACK")
    assert 'vote: approve by bob@example.com at 03:01:02: "ship it"' in lines_of(text)
    assert "waited 1m00s for approval (requested 03:00:02, approved 03:01:02)" in lines_of(text)
    assert "waited 5.0s while the canary baked at 10%" in lines_of(text)
    # The guard's readings, in words, for both versions; its garbled one-line summary is not what is shown
    assert "stable version 1: 1000 invocations, 5 errors (0.50%), 0 throttles, p99 120 ms" in lines_of(text)
    assert "canary version 3: 1000 invocations, 200 errors (20.00%), 1 throttles, p99 900 ms" in lines_of(
        text
    )
    assert "SLO guard fail, window 03:01:04-03:01:09: z 14.20, p 0.0000, p99 ratio 7.50" in lines_of(text)
    assert "REDACTED" not in text
    assert "rolled back: alias on version 1, routing cleared" in lines_of(text)
    assert "incident flow started: arn:aws:states:x:1:execution:i" in lines_of(text)
    document = json.loads(found.to_json())
    assert [w["reason"] for w in document["waits"]] == ["approval", "bake"]
    assert document["approvals"][0]["votes"][0]["approver"] == "bob@example.com"


# reading the engine and the command ---------------------------------------------------------------------
class FakeTable:
    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {}


class FakeCheckpoint:
    _table = FakeTable()

    def __init__(self, approvals: dict[str, ApprovalRecord]) -> None:
        self.approvals = approvals

    def incident_approval_id(self, incident_id: str) -> str | None:
        return None

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        if approval_id not in self.approvals:
            raise ApprovalNotFound(approval_id)
        return self.approvals[approval_id]


class FakeAudit:
    def __init__(self, records: list[AuditRecord]) -> None:
        self._records = records

    def records(self, chain_id: str) -> list[AuditRecord]:
        return self._records


class FakeClient:
    """The EngineClient calls trace.load makes, over in-memory records."""

    def __init__(self, approvals: dict[str, ApprovalRecord], audit: list[AuditRecord]) -> None:
        self.checkpoint, self.audit = FakeCheckpoint(approvals), FakeAudit(audit)

    def incident(self, incident_id: str) -> IncidentItem:
        if incident_id != INCIDENT_ID:
            raise IncidentNotFound(f"no incident {incident_id}")
        return item()

    def timeline(self, incident_id: str) -> list[DecisionRecord]:
        return incident_records() if incident_id == INCIDENT_ID else []


def audited(seq: int, kind: str, when: float, payload: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        chain_id=INCIDENT_ID,
        seq=seq,
        kind=kind,
        actor="test",
        recorded_at=at(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        payload=payload,
        prev_hash="0" * 64,
        hash="0" * 64,
    )


REQUESTED = {
    "approval_id": APPROVAL_ID,
    "plan_digest": "d" * 64,
    "approvers": ["alice@example.com"],
    "required_approvals": 1,
    "expires_at": "2026-12-01T03:15:02.000000Z",
}
DECIDED = {
    "approval_id": APPROVAL_ID,
    "approver": "alice@example.com",
    "verdict": "approve",
    "comment": "rollback is safe, go",
    "plan_digest": "d" * 64,
    "decided": True,
    "outcome": "approve",
}


def test_load_reads_the_approvals_the_audit_chain_names():
    client = FakeClient({APPROVAL_ID: approved()}, [audited(1, "approval_requested", 2, REQUESTED)])
    found = trace.load(client, INCIDENT_ID)
    assert [vote.approver for vote in found.approvals[0].votes] == ["alice@example.com"]


def test_an_approval_gone_from_the_checkpoint_table_is_rebuilt_from_the_audit_chain():
    # Given the approval item expired (TTL) but its audit records remain
    audit = [audited(1, "approval_requested", 2, REQUESTED), audited(2, "approval_decision", 108, DECIDED)]
    found = trace.load(FakeClient({}, audit), INCIDENT_ID)
    (view,) = found.approvals
    assert (view.status, view.outcome, view.waited_seconds) == ("DECIDED", "approve", 106.0)
    assert view.votes[0].comment == "rollback is safe, go"


def test_unknown_ids_are_not_found():
    with pytest.raises(IncidentNotFound):
        trace.load(FakeClient({}, []), "inc-0000000000000bad")
    with pytest.raises(IncidentNotFound):
        trace.load(FakeClient({}, []), "dep-0000000000000bad")


def test_the_command_prints_text_json_and_exits_4_for_an_unknown_id(monkeypatch, capsys):
    client = FakeClient({APPROVAL_ID: approved()}, [audited(1, "approval_requested", 2, REQUESTED)])
    monkeypatch.setattr(cli, "_client", lambda: client)
    assert cli.main(["trace", INCIDENT_ID]) == 0
    assert "vote: approve by alice@example.com" in capsys.readouterr().out
    assert cli.main(["trace", INCIDENT_ID, "--json"]) == 0
    assert (
        json.loads(capsys.readouterr().out)["approvals"][0]["votes"][0]["comment"] == "rollback is safe, go"
    )
    assert cli.main(["trace", INCIDENT_ID, "-v"]) == 0
    assert "left out: diagnosis, evidence" in capsys.readouterr().out
    assert cli.main(["trace", "inc-0000000000000bad", "--json"]) == 4
    captured = capsys.readouterr()
    assert captured.out == "" and "not found" in captured.err
