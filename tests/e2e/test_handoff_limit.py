"""The handoff bound: a flow that keeps looping through Verify stops at ReasonHandoffLimit and escalates."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlroom.contracts import IncidentStatus

from .conftest import alarm_event, finished, fire_one, history_states, shared_synth

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def one_handoff_cdk_out(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, cdk_out: Path
) -> Path:
    # One handoff allowed, three verify attempts: the handoff bound is the one that trips.
    return shared_synth(tmp_path_factory, pytestconfig, "local", max_handoffs=1, max_verify_attempts=3)


def test_the_handoff_limit_escalates_a_flow_that_does_not_recover(
    session_engine, one_handoff_cdk_out, cdk_out
):
    engine = session_engine.redeploy(seed_world=True, cdk_out=one_handoff_cdk_out)
    client = engine.client
    try:
        # Given a workload that stays broken after the rollback (the simulated CloudWatch is stopped)
        engine.world.stop_simulator()
        execution_arn = fire_one(client, alarm_event())
        incident_id = client.incident_id(execution_arn)
        approval = client.wait_for_approval(incident_id, execution_arn)
        client.decide(approval.approval_id, "approve", "cli:test")
        # When Verify does not see recovery
        view = finished(client, execution_arn, timeout=90)
        # Then the loop guard stops it at the handoff limit, before the verify attempts run out
        states = history_states(client, execution_arn)
        assert states.count("Verify") == 1
        assert "ReasonHandoffLimit" in states and "ReasonNotRecovered" not in states
        assert (view.status, view.terminal_state) == ("SUCCEEDED", "Escalated")
        assert client.incident(incident_id).status is IncidentStatus.ESCALATED
        escalation = next(r for r in client.timeline(incident_id) if r.agent == "escalate")
        assert escalation.output["reason"] == "handoff_limit"
    finally:
        session_engine.cdk_out = cdk_out
