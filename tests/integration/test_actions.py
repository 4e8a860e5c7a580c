"""Action adapters one by one: no-ops, refusals, dry runs and error classification.

moto has no CodeDeploy StopDeployment nor SSM StartAutomationExecution, so those adapters run
against botocore's Stubber, which also checks every request against the service model.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from controlroom.aws import client
from controlroom.contracts import RollbackEcsService, RunSsmAutomation, StopCodeDeployDeployment
from controlroom.errors import TransientDependencyError
from controlroom.tools.actions import AdapterContext, run_action
from tests.unit.test_policy_flow_state import action

TOKEN = "0b3c1a43-3f8b-5c3e-9b1a-2f7f1c0e8d11"
EXECUTION_ID = "4f1e2d3c-0000-4000-8000-00000000a001"
REAL = AdapterContext(
    dry_run=False, ssm_document_allowlist=("AWS-RestartEC2Instance",), idempotency_token=TOKEN
)
DRY = AdapterContext(
    dry_run=True, ssm_document_allowlist=("AWS-RestartEC2Instance",), idempotency_token=TOKEN
)


def _stop() -> StopCodeDeployDeployment:
    return StopCodeDeployDeployment.model_validate(action("stop_codedeploy_deployment"))


def _ssm(**overrides) -> RunSsmAutomation:
    return RunSsmAutomation.model_validate(action("run_ssm_automation", **overrides))


def test_codedeploy_in_progress_deployment_is_stopped_with_rollback(aws):
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stub:
        # Given a deployment in progress
        stub.add_response(
            "get_deployment", {"deploymentInfo": {"status": "InProgress"}}, {"deploymentId": "d-ABCDEF123"}
        )
        # Then the adapter stops it with auto rollback
        stub.add_response(
            "stop_deployment",
            {"status": "Pending", "statusMessage": "stopping"},
            {"deploymentId": "d-ABCDEF123", "autoRollbackEnabled": True},
        )
        # When it runs
        result = run_action(_stop(), REAL)
        stub.assert_no_pending_responses()
    assert result.status == "succeeded" and result.before == {"status": "InProgress"}


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_codedeploy_finished_deployment_is_a_no_op(aws, status):
    with Stubber(client("codedeploy")) as stub:
        stub.add_response(
            "get_deployment", {"deploymentInfo": {"status": status}}, {"deploymentId": "d-ABCDEF123"}
        )
        result = run_action(_stop(), REAL)
        stub.assert_no_pending_responses()  # no stop_deployment call was made
    assert result.status == "skipped"


def test_codedeploy_dry_run_only_reads(aws):
    with Stubber(client("codedeploy")) as stub:
        stub.add_response(
            "get_deployment", {"deploymentInfo": {"status": "InProgress"}}, {"deploymentId": "d-ABCDEF123"}
        )
        result = run_action(_stop(), DRY)
    assert result.status == "dry_run" and result.after == {"status": "Stopped"}


def test_ssm_starts_an_allowlisted_document_with_a_client_token(aws):
    with Stubber(client("ssm")) as stub:
        # The ClientToken makes SSM return the first execution if the start is ever repeated
        stub.add_response(
            "start_automation_execution",
            {"AutomationExecutionId": EXECUTION_ID},
            {
                "DocumentName": "AWS-RestartEC2Instance",
                "ClientToken": TOKEN,
                "Parameters": {"InstanceId": ["i-0123456789abcdef0"]},
            },
        )
        result = run_action(_ssm(), REAL)
        stub.assert_no_pending_responses()
    assert result.status == "succeeded" and result.after == {"automation_execution_id": EXECUTION_ID}


def test_ssm_refuses_a_document_off_the_allowlist_without_calling_aws(aws):
    with Stubber(client("ssm")) as stub:
        result = run_action(_ssm(document_name="Custom-WipeDatabase"), REAL)
        stub.assert_no_pending_responses()
    assert result.status == "failed" and "allow-list" in result.detail


def test_throttling_is_transient_so_the_state_machine_retries(aws):
    with Stubber(client("codedeploy")) as stub:
        stub.add_client_error(
            "get_deployment", service_error_code="ThrottlingException", http_status_code=400
        )
        with pytest.raises(TransientDependencyError):
            run_action(_stop(), REAL)


def test_other_aws_errors_become_a_failed_result(aws):
    with Stubber(client("codedeploy")) as stub:
        stub.add_client_error(
            "get_deployment",
            service_error_code="DeploymentDoesNotExistException",
            service_message="no such deployment",
            http_status_code=400,
        )
        result = run_action(_stop(), REAL)
    assert result.status == "failed" and "DeploymentDoesNotExistException" in result.detail


def _ecs_service_on(aws, revision: int) -> None:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="shop")
    for _ in range(3):
        ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
        )
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition=f"web:{revision}", desiredCount=1)


def test_ecs_refuses_when_the_service_moved_on(aws):
    # Given the plan saw web:2 but the service now runs web:3
    _ecs_service_on(aws, 3)
    rollback = RollbackEcsService.model_validate(action("rollback_ecs_service"))
    # When the adapter runs, Then it refuses and leaves the service alone
    result = run_action(rollback, REAL)
    assert result.status == "failed" and "world changed" in result.detail
    service = aws.client("ecs").describe_services(cluster="shop", services=["web"])["services"][0]
    assert service["taskDefinition"].rsplit("/", 1)[-1] == "web:3"


def test_ecs_dry_run_reports_without_updating(aws):
    _ecs_service_on(aws, 2)
    rollback = RollbackEcsService.model_validate(action("rollback_ecs_service"))
    result = run_action(rollback, DRY)
    assert result.status == "dry_run" and result.after == {"task_definition": "web:1"}
    service = aws.client("ecs").describe_services(cluster="shop", services=["web"])["services"][0]
    assert service["taskDefinition"].rsplit("/", 1)[-1] == "web:2"


def test_ecs_missing_service_fails(aws):
    aws.client("ecs").create_cluster(clusterName="shop")
    result = run_action(RollbackEcsService.model_validate(action("rollback_ecs_service")), REAL)
    assert result.status == "failed" and "not active" in result.detail
