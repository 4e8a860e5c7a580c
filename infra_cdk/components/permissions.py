"""What each agent's role may do: least privilege, written out per agent so a review reads one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from controlroom.contracts.deployment import DEPLOYMENT_AGENTS
from infra_cdk.components.keys import AUDIT_MAC_WRITE, KEY_USE_ACTIONS

AGENTS = (
    "intake",
    "evidence",
    "diagnose",
    "plan",
    "policy",
    "request_approval",
    "approval_callback",
    "execute",
    "verify",
    "close",
    "escalate",
    # Not an agent of a flow: reads the kill switch every minute (gauge) and audits each flip.
    "autonomy_monitor",
    # The deployment flow (stepfunctions/deployment.asl.json).
    *DEPLOYMENT_AGENTS,
)
DEPLOY_AGENTS = frozenset(DEPLOYMENT_AGENTS)

# Every agent reads incidents and appends its decision record (run_agent: audit put + checkpoint put_step).
CHECKPOINT_READS = ("dynamodb:GetItem", "dynamodb:Query")
CHECKPOINT_BASE_WRITES = ("dynamodb:PutItem",)
# The audit table is append-only: conditional puts (record and chain head, in one TransactWriteItems) and
# reads (GetItem of the head; Query only to verify or to adopt a previous-format chain). Never UpdateItem
# or DeleteItem, for any role.
AUDIT_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query")
# Checkpoint writes beyond the base. There is no IAM action for TransactWriteItems: a transaction is
# authorised by the actions it contains (Intake's open_incident is two conditional Puts).
CHECKPOINT_EXTRA: dict[str, tuple[str, ...]] = {
    # Conditional lock writes; DeleteItem releases the lock of an execution that ended unclosed.
    "intake": ("dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"),
    "evidence": (),
    "diagnose": ("dynamodb:UpdateItem",),  # token-budget reservations are atomic updates
    "plan": ("dynamodb:UpdateItem",),
    "policy": (),
    "request_approval": (),
    "approval_callback": ("dynamodb:UpdateItem",),  # conditional PENDING -> DECIDED flip
    "execute": ("dynamodb:UpdateItem", "dynamodb:DeleteItem"),  # Powertools idempotency records
    "verify": (),
    "close": ("dynamodb:UpdateItem", "dynamodb:DeleteItem"),  # final status; releases the dedupe lock
    "escalate": ("dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "deploy_preflight": (),  # deployment status items are whole puts
    "deploy_policy": (),
    "deploy_approval": (),
    "traffic_shifter": ("dynamodb:UpdateItem",),  # change claims are conditional puts; status updates
    "slo_guard": (),
    "deploy_close": ("dynamodb:UpdateItem", "dynamodb:DeleteItem"),  # releases the per-alias lock
    "autonomy_monitor": (),  # appends flips to the audit chain only
}
AUDIT_FORBIDDEN = frozenset(
    {
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
        "dynamodb:*",
    }
)


@dataclass(frozen=True)
class Resources:
    """What the statements point at."""

    stack: Stack
    prefix: str
    checkpoint_table: dynamodb.ITable
    audit_table: dynamodb.ITable
    topic: sns.ITopic
    ssm_documents: tuple[str, ...]
    key: kms.IKey
    # The HMAC key of the audit chains: every agent appends a decision record, so every agent MACs.
    audit_key: kms.IKey
    # Intake reads alarm tags only when the environment opts alarms in by tag.
    alarm_opt_in_by_tag: bool = False
    # Functions the traffic shifter may move: tagged key=value, or (if set) named with the prefix.
    deploy_opt_in_tag: str = "controlroom:deployable=true"
    deploy_function_prefix: str = ""
    # The kill switch's SSM parameter name (/controlroom/<env>/autonomy); only Policy and Execute read it.
    autonomy_parameter: str = ""
    # The incident-response alias Intake starts (the environment's name), and where rejected events go.
    flow_alias_name: str = ""
    rejected_events_bucket_arn: str = ""
    rejected_events_bucket_name: str = ""

    @property
    def flow_alias_arn(self) -> str:
        """The incident-response alias, written out (not a reference: the flow invokes Intake, so a
        reference from Intake's role to the alias would be a dependency cycle)."""
        return self.arn("states", f"stateMachine:{self.prefix}-incident-response:{self.flow_alias_name}")

    def arn(self, service: str, resource: str, *, separator: str = ":") -> str:
        """An ARN in this stack's account and region."""
        stack = self.stack
        return f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}{separator}{resource}"


