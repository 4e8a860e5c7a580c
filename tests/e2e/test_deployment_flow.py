"""The deployment flow end to end: stepfunctions/deployment.asl.json on moto's interpreter, handlers in-process,
the orders-api workload publishing metrics per executed version."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from controlroom.deploy import shifter
from controlroom.errors import TransientDependencyError
from controlroom.local.deploy_cli import Deployments, request_event
from controlroom.local.deploy_world import (
    DEPLOY_ALIAS,
    DEPLOY_FUNCTION,
    HEALTHY_VERSION,
    REGRESSING_VERSION,
    STABLE_VERSION,
)

from .conftest import finished, history_states, shared_synth

pytestmark = pytest.mark.e2e


def _alias(client: Any) -> tuple[str, dict[str, float]]:
    alias = client.aws("lambda").get_alias(FunctionName=DEPLOY_FUNCTION, Name=DEPLOY_ALIAS)
    return alias["FunctionVersion"], dict(
        (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    )


def _sha256(client: Any, version: str) -> str:
    configuration = client.aws("lambda").get_function_configuration(
        FunctionName=DEPLOY_FUNCTION, Qualifier=version
    )
    return str(configuration["CodeSha256"])


def _deploy(client: Any, version: str, **kwargs: Any) -> tuple[Deployments, str, str]:
    deployments = Deployments(client)
    kwargs.setdefault("sha256", _sha256(client, version))
    execution_arn = deployments.request(request_event(DEPLOY_FUNCTION, version, requested_by="e2e", **kwargs))
    deployment_id = deployments.deployment_id(execution_arn)
    assert deployment_id, "Preflight names the deployment"
    return deployments, execution_arn, deployment_id


def _shifts(client: Any, deployment_id: str) -> list[dict[str, Any]]:
    return [r.payload for r in client.audit.records(deployment_id) if r.kind == "traffic_shifted"]


def test_healthy_candidate_is_promoted(client):
    # Given orders-api:live on version 1 and a healthy version 2 with its checksum
    deployments, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    # When the flow runs every canary step
    view = finished(client, execution_arn, timeout=120)
    # Then it ends Promoted: the alias serves the candidate with no weighted routing left
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Promoted")
    assert _alias(client) == (HEALTHY_VERSION, {})
    states = history_states(client, execution_arn)
    assert states.count("Shift") == 2 and states.count("Guard") >= 2 and "Promote" in states
    assert [s["routing"] for s in _shifts(client, deployment_id)] == [
        {HEALTHY_VERSION: 0.1},
        {HEALTHY_VERSION: 0.5},
        {},
    ]
    # And every step left a decision record with the Lambda version that ran it, in a verified audit chain
    records = client.timeline(deployment_id)
    agents = {r.agent for r in records}
    assert {"deploy_preflight", "deploy_policy", "traffic_shifter", "slo_guard", "deploy_close"} <= agents
    assert all(r.function_version.isdigit() and r.flow_revision for r in records)
    guard = next(r for r in records if r.agent == "slo_guard" and r.output and r.output["outcome"] == "pass")
    assert (
        guard.output["canary"]["version"] == HEALTHY_VERSION and guard.output["canary"]["invocations"] >= 100
    )
    assert deployments.status(deployment_id)["status"] == "PROMOTED"
    assert client.verify_audit(deployment_id).ok


def test_regressing_candidate_is_rolled_back_and_opens_an_incident(client):
    # Given a candidate whose error rate and p99 regress on the traffic it gets
    _, execution_arn, deployment_id = _deploy(client, REGRESSING_VERSION)
    view = finished(client, execution_arn, timeout=120)
    # Then the guard fails it, traffic is back on stable and verified, and the flow ends RolledBack
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "RolledBack")
    assert _alias(client) == (STABLE_VERSION, {})
    assert "Promote" not in history_states(client, execution_arn)
    guard = view.output["guard"]
    assert guard["outcome"] == "fail" and guard["canary"]["errors"] > 0
    assert view.output["rollback"]["verified"] is True
    # And the incident flow was started with the deployment as the known change and the guard's evidence
    incident_arn = view.output["close"]["incident_execution_arn"]
    assert incident_arn
    assert client.incident_id(incident_arn), "Intake accepted the event and opened an incident"
    started = json.loads(client.sfn.describe_execution(executionArn=incident_arn)["input"])
    known = started["detail"]["controlroom"]["known_change"]
    assert (known["deployment_id"], known["to_version"], known["from_version"]) == (
        deployment_id,
        REGRESSING_VERSION,
        STABLE_VERSION,
    )
    assert started["detail"]["controlroom"]["guard_evidence"]["outcome"] == "fail"


def test_checksum_mismatch_is_refused_before_any_traffic_moves(client):
    # Given a request for version 2 carrying version 3's checksum
    _, execution_arn, deployment_id = _deploy(
        client, HEALTHY_VERSION, sha256=_sha256(client, REGRESSING_VERSION)
    )
    view = finished(client, execution_arn)
    # Then preflight refuses it and nothing shifted
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Refused")
    assert "checksum mismatch" in view.output["preflight"]["reason"]
    assert "Shift" not in history_states(client, execution_arn)
    assert _alias(client) == (STABLE_VERSION, {})
    assert _shifts(client, deployment_id) == []


def test_prod_deployment_waits_for_approval_and_runs_once_approved(client):
    # Given orders-api tagged as a prod function
    function_arn = client.aws("lambda").get_function(FunctionName=DEPLOY_FUNCTION)["Configuration"][
        "FunctionArn"
    ]
    client.aws("lambda").tag_resource(Resource=function_arn, Tags={"controlroom:environment": "prod"})
    _, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    approval = client.wait_for_approval(deployment_id, execution_arn)
    assert _alias(client) == (STABLE_VERSION, {}), "nothing moves before a human approves"
    # The approval page shows the diff, the risk reasons and the canary plan
    link = client.wait_for_links(approval.approval_id)[0]
    with urllib.request.urlopen(link, timeout=10) as response:
        page = response.read().decode("utf-8")
    assert 'id="diff"' in page and "code_sha256" in page
    assert "target environment prod" in page
    assert "10% of traffic for 2s" in page and "50% of traffic for 2s" in page
    # When the on-call approves
    client.decide(approval.approval_id, "approve", "cli:test")
    view = finished(client, execution_arn, timeout=120)
    # Then the canary runs and the candidate is promoted
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Promoted")
    assert _alias(client) == (HEALTHY_VERSION, {})
    kinds = [record.kind for record in client.audit.records(deployment_id)]
    assert kinds.index("approval_decision") < kinds.index("traffic_shifted")


def test_prod_deployment_rejected_changes_nothing(client):
    function_arn = client.aws("lambda").get_function(FunctionName=DEPLOY_FUNCTION)["Configuration"][
        "FunctionArn"
    ]
    client.aws("lambda").tag_resource(Resource=function_arn, Tags={"controlroom:environment": "prod"})
    _, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    approval = client.wait_for_approval(deployment_id, execution_arn)
    # When the on-call rejects
    client.decide(approval.approval_id, "reject", "cli:test", comment="not during the sale")
    view = finished(client, execution_arn)
    # Then the flow ends Rejected and no traffic moved
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Rejected")
    assert "Shift" not in history_states(client, execution_arn)
    assert _alias(client) == (STABLE_VERSION, {})
    assert Deployments(client).status(deployment_id)["status"] == "REJECTED"


def test_too_little_traffic_is_inconclusive_up_to_the_bound_then_escalates(engine):
    # Given a workload that serves almost no traffic: the canary never reaches the minimum sample
    client = engine.client
    engine.world.deploy.requests_per_tick = 4
    _, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    view = finished(client, execution_arn, timeout=120)
    # Then the guard is inconclusive on the first bake and both extensions (never a pass), then escalates
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Escalated")
    states = history_states(client, execution_arn)
    assert states.count("Guard") == 3 and states.count("ExtendBake") == 2
    assert "ReasonInconclusive" in states and "Promote" not in states
    verdicts = [r.output["outcome"] for r in client.timeline(deployment_id) if r.agent == "slo_guard"]
    assert verdicts == ["inconclusive"] * 3
    # And the canary's traffic was returned to stable
    assert _alias(client) == (STABLE_VERSION, {})


def test_a_retried_shift_never_shifts_twice(client, monkeypatch):
    # Given a shifter whose first attempt moves traffic and then fails as if Lambda timed out
    calls: list[dict[str, float]] = []
    real_update = shifter.update_alias

    def update_then_fail(deployment, version, weights):
        calls.append(dict(weights))
        response = real_update(deployment, version, weights)
        if len(calls) == 1:
            raise TransientDependencyError("simulated: the shift was made, then the invocation died")
        return response

    monkeypatch.setattr(shifter, "update_alias", update_then_fail)
    _, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    view = finished(client, execution_arn, timeout=120)
    # Then the Task was retried, the retry found the change made and did not shift again
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Promoted")
    failed = [e for e in client.history(execution_arn) if e["type"] == "LambdaFunctionFailed"]
    assert len(failed) == 1
    assert calls.count({HEALTHY_VERSION: 0.1}) == 1
    assert [s["change"] for s in _shifts(client, deployment_id)] == ["shift#0", "shift#1", "promote#1"]
    retried = next(
        r for r in client.timeline(deployment_id) if r.agent == "traffic_shifter" and r.status == "ok"
    )
    assert retried.output["already_applied"] is True


@pytest.fixture(scope="module")
def frozen_cdk_out(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config, cdk_out: Path
) -> Path:
    return shared_synth(tmp_path_factory, pytestconfig, "local", deploy_freeze_windows="daily 00:00-24:00")


def test_freeze_window_denies_unless_break_glass(session_engine, frozen_cdk_out, cdk_out):
    client = session_engine.redeploy(seed_world=True, cdk_out=frozen_cdk_out).client
    try:
        # Given a change freeze all day: a plain request is denied and nothing moves
        deployments, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
        view = finished(client, execution_arn)
        assert (view.status, view.terminal_state) == ("SUCCEEDED", "Denied")
        assert deployments.status(deployment_id)["status"] == "DENIED"
        assert "deploy-change-freeze" in view.output["policy"]["reasons"]
        assert "Shift" not in history_states(client, execution_arn)
        assert _alias(client) == (STABLE_VERSION, {})
        # And a break-glass request goes to the approvers instead of running
        _, glass_arn, glass_id = _deploy(client, HEALTHY_VERSION, break_glass=True)
        approval = client.wait_for_approval(glass_id, glass_arn)
        assert client.checkpoint.approval_brief(approval.approval_id).deployment.freeze_window
        client.decide(approval.approval_id, "reject", "cli:test")
        assert finished(client, glass_arn).terminal_state == "Rejected"
        assert _alias(client) == (STABLE_VERSION, {})
    finally:
        session_engine.cdk_out = cdk_out


def test_the_cli_deploys_against_the_running_engine_and_traces_the_deployment(engine, capsys):
    from controlroom.local import cli

    # Given the running engine's state file (what `controlroom up` writes)
    engine.write_state_file()
    sha = _sha256(engine.client, HEALTHY_VERSION)
    # When an operator runs `controlroom deploy orders-api --version 2 --sha256 ... --wait`
    assert cli.main(["deploy", DEPLOY_FUNCTION, "--version", HEALTHY_VERSION, "--sha256", sha, "--wait"]) == 0
    printed = capsys.readouterr().out
    assert "SUCCEEDED at Promoted" in printed
    deployment_id = next(word for word in printed.split() if word.startswith("dep-"))
    # Then `controlroom trace` shows the deployment's timeline, agent by agent
    assert cli.main(["trace", deployment_id]) == 0
    timeline = capsys.readouterr().out
    assert f"deployment {deployment_id}  status PROMOTED" in timeline
    for agent in ("deploy_preflight", "deploy_policy", "traffic_shifter", "slo_guard", "deploy_close"):
        assert agent in timeline
    # And a deployment that does not end Promoted exits non-zero, as a CI step should
    wrong = _sha256(engine.client, REGRESSING_VERSION)
    assert cli.main(["deploy", DEPLOY_FUNCTION, "--version", "1", "--sha256", wrong, "--wait"]) == 1
    assert "SUCCEEDED at Refused" in capsys.readouterr().out
