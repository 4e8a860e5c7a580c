"""The incident-response state machine (published as a version, reached through an alias), the
EventBridge rule that sends alarms to Intake (which dedupes, then starts the alias), and the rule that
tells Intake when an execution ended unclosed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from controlroom import asl
from infra_cdk.components.agents import pascal
from infra_cdk.components.keys import dead_letter_queue
from infra_cdk.config import OWN_ALARM_PREFIX, ROOT, EnvironmentConfig

ASL_PATH = ROOT / "stepfunctions" / "incident_response.asl.json"
# Agents the ASL invokes (approval_callback is called by people, through its own endpoint).
ORCHESTRATED = (
    "intake",
    "evidence",
    "diagnose",
    "plan",
    "policy",
    "request_approval",
    "execute",
    "verify",
    "close",
    "escalate",
)


# The string substitution carrying the flow revision into the Normalise state (and every decision record).
FLOW_REVISION = "FlowRevision"


def substitution_name(agent: str) -> str:
    """The DefinitionSubstitutions key of an agent: request_approval -> RequestApprovalFunctionArn."""
    return f"{pascal(agent)}FunctionArn"


def alarm_event_pattern(alarm_name_prefix: str) -> dict[str, Any]:
    """The EventBridge pattern for alarms entering ALARM.

    With a name prefix, only alarms named with it (config refuses prefixes that match controlroom's own
    alarms). Without one, every alarm except controlroom's own: an alarm about the control plane pages a
    human through the ops topic and never starts an incident flow about itself.
    """
    names: list[dict[str, Any]] = (
        [{"prefix": alarm_name_prefix}]
        if alarm_name_prefix
        else [{"anything-but": {"prefix": OWN_ALARM_PREFIX}}]
    )
    return {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"state": {"value": ["ALARM"]}, "alarmName": names},
    }


# Executions ending like this have not closed their incident: Intake releases the alarm's lock.
UNCLOSED_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"]


def status_change_pattern(state_machine_arn: str) -> dict[str, Any]:
    """The pattern for the flow's executions that ended FAILED, TIMED_OUT or ABORTED."""
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": UNCLOSED_STATUSES, "stateMachineArn": [state_machine_arn]},
    }


def flow_revision(definition: str) -> str:
    """A short content digest of the rendered definition: which flow an incident ran, in every record."""
    return asl.revision(definition)


@dataclass(frozen=True)
class VersionedFlow:
    """A flow's state machine, its published version and the environment alias that reaches it."""

    state_machine: sfn.StateMachine
    version: sfn.CfnStateMachineVersion
    alias: sfn.CfnStateMachineAlias


def versioned_flow(
    scope: Construct,
    *,
    machine_name: str,
    role_name: str,
    agents: Sequence[str],
    aliases: dict[str, lambda_.Alias],
    definition: str,
    revision: str,
    env_name: str,
    description: str,
    alias_purpose: str,
    config: EnvironmentConfig,
    key: kms.IKey,
    removal: RemovalPolicy,
) -> VersionedFlow:
    """Build a flow's role, execution log group, state machine, published version and alias in ``scope``.

    Parameters
    ----------
    machine_name
        The state machine's name (``controlroom-prod-incident-response``); its log group is named after it.
    role_name
        The name of the role the state machine runs as.
    agents
        The agents the definition invokes: each gets a substitution and ``lambda:InvokeFunction``.
    definition, revision
        The rendered ASL and its digest (substituted as ``FlowRevision``).
    env_name
        The alias name, like the agents' aliases.
    description, alias_purpose
        ``controlroom incident response``: the version reads "<description> <revision>", the alias
        "<description>, <env_name>: <alias_purpose>".
    """
    role = iam.Role(
        scope,
        "StateMachineRole",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
    )
    # The aliases only: the flow cannot invoke $LATEST or an unpinned version.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[aliases[a].function_arn for a in agents]
        )
    )
    log_group = logs.LogGroup(
        scope,
        "StateMachineLogs",
        log_group_name=f"/aws/vendedlogs/states/{machine_name}",
        retention=logs.RetentionDays[config.log_retention_name],
        encryption_key=key,
        removal_policy=removal,
    )
    substitutions = {substitution_name(a): aliases[a].function_arn for a in agents}
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=machine_name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions={**substitutions, FLOW_REVISION: revision},
        role=role,
        tracing_enabled=True,
        # Names and transitions only: state data carries evidence text that stays in the checkpoint.
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        removal_policy=removal,
    )
    version = sfn.CfnStateMachineVersion(
        scope,
        "Version",
        state_machine_arn=state_machine.state_machine_arn,
        # A new revision (a changed definition) publishes a new version; an unchanged one does not.
        state_machine_revision_id=state_machine.state_machine_revision_id,
        description=f"{description} {revision}",
    )
    # Keep superseded versions: executions still running on them finish on the code they started with.
    version.apply_removal_policy(RemovalPolicy.RETAIN)
    alias = sfn.CfnStateMachineAlias(
        scope,
        "Alias",
        name=env_name,
        description=f"{description}, {env_name}: {alias_purpose}",
        routing_configuration=[
            sfn.CfnStateMachineAlias.RoutingConfigurationVersionProperty(
                state_machine_version_arn=version.attr_arn, weight=100
            )
        ],
    )
    return VersionedFlow(state_machine, version, alias)


