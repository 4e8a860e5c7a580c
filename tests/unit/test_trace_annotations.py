"""run_agent annotates the X-Ray trace: agent, function version, flow revision and incident id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlroom.agents.intake import INTAKE
from controlroom.agents.policy import POLICY
from controlroom.errors import ContractViolation
from controlroom.local.world import restamp
from controlroom.runtime import run_agent, stores, tracer
from tests.conftest import FakeLambdaContext
from tests.unit.test_policy_flow_state import INCIDENT_ID, diagnosis, evidence, intake, plan, state

REVISION = "sha256:ab12cd34ef56"
ALARM_EVENT = Path(__file__).resolve().parents[2] / "events" / "alarm_lambda_errors.json"


class VersionThree(FakeLambdaContext):
    function_version = "3"


@pytest.fixture
def annotations(monkeypatch) -> list[tuple[str, object]]:
    """Every (key, value) run_agent passes to tracer.put_annotation, in order."""
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(tracer, "put_annotation", lambda key, value: calls.append((key, value)))
    return calls


def _as_dict(calls: list[tuple[str, object]]) -> dict[str, object]:
    return dict(calls)


def test_an_agent_annotates_agent_version_revision_and_incident(aws, annotations):
    # Given the flow state of an open incident in a flow of a known revision, on Lambda version 3
    event = {
        **state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan()),
        "flow_revision": REVISION,
    }
    # When the Policy agent runs
    run_agent(POLICY, event, VersionThree())
    # Then the trace carries all four annotations
    assert _as_dict(annotations) == {
        "agent": "policy",
        "function_version": "3",
        "flow_revision": REVISION,
        "incident_id": INCIDENT_ID,
    }
    # And agent, version and revision come first, before any work is done
    assert [key for key, _ in annotations[:3]] == ["agent", "function_version", "flow_revision"]


def test_intake_annotates_the_incident_it_opened(aws, annotations, lambda_context):
    # Given an alarm event and no revision in the state
    event = {"event": restamp(json.loads(ALARM_EVENT.read_text()))}
    # When Intake opens an incident
    output = run_agent(INTAKE, event, lambda_context)
    # Then the incident id, learnt by the logic, is annotated; an unknown revision is not
    annotated = _as_dict(annotations)
    assert annotated["incident_id"] == output["incident"]["incident_id"]
    assert annotated["agent"] == "intake" and annotated["function_version"] == "$LATEST"
    assert "flow_revision" not in annotated
    assert stores().checkpoint.get_incident(annotated["incident_id"])


def test_a_contract_violation_is_still_annotated_with_agent_and_version(aws, annotations, lambda_context):
    with pytest.raises(ContractViolation):
        run_agent(POLICY, {"flow_revision": REVISION}, lambda_context)
    assert _as_dict(annotations) == {
        "agent": "policy",
        "function_version": "$LATEST",
        "flow_revision": REVISION,
    }


def test_a_failing_annotation_does_not_fail_the_agent(aws, monkeypatch, lambda_context):
    def broken(key, value):
        raise RuntimeError("no segment")

    monkeypatch.setattr(tracer, "put_annotation", broken)
    event = state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan())
    assert run_agent(POLICY, event, lambda_context)["outcome"]


def test_with_tracing_disabled_the_real_tracer_is_a_no_op(aws, lambda_context):
    # POWERTOOLS_TRACE_DISABLED=true in tests: the unpatched tracer must not need a segment
    assert tracer.disabled
    event = state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan())
    assert run_agent(POLICY, {**event, "flow_revision": REVISION}, lambda_context)["outcome"]


def test_the_annotations_are_structured_log_keys_too(aws, lambda_context):
    # Given tracing disabled (no X-Ray SDK loaded), an agent run on Lambda version 3 in a known flow revision
    from controlroom.runtime import logger

    event = {
        **state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan()),
        "flow_revision": REVISION,
    }
    run_agent(POLICY, event, VersionThree())
    # Then every log line after it carries the same keys, searchable in CloudWatch Logs Insights
    keys = logger.get_current_keys()
    assert {k: keys.get(k) for k in ("agent", "function_version", "flow_revision", "incident_id")} == {
        "agent": "policy",
        "function_version": "3",
        "flow_revision": REVISION,
        "incident_id": INCIDENT_ID,
    }
    # When the next invocation in the same process has no revision, then the old one is not logged with it
    run_agent(
        POLICY,
        state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan()),
        lambda_context,
    )
    keys = logger.get_current_keys()
    assert "flow_revision" not in keys
    assert keys["function_version"] == "$LATEST"
