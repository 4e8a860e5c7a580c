"""The shared layer and one Lambda function, role and log group per agent."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from controlroom import asl
from infra_cdk.components.keys import dead_letter_queue
from infra_cdk.components.permissions import AGENTS, DEPLOY_AGENTS, Resources, agent_statements
from infra_cdk.config import ROOT, EnvironmentConfig

ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache"]
FUNCTIONS_DIR = ROOT / "functions"
ASL_PATH = ROOT / "stepfunctions" / "incident_response.asl.json"
# Agents whose side effects must never repeat behind the flow's back if someone invokes them
# asynchronously: straight to the dead-letter queue instead of Lambda's two automatic retries.
NOT_RETRIED_ASYNC = frozenset(
    {"execute", "request_approval", "approval_callback", "traffic_shifter", "deploy_approval", "deploy_close"}
)


class MissingFunctionCode(FileNotFoundError):
    """An agent has no functions/<agent>/handler.py, so there is nothing to deploy."""


def function_name(prefix: str, agent: str) -> str:
    """``controlroom-<env>-<agent>`` with hyphens, e.g. controlroom-local-request-approval."""
    return f"{prefix}-{agent.replace('_', '-')}"


def pascal(agent: str) -> str:
    """request_approval -> RequestApproval (ASL substitutions and output names)."""
    return "".join(part.capitalize() for part in agent.split("_"))


def handler_dirs(functions_dir: Path = FUNCTIONS_DIR) -> dict[str, Path]:
    """The asset folder of every agent; fails naming all the missing ones."""
    folders = {agent: functions_dir / agent for agent in AGENTS}
    missing = [
        f"functions/{agent}/handler.py"
        for agent, folder in folders.items()
        if not (folder / "handler.py").is_file()
    ]
    if missing:
        raise MissingFunctionCode(
            f"missing Lambda handler(s): {', '.join(missing)} (every agent needs functions/<agent>/handler.py)"
        )
    return folders


def deploy_environment(config: EnvironmentConfig) -> dict[str, str]:
    """The deployment flow's settings, for its agents only (controlroom.settings.Settings names)."""
    return {
        "CANARY_STEPS": config.deploy_canary_steps,
        "CANARY_MAX_EXTENSIONS": str(config.deploy_max_extensions),
        "CANARY_MIN_INVOCATIONS": str(config.deploy_min_invocations),
        "FREEZE_WINDOWS": config.deploy_freeze_windows,
        "BREAK_GLASS_APPROVALS": str(config.deploy_break_glass_approvals),
        "DEPLOY_OPT_IN_TAG": config.deploy_opt_in_tag,
        "DEPLOY_FUNCTION_PREFIX": config.deploy_function_prefix,
        "DEPLOY_TIME_BUDGET_SECONDS": str(config.incident_time_budget_seconds),
    }


# Only the agents that act (or decide to) read the kill switch, and its monitor; no other role may read it.
READS_KILL_SWITCH = frozenset({"policy", "execute", "autonomy_monitor", "traffic_shifter"})


