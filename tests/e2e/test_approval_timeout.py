"""No decision before the approval state's timeout: the link has expired, the flow escalates."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from controlroom.contracts import ApprovalStatus, IncidentStatus

from .conftest import alarm_event, finished, fire_one, history_states, shared_synth

pytestmark = pytest.mark.e2e

APPROVAL_TIMEOUT_SECONDS = 8


@pytest.fixture(scope="module")
def short_timeout_cdk_out(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, cdk_out: Path
) -> Path:
    return shared_synth(
        tmp_path_factory, pytestconfig, "local", approval_timeout_seconds=APPROVAL_TIMEOUT_SECONDS
    )


def test_unanswered_approval_expires_then_escalates(session_engine, short_timeout_cdk_out, cdk_out):
    client = session_engine.redeploy(seed_world=True, cdk_out=short_timeout_cdk_out).client
    try:
        execution_arn = fire_one(client, alarm_event())
        incident_id = client.incident_id(execution_arn)
        approval = client.wait_for_approval(incident_id, execution_arn)
        link = client.wait_for_links(approval.approval_id)[0]
        # The link expires before the state times out
        assert (approval.expires_at - approval.created_at).total_seconds() < APPROVAL_TIMEOUT_SECONDS
        # When nobody decides
        view = finished(client, execution_arn, timeout=60)
        # Then the flow escalates on the timeout and nothing was executed
        assert view.terminal_state == "Escalated"
        states = history_states(client, execution_arn)
        assert "ReasonApprovalTimeout" in states and "Execute" not in states
        assert client.incident(incident_id).status is IncidentStatus.ESCALATED
        assert client.checkpoint.get_approval(approval.approval_id).status is ApprovalStatus.EXPIRED
        # And a late click on the link is refused as expired
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(link, timeout=10)
        assert refused.value.code == 410
    finally:
        session_engine.cdk_out = cdk_out