class IncidentResponse(Construct):
    """State machine (numbers rendered per environment, agent aliases as substitutions), its published
    version and environment alias, and the rule that starts the alias on alarms.

    Parameters
    ----------
    prefix
        ``controlroom-<env>``.
    env_name
        The alias name (``prod``), like the agents' aliases.
    aliases
        The agents' aliases by agent name: the flow invokes pinned versions, never $LATEST.
    key
        Encrypts the rule's dead-letter queue and the execution log group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        env_name: str,
        config: EnvironmentConfig,
        aliases: dict[str, lambda_.Alias],
        key: kms.IKey,
        asl_path: Path = ASL_PATH,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self._config = config
        self._removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        definition = asl.load(asl_path, numbers=config.asl_numbers())
        self.revision = flow_revision(definition)
        flow = versioned_flow(
            self,
            machine_name=f"{prefix}-incident-response",
            role_name=f"{prefix}-state-machine",
            agents=ORCHESTRATED,
            aliases=aliases,
            definition=definition,
            revision=self.revision,
            env_name=env_name,
            description="controlroom incident response",
            alias_purpose="the version alarms start",
            config=config,
            key=key,
            removal=self._removal,
        )
        self.state_machine, self.version, self.alias = flow.state_machine, flow.version, flow.alias
        self.dead_letter_queue = dead_letter_queue(
            self,
            "AlarmDeadLetterQueue",
            queue_name=f"{prefix}-alarm-dlq",
            key=key,
            removal_policy=self._removal,
        )
        self.rule = self._alarm_rule(aliases["intake"])
        self.status_change_rule = self._status_change_rule(aliases["intake"])

    @property
    def alias_arn(self) -> str:
        """The ARN Intake starts: ``arn:...:stateMachine:<name>:<env>``."""
        return self.alias.ref

    def _intake_target(self, intake: lambda_.Alias) -> targets.LambdaFunction:
        # Asynchronous invocation with the rule's own retries and DLQ: an event Intake cannot take lands
        # in the queue (and its ops alarm), never nowhere.
        return targets.LambdaFunction(
            intake,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=self._config.retry_max_attempts,
            max_event_age=Duration.hours(2),
        )

    def _alarm_rule(self, intake: lambda_.Alias) -> events.Rule:
        pattern = alarm_event_pattern(self._config.alarm_name_prefix)
        rule = events.Rule(
            self,
            "AlarmStateChangeRule",
            rule_name=f"{self._prefix}-alarm-state-change",
            description="CloudWatch alarms entering ALARM go to Intake, which dedupes and starts the flow alias",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
        )
        rule.add_target(self._intake_target(intake))
        return rule

    def _status_change_rule(self, intake: lambda_.Alias) -> events.Rule:
        pattern = status_change_pattern(self.state_machine.state_machine_arn)
        rule = events.Rule(
            self,
            "ExecutionStatusChangeRule",
            rule_name=f"{self._prefix}-execution-ended-unclosed",
            description="Incident executions that FAILED, TIMED_OUT or were ABORTED: Intake releases their lock",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
        )
        rule.add_target(self._intake_target(intake))
        return rule