def _allow(actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(effect=iam.Effect.ALLOW, actions=actions, resources=resources)


def table_statements(agent: str, res: Resources) -> list[iam.PolicyStatement]:
    """The agent's access to the two tables."""
    checkpoint = res.checkpoint_table.table_arn
    audit = res.audit_table.table_arn
    return [
        _allow(list(CHECKPOINT_READS), [checkpoint, f"{checkpoint}/index/*"]),
        _allow([*CHECKPOINT_BASE_WRITES, *CHECKPOINT_EXTRA[agent]], [checkpoint]),
        _allow(list(AUDIT_ACTIONS), [audit]),
        # Both tables (and the topic) are encrypted under the environment's key.
        _allow(list(KEY_USE_ACTIONS), [res.key.key_arn]),
        # Appending moves the chain head, whose MAC only this key makes; no agent may VerifyMac.
        _allow([AUDIT_MAC_WRITE], [res.audit_key.key_arn]),
    ]


def _publish(res: Resources) -> iam.PolicyStatement:
    return _allow(["sns:Publish"], [res.topic.topic_arn])


def _evidence(res: Resources) -> list[iam.PolicyStatement]:
    return [
        # These support no resource-level permissions: AWS requires "*". All are read-only; the graph
        # tools read the X-Ray service graph and the CloudTrail change feed.
        _allow(
            [
                "cloudwatch:GetMetricData",
                "ecs:ListTaskDefinitions",
                "xray:GetServiceGraph",
                "cloudtrail:LookupEvents",
            ],
            ["*"],
        ),
        _allow(["cloudwatch:DescribeAlarms"], [res.arn("cloudwatch", "alarm:*")]),
        _allow(["logs:FilterLogEvents"], [res.arn("logs", "log-group:*")]),
        _allow(
            ["lambda:GetAlias", "lambda:ListVersionsByFunction", "lambda:ListTags"],
            [res.arn("lambda", "function:*")],
        ),
        _allow(
            ["ecs:DescribeServices", "ecs:ListTagsForResource"],
            [res.arn("ecs", "service/*"), res.arn("ecs", "task-definition/*")],
        ),
        _allow(
            ["codedeploy:ListDeployments", "codedeploy:BatchGetDeployments"],
            [res.arn("codedeploy", "deploymentgroup:*")],
        ),
    ]


def _read_switch(res: Resources) -> list[iam.PolicyStatement]:
    if not res.autonomy_parameter:
        return []
    return [_allow(["ssm:GetParameter"], [res.arn("ssm", f"parameter{res.autonomy_parameter}")])]


def _target_tags(res: Resources) -> list[iam.PolicyStatement]:
    """Read each action's own target's tags (controlroom:protected), whatever the plan aims at."""
    return [
        _allow(["lambda:ListTags"], [res.arn("lambda", "function:*")]),
        _allow(["ecs:DescribeServices", "ecs:ListTagsForResource"], [res.arn("ecs", "service/*")]),
        _allow(["codedeploy:GetDeployment"], [res.arn("codedeploy", "deploymentgroup:*")]),
        _allow(["codedeploy:ListTagsForResource"], [res.arn("codedeploy", "application:*")]),
    ]


def _policy(res: Resources) -> list[iam.PolicyStatement]:
    return [*_read_switch(res), *_target_tags(res)]


def _execute(res: Resources) -> list[iam.PolicyStatement]:
    own_functions = res.arn("lambda", f"function:{res.prefix}-*")
    return [
        *_read_switch(res),
        *_target_tags(res),
        _allow(["lambda:UpdateAlias", "lambda:GetAlias"], [res.arn("lambda", "function:*")]),
        # The agents may roll back workloads, never the control plane that runs them.
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            actions=["lambda:UpdateAlias"],
            resources=[own_functions, f"{own_functions}:*"],
        ),
        _allow(["ecs:UpdateService", "ecs:DescribeServices"], [res.arn("ecs", "service/*")]),
        _allow(
            ["codedeploy:GetDeployment", "codedeploy:StopDeployment"],
            [res.arn("codedeploy", "deploymentgroup:*")],
        ),
        # Only the allow-listed automation documents (Settings.SSM_DOCUMENT_ALLOWLIST).
        _allow(
            ["ssm:StartAutomationExecution"],
            [res.arn("ssm", f"automation-definition/{doc}:*") for doc in res.ssm_documents],
        ),
        _publish(res),
    ]


def _verify(res: Resources) -> list[iam.PolicyStatement]:
    return [
        # GetMetricData supports no resource-level permissions: AWS requires "*".
        _allow(["cloudwatch:GetMetricData"], ["*"]),
        _allow(["cloudwatch:DescribeAlarms"], [res.arn("cloudwatch", "alarm:*")]),
    ]