def agent_environment(env_name: str, config: EnvironmentConfig, res: Resources, agent: str) -> dict[str, str]:
    """Environment variables of one agent; names are controlroom.settings.Settings fields."""
    switch = {"AUTONOMY_PARAMETER": res.autonomy_parameter} if agent in READS_KILL_SWITCH else {}
    return {
        **(deploy_environment(config) if agent in DEPLOY_AGENTS else {}),
        **(_graph_environment(config) if agent == "evidence" else {}),
        **(_intake_environment(config, res) if agent == "intake" else {}),
        **switch,
        "ENVIRONMENT": env_name,
        "AUTONOMY_MODE": config.autonomy_mode.value,
        "CHECKPOINT_TABLE": res.checkpoint_table.table_name,
        "AUDIT_TABLE": res.audit_table.table_name,
        "AUDIT_KEY_ID": res.audit_key.key_arn,
        "TOPIC_ARN": res.topic.topic_arn,
        "CONFIDENCE_THRESHOLD": str(config.confidence_threshold),
        "INCIDENT_TIME_BUDGET_SECONDS": str(config.incident_time_budget_seconds),
        "APPROVAL_TTL_SECONDS": str(config.approval_ttl_seconds),
        "APPROVERS": ",".join(config.approvers),
        "REQUIRED_APPROVALS": str(config.required_approvals),
        "SSM_DOCUMENT_ALLOWLIST": ",".join(config.ssm_documents),
        "ALARM_OPT_IN_TAG": config.alarm_opt_in_tag,
        "AGENT_NAME": agent,
        "POWERTOOLS_SERVICE_NAME": "controlroom",
        "POWERTOOLS_METRICS_NAMESPACE": "Controlroom",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def _graph_environment(config: EnvironmentConfig) -> dict[str, str]:
    """Evidence's service-graph settings: the declared topology and parameter readers (JSON), the baseline."""
    return {
        "GRAPH_TOPOLOGY": json.dumps(config.graph_topology, sort_keys=True) if config.graph_topology else "",
        "GRAPH_PARAMETER_READERS": (
            json.dumps(config.graph_parameter_readers, sort_keys=True)
            if config.graph_parameter_readers
            else ""
        ),
        "GRAPH_BASELINE_MINUTES": str(config.graph_baseline_minutes),
    }


def _intake_environment(config: EnvironmentConfig, res: Resources) -> dict[str, str]:
    # Intake starts the flow and leases the alarm's lock for the flow's backstop (controlroom.budgets).
    return {
        "STATE_MACHINE_ALIAS_ARN": res.flow_alias_arn,
        "APPROVAL_TIMEOUT_SECONDS": str(config.approval_timeout_seconds),
        "REJECTED_EVENT_BUCKET": res.rejected_events_bucket_name,
        # Intake's own decision record names the flow it starts, like every later record.
        "FLOW_REVISION": asl.revision(asl.load(ASL_PATH, numbers=config.asl_numbers())),
    }


class AgentFunctions(Construct):
    """The layer plus, per agent, a function with its own role, log group, published version and alias.

    Every function is published as a version (``current_version``: a change of code or configuration
    publishes a new one, which ``cdk diff`` shows as a new AWS::Lambda::Version) and reached through an
    alias named after the environment, which points at that version. Callers (the state machine, API
    Gateway) invoke the alias, so the running version is pinned and recorded by every decision.

    Attributes
    ----------
    functions, roles, aliases
        Keyed by agent name (``request_approval``).
    async_dead_letter_queue
        Where an asynchronous invocation lands after Lambda's retries (none of ours is asynchronous; an
        operator's ``aws lambda invoke --invocation-type Event`` must not vanish either).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        config: EnvironmentConfig,
        res: Resources,
        layer_dir: Path,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        folders = handler_dirs(functions_dir)
        self._removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.async_dead_letter_queue = dead_letter_queue(
            self,
            "AsyncDeadLetterQueue",
            queue_name=f"{res.prefix}-agent-async-dlq",
            key=res.key,
            removal_policy=self._removal,
        )
        self.layer = lambda_.LayerVersion(
            self,
            "SharedLayer",
            layer_version_name=f"{res.prefix}-shared",
            code=lambda_.Code.from_asset(str(layer_dir), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description=f"controlroom library ({config.layer_mode})",
            removal_policy=self._removal,
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.aliases: dict[str, lambda_.Alias] = {}
        self.roles: dict[str, iam.Role] = {}
        for agent in AGENTS:
            self._add_agent(agent, folders[agent], env_name, config, res)

    def _add_agent(
        self, agent: str, folder: Path, env_name: str, config: EnvironmentConfig, res: Resources
    ) -> None:
        name = function_name(res.prefix, agent)
        log_group = logs.LogGroup(
            self,
            f"{pascal(agent)}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=logs.RetentionDays[config.log_retention_name],
            encryption_key=res.key,
            removal_policy=self._removal,
        )
        self.roles[agent] = self._role(agent, name, env_name, log_group, res)
        self.functions[agent] = lambda_.Function(
            self,
            f"{pascal(agent)}Function",
            function_name=name,
            code=lambda_.Code.from_asset(str(folder), exclude=ASSET_EXCLUDES),
            handler="handler.handler",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            layers=[self.layer],
            role=self.roles[agent],
            tracing=lambda_.Tracing.ACTIVE,
            timeout=Duration.seconds(config.agent_timeout_seconds),
            memory_size=512,
            environment=agent_environment(env_name, config, res, agent),
            log_group=log_group,
            description=f"controlroom {agent} agent",
            # Intake is the door an alarm storm comes through: its own pool, so the storm cannot starve
            # the account's other functions and they cannot starve it.
            reserved_concurrent_executions=config.intake_reserved_concurrency if agent == "intake" else None,
            dead_letter_queue=self.async_dead_letter_queue,
            # Superseded versions stay, so an alias can be moved back to one without a deploy.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.RETAIN),
            retry_attempts=0 if agent in NOT_RETRIED_ASYNC else None,
        )
        self.aliases[agent] = lambda_.Alias(
            self,
            f"{pascal(agent)}Alias",
            alias_name=env_name,
            version=self.functions[agent].current_version,
            description=f"controlroom {agent} agent, {env_name}: the version the flow invokes",
        )

    def _role(
        self, agent: str, name: str, env_name: str, log_group: logs.LogGroup, res: Resources
    ) -> iam.Role:
        role = iam.Role(
            self,
            f"{pascal(agent)}Role",
            role_name=name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"controlroom {agent} agent ({env_name}): least privilege",
        )
        # Logs go to the explicit group only; no AWSLambdaBasicExecutionRole (it allows every group).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        for statement in agent_statements(agent, res):
            role.add_to_policy(statement)
        return role
