"""The kill switch and the autonomy modes through the real ASL, flipped at run time (no redeploy)."""

from __future__ import annotations

import json

import pytest

from controlroom import autonomy
from controlroom.contracts import IncidentStatus
from controlroom.local import cli
from controlroom.local.patches import EngineEndpoint
from controlroom.local.seeding import handler_zip
from controlroom.local.world import BAD_VERSION, DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one, history_states

pytestmark = pytest.mark.e2e


def _set_switch(client, **value) -> None:
    client.aws("ssm").put_parameter(
        Name=client.outputs["AutonomyParameterName"], Type="String", Value=json.dumps(value), Overwrite=True
    )
    # The handlers run in this process: drop Policy's cached reading so the next incident sees the flip.
    autonomy.clear_cache()


def _alias_version(client, function: str = DEMO_FUNCTION) -> str:
    return client.aws("lambda").get_alias(FunctionName=function, Name=DEMO_ALIAS)["FunctionVersion"]


def _approval(client, execution_arn):
    incident_id = client.incident_id(execution_arn)
    return incident_id, client.wait_for_approval(incident_id, execution_arn)


def test_shadow_mode_runs_a_dry_run_and_makes_a_scorecard_row(engine, capsys):
    client = engine.client
    engine.write_state_file()
    # Given the deploy says supervised and the switch says shadow
    _set_switch(client, state="run", mode="shadow")
    execution_arn = fire_one(client, alarm_event())
    view = finished(client, execution_arn)
    # Then Execute ran as a dry run, nothing changed, and the on-call got the plan as an escalation
    assert view.terminal_state == "Escalated"
    states = history_states(client, execution_arn)
    assert "Execute" in states and "ReasonShadowMode" in states and "RequestApproval" not in states
    assert _alias_version(client) == BAD_VERSION
    incident_id = client.incident_id(execution_arn)
    records = {record.agent: record for record in client.timeline(incident_id)}
    assert records["policy"].output["autonomy_mode"] == "shadow"
    assert records["execute"].output["dry_run"] is True
    assert records["execute"].output["results"][0]["status"] == "dry_run"
    # When the on-call says they rolled it back themselves
    assert cli.main(["answer", incident_id, "did_this"]) == 0
    capsys.readouterr()
    # Then the scorecard shows the proposal and the human's action side by side
    assert cli.main(["scorecard", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    (row,) = [r for r in card["rows"] if r["incident_id"] == incident_id]
    assert (row["mode"], row["action_kind"], row["classification"]) == (
        "shadow",
        "rollback_lambda_alias",
        "agreed",
    )
    assert "cli:did_this" in row["human"]
    (kind,) = card["kinds"]
    assert (kind["incidents"], kind["proposals"], kind["agreement_rate"]) == (1, 1, 1.0)
    assert kind["median_seconds_to_proposal"] is not None and kind["meets_criteria"] is False


def test_advice_mode_executes_nothing(client):
    _set_switch(client, state="run", mode="advice")
    execution_arn = fire_one(client, alarm_event())
    view = finished(client, execution_arn)
    states = history_states(client, execution_arn)
    assert view.terminal_state == "Escalated" and "ReasonPolicyDeny" in states
    assert "Execute" not in states and "RequestApproval" not in states
    assert _alias_version(client) == BAD_VERSION


@pytest.mark.parametrize(
    ("mode", "policy_id"),
    [("supervised", "supervised-risky-needs-approval"), ("gated", "gated-changes-need-approval")],
)
def test_supervised_and_gated_ask_then_execute(client, mode, policy_id):
    _set_switch(client, state="run", mode=mode)
    execution_arn = fire_one(client, alarm_event())
    incident_id, approval = _approval(client, execution_arn)
    policy = next(r for r in client.timeline(incident_id) if r.agent == "policy")
    assert policy.output["autonomy_mode"] == mode
    assert policy.output["decisions"][0]["reasons"] == [policy_id]
    assert _alias_version(client) == BAD_VERSION
    client.decide(approval.approval_id, "approve", "cli:test")
    assert finished(client, execution_arn).terminal_state == "Resolved"
    assert _alias_version(client) == GOOD_VERSION


def test_halt_flipped_while_an_approval_is_pending_executes_nothing(engine, capsys):
    client = engine.client
    engine.write_state_file()
    execution_arn = fire_one(client, alarm_event())
    incident_id, approval = _approval(client, execution_arn)
    # When the operator halts controlroom from the CLI while the approval waits
    assert cli.main(["autonomy", "halt", "--reason", "game day"]) == 0
    assert "HALTED" in capsys.readouterr().out
    # And someone approves afterwards
    client.decide(approval.approval_id, "approve", "cli:test")
    # Then Execute refuses before the adapter: nothing changed, the incident escalates as halted
    view = finished(client, execution_arn)
    assert view.terminal_state == "Escalated"
    states = history_states(client, execution_arn)
    assert states.index("Execute") < states.index("ReasonHalted")
    assert _alias_version(client) == BAD_VERSION
    assert client.incident(incident_id).status is IncidentStatus.ESCALATED
    escalate = next(r for r in client.timeline(incident_id) if r.agent == "escalate")
    assert escalate.output["reason"] == "halted"
    # And the flip is audited with who did it, in a chain that verifies
    (flip,) = client.audit.records("autonomy-local")
    assert flip.actor.startswith("cli:") and flip.payload["after"]["state"] == "halt"
    assert client.verify_audit("autonomy-local").ok
    # And resuming lets the next incident act again
    assert cli.main(["autonomy", "resume"]) == 0
    assert "running" in capsys.readouterr().out


def test_halt_stops_the_next_incident_at_policy(engine):
    client = engine.client
    engine.write_state_file()
    assert cli.main(["autonomy", "halt"]) == 0
    autonomy.clear_cache()
    execution_arn = fire_one(client, alarm_event())
    view = finished(client, execution_arn)
    states = history_states(client, execution_arn)
    assert view.terminal_state == "Escalated" and "ReasonHalted" in states
    assert "Execute" not in states and "RequestApproval" not in states
    assert _alias_version(client) == BAD_VERSION


def _second_function(client, name: str, tags: dict[str, str]) -> None:
    lam = client.aws("lambda")
    role = client.aws("iam").get_role(RoleName=f"{DEMO_FUNCTION}-role")["Role"]["Arn"]
    body = "def handler(e, c):\n    return {'ok': True}\n"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": handler_zip(body)},
        Publish=True,
        Tags=tags,
    )
    lam.update_function_code(FunctionName=name, ZipFile=handler_zip(body + "# v2\n"), Publish=True)
    lam.create_alias(FunctionName=name, Name=DEMO_ALIAS, FunctionVersion="2")


def _scripted(tmp_path, function: str, blamed: str | None) -> None:
    hypothesis = {
        "cause": "dependency_failure",
        "confidence": 0.92,
        "evidence_refs": [],
        "summary": f"{function} is failing.",
    }
    if blamed:
        hypothesis["blamed"] = {"kind": "lambda_function", "name": blamed}
    plan = {
        "summary": f"Roll {function} back.",
        "based_on": "dependency_failure",
        "actions": [
            {
                "type": "rollback_lambda_alias",
                "action_id": "act-1",
                "function_name": function,
                "alias": DEMO_ALIAS,
                "target_version": "1",
                "from_version": "2",
                "rationale": "Roll it back.",
            }
        ],
    }
    script = tmp_path / "model-script.json"
    script.write_text(json.dumps({"diagnose": [{"hypotheses": [hypothesis]}], "plan": [plan]}))
    settings = {"MODEL_PROVIDER": "scripted", "MODEL_SCRIPT_FILE": str(script), "MODEL_ID": "scripted-claude"}
    EngineEndpoint.agent_environment = {"diagnose": settings, "plan": settings}


@pytest.fixture
def no_script():
    yield
    EngineEndpoint.agent_environment = {}


def test_a_model_aiming_at_an_unrelated_protected_function_is_denied(client, tmp_path, no_script):
    # Given a model that plans to roll back a protected function the incident does not involve
    _second_function(client, "billing-core", {"controlroom:protected": "true"})
    _scripted(tmp_path, "billing-core", blamed=None)
    execution_arn = fire_one(client, alarm_event())
    view = finished(client, execution_arn)
    # Then Policy denies it by name, nobody is even asked, and nothing moved
    states = history_states(client, execution_arn)
    assert view.terminal_state == "Escalated" and "ReasonPolicyDeny" in states
    assert "RequestApproval" not in states and "Execute" not in states
    policy = next(r for r in client.timeline(client.incident_id(execution_arn)) if r.agent == "policy")
    reasons = policy.output["decisions"][0]["reasons"]
    assert "target-not-bound-to-incident" in reasons and "protected-target" in reasons
    assert _alias_version(client, "billing-core") == "2"
