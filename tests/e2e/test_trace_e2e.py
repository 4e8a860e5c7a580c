"""`controlroom trace` after a real incident and a real deployment with a human approval: votes, waits, changes."""

from __future__ import annotations

import json
import re

import pytest

from controlroom.local import cli
from controlroom.local.deploy_cli import Deployments, request_event
from controlroom.local.deploy_world import DEPLOY_FUNCTION, HEALTHY_VERSION
from controlroom.local.world import BAD_VERSION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed: the in-process handlers' EMF lines share stdout here, not in a real CLI."""
    return "\n".join(line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"_aws"'))


def test_trace_shows_who_approved_with_the_comment_the_wait_and_the_change(engine, capsys):
    # Given the running engine's state file (what `controlroom up` writes) and an alarm that needs approval
    client = engine.client
    engine.write_state_file()
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    assert incident_id, "Intake should have opened an incident"
    approval = client.wait_for_approval(incident_id, execution_arn, timeout=60)
    # When the on-call approves with a comment and the flow resolves
    client.decide(approval.approval_id, "approve", "cli:oncall", comment="rollback looks right")
    assert finished(client, execution_arn).terminal_state == "Resolved"
    # Then `controlroom trace` names the approver, the comment and the time of the vote
    capsys.readouterr()
    assert cli.main(["trace", incident_id]) == 0
    lines = [line.strip() for line in printed(capsys).splitlines()]
    (vote,) = client.checkpoint.get_approval(approval.approval_id).votes
    (vote_line,) = [line for line in lines if line.startswith("vote: approve by cli:oncall at ")]
    assert f"{vote.decided_at:%H:%M:%S}" in vote_line and vote_line.endswith(': "rollback looks right"')
    # And the wait for the human, from the request to the vote
    assert any(
        re.fullmatch(r"waited \S+ for approval \(requested \d\d:\d\d:\d\d, approved \d\d:\d\d:\d\d\)", line)
        for line in lines
    ), lines
    # And Execute's change in full: the action, its target, from -> to, its result
    flat = " ".join(lines)
    assert f"function_version {BAD_VERSION} -> {GOOD_VERSION}: succeeded:" in flat
    assert re.search(r"change: act-\d+ rollback_lambda_alias on lambda:\S+:live:", flat)
    # And the same facts as one JSON document
    assert cli.main(["trace", incident_id, "--json"]) == 0
    document = json.loads(printed(capsys))
    assert document["id"] == incident_id and document["status"] == "RESOLVED"
    (approval_view,) = document["approvals"]
    assert approval_view["votes"][0]["approver"] == "cli:oncall"
    assert approval_view["votes"][0]["comment"] == "rollback looks right"
    waits = [wait for wait in document["waits"] if wait["reason"] == "approval"]
    assert len(waits) == 1 and waits[0]["seconds"] == approval_view["waited_seconds"] > 0


def test_deployment_trace_shows_the_vote_the_bakes_and_the_guard_readings(engine, capsys):
    # Given orders-api tagged prod, so its deployment waits for a human
    client = engine.client
    engine.write_state_file()
    lambda_client = client.aws("lambda")
    function_arn = lambda_client.get_function(FunctionName=DEPLOY_FUNCTION)["Configuration"]["FunctionArn"]
    lambda_client.tag_resource(Resource=function_arn, Tags={"controlroom:environment": "prod"})
    sha256 = lambda_client.get_function_configuration(
        FunctionName=DEPLOY_FUNCTION, Qualifier=HEALTHY_VERSION
    )["CodeSha256"]
    deployments = Deployments(client)
    execution_arn = deployments.request(request_event(DEPLOY_FUNCTION, HEALTHY_VERSION, sha256=sha256))
    deployment_id = deployments.deployment_id(execution_arn)
    assert deployment_id
    approval = client.wait_for_approval(deployment_id, execution_arn)
    # When the on-call approves and the canary promotes the candidate
    client.decide(approval.approval_id, "approve", "cli:releaser", comment="ship it")
    assert finished(client, execution_arn, timeout=120).terminal_state == "Promoted"
    # Then the trace shows the vote, the wait for it, each bake and the guard's readings per version
    capsys.readouterr()
    assert cli.main(["trace", deployment_id]) == 0
    lines = [line.strip() for line in printed(capsys).splitlines()]
    assert lines[0].startswith(f"deployment {deployment_id}  status PROMOTED")
    assert any(
        line.startswith("vote: approve by cli:releaser at ") and line.endswith(': "ship it"')
        for line in lines
    )
    assert any(line.startswith("waited ") and " for approval (requested " in line for line in lines)
    assert [line for line in lines if re.fullmatch(r"waited \S+ while the canary baked at \d+%", line)]
    assert any(
        line.startswith(f"canary version {HEALTHY_VERSION}: ") and " invocations, " in line for line in lines
    )
    assert any(line.startswith(f"promoted: alias on version {HEALTHY_VERSION}") for line in lines)
