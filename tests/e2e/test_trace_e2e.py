"""`controlroom trace` after a real incident with a human approval: the vote, the wait for it and the change."""

from __future__ import annotations

import json
import re

import pytest

from controlroom.local import cli
from controlroom.local.world import BAD_VERSION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e


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
    assert cli.main(["trace", incident_id]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
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
    document = json.loads(capsys.readouterr().out)
    assert document["id"] == incident_id and document["status"] == "RESOLVED"
    (approval_view,) = document["approvals"]
    assert approval_view["votes"][0]["approver"] == "cli:oncall"
    assert approval_view["votes"][0]["comment"] == "rollback looks right"
    waits = [wait for wait in document["waits"] if wait["reason"] == "approval"]
    assert len(waits) == 1 and waits[0]["seconds"] == approval_view["waited_seconds"] > 0
