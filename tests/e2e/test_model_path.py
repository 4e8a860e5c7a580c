"""Diagnose and Plan on the model path (scripted model, same interface as Claude) through the real ASL."""

from __future__ import annotations

import json

import pytest

from controlroom.local import cli
from controlroom.local.patches import EngineEndpoint

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e

CHANGE = "change:lambda_version:2"
DIAGNOSIS = {
    "hypotheses": [
        {
            "cause": "recent_change",
            "confidence": 0.92,
            "evidence_refs": [CHANGE],
            "change_ref": CHANGE,
            "summary": "Errors began right after alias live moved to version 2.",
        }
    ]
}
PLAN = {
    "summary": "Roll alias live back to version 1.",
    "based_on": "recent_change",
    "actions": [
        {
            "type": "rollback_lambda_alias",
            "action_id": "act-1",
            "function_name": "checkout-api",
            "alias": "live",
            "target_version": "1",
            "from_version": "2",
            "rationale": "Version 2 introduced the errors; version 1 was healthy.",
        }
    ],
}


@pytest.fixture
def scripted_model(tmp_path):
    script = tmp_path / "model-script.json"
    script.write_text(json.dumps({"diagnose": [DIAGNOSIS], "plan": [PLAN]}))
    settings = {"MODEL_PROVIDER": "scripted", "MODEL_SCRIPT_FILE": str(script), "MODEL_ID": "scripted-claude"}
    EngineEndpoint.agent_environment = {"diagnose": settings, "plan": settings}
    yield script
    EngineEndpoint.agent_environment = {}


def test_model_decisions_are_recorded_and_replay_the_same(engine, scripted_model, capsys):
    client = engine.client
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    approval = client.wait_for_approval(incident_id, execution_arn)
    client.decide(approval.approval_id, "approve", "cli:test")
    assert finished(client, execution_arn).terminal_state == "Resolved"
    # Then the decision records say the model produced the diagnosis and the plan, with its version
    records = {record.agent: record for record in client.timeline(incident_id)}
    for agent in ("diagnose", "plan"):
        assert records[agent].produced_by == "llm", records[agent].summary
        assert records[agent].model_id == "scripted-claude"
        assert records[agent].prompt_version
    assert records["diagnose"].output["hypotheses"][0]["confidence"] == 0.92
    # And replaying the incident with the recorded answers gives the same decisions
    engine.write_state_file()
    capsys.readouterr()
    assert cli.main(["replay", incident_id]) == 0
    out = capsys.readouterr().out
    assert "diagnose: same decision" in out and "plan: same decision" in out
