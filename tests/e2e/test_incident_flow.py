"""The incident flow end to end: the real ASL on moto's interpreter, the real handlers in-process."""

from __future__ import annotations

import pytest

from controlroom.contracts import IncidentStatus
from controlroom.local.world import BAD_VERSION, DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one, history_states

pytestmark = pytest.mark.e2e

AGENTS_BEFORE_APPROVAL = ["intake", "evidence", "diagnose", "plan", "policy", "request_approval"]


def _alias_version(client) -> str:
    return client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)["FunctionVersion"]


def _await_approval(client, execution_arn):
    incident_id = client.incident_id(execution_arn)
    assert incident_id, "Intake should have opened an incident"
    return incident_id, client.wait_for_approval(incident_id, execution_arn, timeout=60)


def test_approved_plan_rolls_back_and_resolves(client):
    # Given the demo workload: alias live serves bad version 2 and its error alarm fired
    execution_arn = fire_one(client, alarm_event())
    incident_id, approval = _await_approval(client, execution_arn)
    assert _alias_version(client) == BAD_VERSION, "nothing may change before a human approves"
    # When the on-call approves the plan
    outcome = client.decide(approval.approval_id, "approve", "cli:test")
    assert outcome.decided
    # Then the flow executes the rollback, verifies recovery and closes Resolved
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Resolved")
    assert _alias_version(client) == GOOD_VERSION
    assert client.incident(incident_id).status is IncidentStatus.RESOLVED
    agents = [record.agent for record in client.timeline(incident_id)]
    assert agents[: len(AGENTS_BEFORE_APPROVAL)] == AGENTS_BEFORE_APPROVAL
    assert {"execute", "verify", "close"} <= set(agents)
    states = history_states(client, execution_arn)
    assert states.index("RequestApproval") < states.index("Execute") < states.index("Verify")
    assert client.verify_audit(incident_id).ok


def test_rejected_plan_changes_nothing(client):
    execution_arn = fire_one(client, alarm_event())
    incident_id, approval = _await_approval(client, execution_arn)
    # When the on-call rejects
    client.decide(approval.approval_id, "reject", "cli:test", comment="not during the sale")
    # Then the flow ends Rejected, Execute never ran, the alias is untouched
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Rejected")
    assert "Execute" not in history_states(client, execution_arn)
    assert _alias_version(client) == BAD_VERSION
    assert client.incident(incident_id).status is IncidentStatus.REJECTED
    kinds = [record.kind for record in client.audit.records(incident_id)]
    assert "approval_decision" in kinds
    assert client.verify_audit(incident_id).ok


def test_evidence_tool_failure_degrades_but_completes(client):
    # Given the service's log group is gone, so the logs tool fails
    client.aws("logs").delete_log_group(logGroupName=f"/aws/lambda/{DEMO_FUNCTION}")
    execution_arn = fire_one(client, alarm_event())
    incident_id, approval = _await_approval(client, execution_arn)
    client.decide(approval.approval_id, "approve", "cli:test")
    # Then the incident still resolves, and Evidence says what is missing
    view = finished(client, execution_arn)
    assert view.terminal_state == "Resolved"
    evidence = next(r for r in client.timeline(incident_id) if r.agent == "evidence")
    assert evidence.status == "ok"
    missing = evidence.output["missing"]
    assert [m["tool"] for m in missing] and all("log" in m["tool"] for m in missing)
