"""The deployment agents on moto: one deployment per alias under a real race, shadow dry runs, opt-in."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from typing import Any

import pytest

from controlroom.contracts.deployment import PreflightResult, ShiftInput
from controlroom.deploy.close import DEPLOY_CLOSE
from controlroom.deploy.policy import DEPLOY_POLICY
from controlroom.deploy.preflight import PREFLIGHT
from controlroom.deploy.shifter import TRAFFIC_SHIFTER
from controlroom.errors import DeploymentNotOptedIn, KillSwitchEngaged
from controlroom.runtime import run_agent
from tests.conftest import FakeLambdaContext
from tests.unit.test_approval_support import atomic_moto_writes

FUNCTION, ALIAS = "orders-api", "live"


def _zip(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", body)
    return buffer.getvalue()


@pytest.fixture
def workload(aws: Any) -> Any:
    """orders-api with versions 1 and 2, alias live on 1, opted in by tag."""
    role = aws.client("iam").create_role(
        RoleName="orders-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip("def handler(e, c):\n    return 1\n")},
        Publish=True,
        Tags={"controlroom:deployable": "true"},
    )
    lam.update_function_code(
        FunctionName=FUNCTION, ZipFile=_zip("def handler(e, c):\n    return 2\n"), Publish=True
    )
    lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
    return lam


def _preflight(execution: str) -> dict[str, Any]:
    event = {
        "request": {
            "function_name": FUNCTION,
            "alias": ALIAS,
            "candidate_version": "2",
            "requested_by": "test",
        },
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:controlroom-test-deployment:{execution}",
    }
    return run_agent(PREFLIGHT, event, FakeLambdaContext())


def test_two_racing_deployments_of_one_alias_let_exactly_one_proceed(workload, monkeypatch):
    # Given two deployment requests for the same alias whose preflights run at the same moment
    atomic_moto_writes(monkeypatch)
    barrier = threading.Barrier(2)
    results: dict[str, dict[str, Any]] = {}

    def run(execution: str) -> None:
        barrier.wait()
        results[execution] = _preflight(execution)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then exactly one is ready; the other is refused, naming the deployment in progress
    outcomes = sorted(result["outcome"] for result in results.values())
    assert outcomes == ["ready", "refused"]
    ready = next(r for r in results.values() if r["outcome"] == "ready")
    refused = next(r for r in results.values() if r["outcome"] == "refused")
    assert ready["deployment"]["deployment_id"] in refused["reason"]
    # And once the winner closes, the alias is free for the next deployment
    run_agent(DEPLOY_CLOSE, {"outcome": "rejected", "preflight": ready}, FakeLambdaContext())
    assert _preflight("third")["outcome"] == "ready"


def _shift_input(preflight: dict[str, Any], mode: str, monkeypatch: Any) -> dict[str, Any]:
    monkeypatch.setenv("AUTONOMY_MODE", mode)
    policy = run_agent(DEPLOY_POLICY, {"preflight": preflight}, FakeLambdaContext())
    return {"operation": "shift", "preflight": preflight, "policy": policy, "control": {"step": 0}}


def test_shadow_mode_dry_runs_the_shift(workload, monkeypatch):
    preflight = _preflight("shadow")
    result = run_agent(TRAFFIC_SHIFTER, _shift_input(preflight, "shadow", monkeypatch), FakeLambdaContext())
    assert result["dry_run"] is True
    alias = workload.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    )


def test_the_shifter_refuses_a_function_that_is_not_opted_in(workload, monkeypatch):
    preflight = PreflightResult.model_validate(_preflight("untagged"))
    assert preflight.deployment is not None
    # Given the state claims tags the function no longer has (the shifter reads the state's tags)
    untagged = preflight.model_copy(
        update={"deployment": preflight.deployment.model_copy(update={"tags": {}})}
    )
    request = _shift_input(untagged.model_dump(mode="json"), "supervised", monkeypatch)
    ShiftInput.model_validate(request)
    with pytest.raises(DeploymentNotOptedIn):
        run_agent(TRAFFIC_SHIFTER, request, FakeLambdaContext())
    assert workload.get_alias(FunctionName=FUNCTION, Name=ALIAS)["FunctionVersion"] == "1"


def test_a_halted_kill_switch_stops_the_next_traffic_shift(workload, aws, monkeypatch):
    # Given the environment's kill switch says halt
    parameter = "/controlroom/test/autonomy"
    aws.client("ssm").put_parameter(Name=parameter, Value="halt", Type="String")
    monkeypatch.setenv("AUTONOMY_PARAMETER", parameter)
    request = _shift_input(_preflight("halted"), "supervised", monkeypatch)
    # When the shifter is asked to move traffic, it refuses before touching the alias
    with pytest.raises(KillSwitchEngaged):
        run_agent(TRAFFIC_SHIFTER, request, FakeLambdaContext())
    alias = workload.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    )
    # And once resumed, the same shift goes through (the switch is read uncached, right before acting)
    aws.client("ssm").put_parameter(Name=parameter, Value="run", Type="String", Overwrite=True)
    result = run_agent(TRAFFIC_SHIFTER, request, FakeLambdaContext())
    assert result["dry_run"] is False
    weights = workload.get_alias(FunctionName=FUNCTION, Name=ALIAS)["RoutingConfig"][
        "AdditionalVersionWeights"
    ]
    assert weights == {"2": pytest.approx(0.1)}
