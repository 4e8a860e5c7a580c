"""cdk-nag AwsSolutions checks on the stack, with every acknowledged finding scoped and explained."""

from __future__ import annotations

from typing import cast

from aws_cdk import App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from infra_cdk.acknowledge import acknowledge, rendered
from infra_cdk.components.permissions import AGENTS
from infra_cdk.stacks.controlroom_stack import ControlroomStack

# Per agent: ARN patterns with wildcards (after the "arn:<partition>:" prefix) and why each is needed.
AGENT_WILDCARDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "evidence": (
        (
            "cloudwatch",
            "alarm:*",
            "Evidence reads whichever alarm fired; alarms are not known at deploy time.",
        ),
        (
            "logs",
            "log-group:*",
            "Evidence samples the logs of the workload that alarmed, any group in the account.",
        ),
        ("lambda", "function:*", "Read-only alias/version/tag lookups on the alarmed function."),
        ("ecs", "service/*", "Read-only DescribeServices/ListTagsForResource on the alarmed service."),
        ("ecs", "task-definition/*", "Read-only tag lookups on the alarmed service's task definitions."),
        ("codedeploy", "deploymentgroup:*", "Read-only list of recent deployments of the alarmed workload."),
    ),
    "verify": (("cloudwatch", "alarm:*", "Verify re-reads the alarm that opened the incident."),),
    # Policy and Execute read the tags of each action's own target (controlroom:protected).
    "policy": (
        ("lambda", "function:*", "Read-only ListTags on the function an action targets, chosen at run time."),
        ("ecs", "service/*", "Read-only tags of the ECS service an action targets."),
        ("codedeploy", "deploymentgroup:*", "Read-only GetDeployment of the deployment an action stops."),
        ("codedeploy", "application:*", "Read-only tags of the application of that deployment."),
    ),
    # Present only when the environment opts alarms in by tag (alarm_opt_in_tag).
    "intake": (
        (
            "cloudwatch",
            "alarm:*",
            "Intake reads the tags of whichever alarm fired to check the opt-in tag; alarms are not known "
            "at deploy time.",
        ),
    ),
    "execute": (
        (
            "lambda",
            "function:*",
            "Rollback targets are the alarmed workloads, chosen at run time; the policy "
            "agent gates every action and a Deny statement protects controlroom's own functions.",
        ),
        ("ecs", "service/*", "Rollback of the alarmed ECS service, gated by the policy agent."),
        ("codedeploy", "deploymentgroup:*", "Stopping the alarmed deployment, gated by the policy agent."),
        ("codedeploy", "application:*", "Read-only tags of the deployment's application before acting."),
    ),
    "request_approval": (
        ("ses", "identity/*", "Approval emails are sent from the account's verified identities."),
    ),
    "deploy_approval": (
        ("ses", "identity/*", "Approval emails are sent from the account's verified identities."),
    ),
    "deploy_preflight": (
        ("lambda", "function:*", "Read-only alias/configuration/tag lookups on the function being deployed."),
    ),
    "slo_guard": (("cloudwatch", "alarm:*", "The guard reads the alarms of the function being deployed."),),
    "traffic_shifter": (
        (
            "lambda",
            "function:*",
            "GetAlias on the function being deployed; UpdateAlias only with the opt-in tag condition, and a "
            "Deny statement protects controlroom's own functions.",
        ),
    ),
}
STAR_REASON = (
    "Resource '*' only for actions without resource-level permissions: X-Ray trace writes, "
    "cloudwatch:GetMetricData, ecs:ListTaskDefinitions, xray:GetServiceGraph, cloudtrail:LookupEvents, "
    "states:SendTask* (task tokens), "
    "and Step Functions log delivery."
)


def _arn(stack: Stack, service: str, resource: str) -> str:
    region = rendered(stack.region, "AWS::Region")
    account = rendered(stack.account, "AWS::AccountId")
    # A literal ("aws") with @aws-cdk/core:enablePartitionLiterals and a known region, else the token.
    partition = rendered(stack.partition, "AWS::Partition")
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _acknowledge_agents(stack: ControlroomStack) -> None:
    table = cast(CfnResource, stack.data.checkpoint_table.node.default_child)
    index = f"<{stack.get_logical_id(table)}.Arn>/index/*"
    for agent in AGENTS:
        role = stack.agents.roles[agent]
        function = stack.agents.functions[agent]
        acknowledge(
            function,
            "L1",
            "Python 3.12 on purpose: the layer's wheels are built for cp312 "
            "(pip --python-version 3.12); move runtime and layer together.",
        )
        acknowledge(role, f"IAM5[Resource::{index}]", "Queries on the checkpoint table's own indexes (gsi1).")
        acknowledge(role, "IAM5[Resource::*]", STAR_REASON)
        for service, pattern, reason in AGENT_WILDCARDS.get(agent, ()):
            acknowledge(role, f"IAM5[Resource::{_arn(stack, service, pattern)}]", reason)
    if stack.config.deploy_function_prefix:
        arn = _arn(stack, "lambda", f"function:{stack.config.deploy_function_prefix}*")
        acknowledge(
            stack.agents.roles["traffic_shifter"],
            f"IAM5[Resource::{arn}]",
            "UpdateAlias on the functions the environment opts in by name prefix (deploy_function_prefix).",
        )
    documents = stack.config.ssm_documents
    for document in documents:
        arn = _arn(stack, "ssm", f"automation-definition/{document}:*")
        acknowledge(
            stack.agents.roles["execute"],
            f"IAM5[Resource::{arn}]",
            "Any version of one allow-listed SSM Automation document.",
        )


def apply_aws_solutions_checks(app: App, stack: ControlroomStack) -> None:
    """Run cdk-nag's AwsSolutions pack at synth; unacknowledged findings fail the synth.

    Parameters
    ----------
    app
        The app the plugin is registered on.
    stack
        The controlroom stack whose known, reasoned exceptions are acknowledged.
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    _acknowledge_agents(stack)
    orchestration = stack.incident_response
    acknowledge(orchestration.state_machine.role, "IAM5[Resource::*]", STAR_REASON)
    deployment = stack.deployment
    acknowledge(deployment.state_machine.role, "IAM5[Resource::*]", STAR_REASON)
    acknowledge(
        deployment.dead_letter_queue,
        "SQS3",
        "This queue is the dead-letter queue of the deployment rule's target; a DLQ needs no DLQ of its own.",
    )
    bucket = stack.data.rejected_events_bucket
    acknowledge(
        bucket,
        "S1",
        "Rejected-events bucket: only Intake writes (PutObject under rejected/), objects expire; access is "
        "audited by CloudTrail data events where the account enables them, not by a second logs bucket.",
    )
    bucket_arn = f"<{stack.get_logical_id(cast(CfnResource, bucket.node.default_child))}.Arn>/rejected/*"
    acknowledge(
        stack.agents.roles["intake"],
        f"IAM5[Resource::{bucket_arn}]",
        "Intake writes each rejected event under rejected/<digest>.json; the key is not known at deploy time.",
    )
    acknowledge(
        orchestration.dead_letter_queue,
        "SQS3",
        "This queue is the dead-letter queue of the alarm rule's target; a DLQ needs no DLQ of its own.",
    )