def _request_approval(res: Resources) -> list[iam.PolicyStatement]:
    return [_publish(res), _allow(["ses:SendEmail", "ses:SendRawEmail"], [res.arn("ses", "identity/*")])]


def _approval_callback(res: Resources) -> list[iam.PolicyStatement]:
    # Task tokens are not resources: SendTaskSuccess/SendTaskFailure accept only "*". Only this role has them.
    return [_allow(["states:SendTaskSuccess", "states:SendTaskFailure"], ["*"])]


def _intake(res: Resources) -> list[iam.PolicyStatement]:
    statements = [
        # The alarm rule invokes Intake, which starts the flow: on the environment's alias only.
        _allow(["states:StartExecution"], [res.flow_alias_arn]),
        # Composite alarms: the triggering child alarms name the resource.
        _allow(["cloudwatch:DescribeAlarms"], [res.arn("cloudwatch", "alarm:*")]),
    ]
    if res.rejected_events_bucket_arn:
        statements.append(_allow(["s3:PutObject"], [f"{res.rejected_events_bucket_arn}/rejected/*"]))
    if res.alarm_opt_in_by_tag:
        statements.append(_allow(["cloudwatch:ListTagsForResource"], [res.arn("cloudwatch", "alarm:*")]))
    return statements


def _deploy_preflight(res: Resources) -> list[iam.PolicyStatement]:
    # Read-only: the alias, both versions' configuration and the function's tags.
    return [
        _allow(
            ["lambda:GetAlias", "lambda:GetFunctionConfiguration", "lambda:ListTags"],
            [res.arn("lambda", "function:*")],
        )
    ]


def _traffic_shifter(res: Resources) -> list[iam.PolicyStatement]:
    """UpdateAlias only on opted-in functions (tag, or name prefix), never on controlroom's own."""
    own_functions = res.arn("lambda", f"function:{res.prefix}-*")
    tag_key, _, tag_value = res.deploy_opt_in_tag.partition("=")
    statements = [
        *_read_switch(res),
        _allow(["lambda:GetAlias"], [res.arn("lambda", "function:*")]),
        iam.PolicyStatement(
            effect=iam.Effect.ALLOW,
            actions=["lambda:UpdateAlias"],
            resources=[res.arn("lambda", "function:*")],
            conditions={"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}},
        ),
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            actions=["lambda:UpdateAlias"],
            resources=[own_functions, f"{own_functions}:*"],
        ),
    ]
    if res.deploy_function_prefix:
        prefixed = res.arn("lambda", f"function:{res.deploy_function_prefix}*")
        statements.append(_allow(["lambda:UpdateAlias"], [prefixed]))
    return statements


def _slo_guard(res: Resources) -> list[iam.PolicyStatement]:
    # Read-only. GetMetricData supports no resource-level permissions: AWS requires "*".
    return [
        _allow(["cloudwatch:GetMetricData"], ["*"]),
        _allow(["cloudwatch:DescribeAlarms"], [res.arn("cloudwatch", "alarm:*")]),
    ]


SERVICE_STATEMENTS: dict[str, Callable[[Resources], list[iam.PolicyStatement]]] = {
    "intake": _intake,
    "evidence": _evidence,
    "execute": _execute,
    "policy": _policy,
    "autonomy_monitor": _read_switch,
    "verify": _verify,
    "close": lambda res: [_publish(res)],
    "escalate": lambda res: [_publish(res)],
    "request_approval": _request_approval,
    "approval_callback": _approval_callback,
    "deploy_preflight": _deploy_preflight,
    "deploy_approval": _request_approval,
    "traffic_shifter": _traffic_shifter,
    "slo_guard": _slo_guard,
    # StartExecution on the incident flow's alias is granted where that alias exists (components/deployment).
    "deploy_close": lambda res: [_publish(res)],
}


def agent_statements(agent: str, res: Resources) -> list[iam.PolicyStatement]:
    """Every statement of one agent's role (besides its log group and X-Ray, added where those are made).

    Parameters
    ----------
    agent
        One of AGENTS.
    res
        The stack's tables, topic and account/region.
    """
    if agent not in CHECKPOINT_EXTRA:
        raise ValueError(f"unknown agent {agent!r}; known: {', '.join(AGENTS)}")
    extra = SERVICE_STATEMENTS.get(agent)
    return [*table_statements(agent, res), *(extra(res) if extra else [])]
