"""The CLI timeline shows the flow revision once in its header and each step's Lambda version."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controlroom.contracts import DecisionRecord, IncidentStatus, utcnow
from controlroom.local.trace import flow_revisions, timeline, version_label
from controlroom.store import IncidentItem
from tests.unit.test_policy_flow_state import INCIDENT_ID, incident

REVISION = "sha256:ab12cd34ef56"


def record(step: int, agent: str, function_version: str = "3", flow_revision: str | None = REVISION):
    return DecisionRecord(
        incident_id=INCIDENT_ID,
        agent=agent,
        agent_version="0.1.0",
        function_version=function_version,
        flow_revision=flow_revision,
        step=step,
        status="ok",
        started_at=utcnow() + timedelta(seconds=step),
        duration_ms=12,
        input_digest="0" * 64,
        summary=f"{agent} did its part",
    )


def item() -> IncidentItem:
    return IncidentItem(incident=incident(), status=IncidentStatus.RESOLVED, updated_at="now")


def test_header_names_the_flow_revision_once_and_steps_their_version():
    # Given three steps of one flow revision, run by Lambda versions 3, 3 and 7
    records = [record(1, "intake"), record(2, "evidence"), record(3, "diagnose", function_version="7")]
    # When the timeline is rendered
    text = timeline(item(), records, width=120)
    lines = text.splitlines()
    # Then the header names the revision, and no step line repeats it
    assert f"flow {REVISION}" in lines[0]
    assert text.count(REVISION) == 1
    # And each step's line (number, time, agent, ...) ends with the version that ran it, as v<n>
    steps = {line.split()[2]: line.split() for line in lines if line.strip()[:1].isdigit()}
    assert set(steps) == {"intake", "evidence", "diagnose"}
    assert [steps[agent][-1] for agent in ("intake", "evidence", "diagnose")] == ["v3", "v3", "v7"]


def test_unrecorded_revision_and_latest_version_are_shown_as_such():
    text = timeline(item(), [record(1, "intake", function_version="$LATEST", flow_revision=None)], width=120)
    assert "flow not recorded" in text.splitlines()[0]
    step_line = next(line for line in text.splitlines() if line.strip().startswith("1 "))
    assert step_line.split()[-1] == "$LATEST"


@pytest.mark.parametrize(
    ("function_version", "label"),
    [("3", "v3"), ("12", "v12"), ("$LATEST", "$LATEST"), ("live", "live"), ("a-long-alias-name", "ias-name")],
)
def test_version_label(function_version, label):
    assert version_label(function_version) == label


def test_steps_of_different_revisions_are_named_in_the_header():
    # Given a duplicate alarm handled by a newer deployment, appended to the open incident
    records = [
        record(1, "intake"),
        record(2, "evidence"),
        record(3, "intake", flow_revision="sha256:ffff0000aaaa"),
    ]
    # Then the header names both revisions with their steps
    assert flow_revisions(records) == f"{REVISION} (steps 1, 2), sha256:ffff0000aaaa (step 3)"
