"""The flow revision in decision records: read from the flow state, kept on every step, never "left out"."""

from __future__ import annotations

import pytest

from controlroom.agents.intake import INTAKE
from controlroom.agents.policy import POLICY
from controlroom.contracts import DecisionRecord, digest
from controlroom.errors import UnsupportedEvent
from controlroom.runtime import run_agent, stores
from tests.unit.test_policy_flow_state import INCIDENT_ID, diagnosis, evidence, intake, plan, state

REVISION = "sha256:ab12cd34ef56"


def _policy_event(**extra) -> dict:
    return {**state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan()), **extra}


def test_every_record_keeps_the_flow_revision_and_does_not_list_it_as_context(aws, lambda_context):
    # Given a flow state that carries the definition's revision, as the Normalise state puts it
    event = _policy_event(flow_revision=REVISION)
    # When an agent runs
    run_agent(POLICY, event, lambda_context)
    # Then its decision record names the revision and the Lambda version that ran
    (record,) = stores().checkpoint.steps(INCIDENT_ID)
    assert record.flow_revision == REVISION
    assert record.function_version == "$LATEST"
    # And the revision is metadata: neither passed to the agent nor left out of its context
    assert "flow_revision" not in record.context_passed
    assert "flow_revision" not in record.left_out
    # And the audited decision carries it too (the audit chain is the record of truth)
    (audited,) = [r for r in stores().audit.records(INCIDENT_ID) if r.kind == "decision"]
    assert audited.payload["flow_revision"] == REVISION
    assert stores().audit.verify(INCIDENT_ID).ok


def test_a_state_without_a_revision_records_none(aws, lambda_context):
    run_agent(POLICY, _policy_event(), lambda_context)
    (record,) = stores().checkpoint.steps(INCIDENT_ID)
    assert record.flow_revision is None


@pytest.mark.parametrize("bad", [123, "", {"digest": "x"}])
def test_a_revision_that_is_not_a_string_is_not_recorded(aws, lambda_context, bad):
    run_agent(POLICY, _policy_event(flow_revision=bad), lambda_context)
    (record,) = stores().checkpoint.steps(INCIDENT_ID)
    assert record.flow_revision is None and "flow_revision" not in record.left_out


def test_an_agent_error_records_the_revision_too(aws, lambda_context):
    # Given an event Intake cannot accept, in a flow of a known revision
    raw_event = {"detail-type": "Something Else"}
    # When Intake rejects it
    with pytest.raises(UnsupportedEvent):
        run_agent(INTAKE, {"event": raw_event, "flow_revision": REVISION}, lambda_context)
    # Then the error record, on the event's chain, names the revision
    (record,) = stores().checkpoint.steps("event:" + digest(raw_event)[:16])
    assert record.status == "error" and record.flow_revision == REVISION


def test_the_contract_documents_the_field():
    field = DecisionRecord.model_fields["flow_revision"]
    assert field.default is None and field.description and "Normalise" in field.description
