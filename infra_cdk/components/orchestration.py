"""The incident-response state machine and the EventBridge rule that starts it on alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from controlroom import asl
from infra_cdk.components.agents import pascal
from infra_cdk.config import ROOT, EnvironmentConfig

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


def substitution_name(agent: str) -> str:
    """The DefinitionSubstitutions key of an agent: request_approval -> RequestApprovalFunctionArn."""
    return f"{pascal(agent)}FunctionArn"


def alarm_event_pattern(alarm_name_prefix: str) -> dict[str, Any]:
    """The EventBridge pattern for alarms entering ALARM, restricted to a name prefix when one is set."""
    detail: dict[str, Any] = {"state": {"value": ["ALARM"]}}
    if alarm_name_prefix:
        detail["alarmName"] = [{"prefix": alarm_name_prefix}]
    return {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": detail}


class IncidentResponse(Construct):
    """State machine (numbers rendered per environment, function ARNs as substitutions), its trigger and
    the ops alarms that page humans when the control plane itself fails."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        config: EnvironmentConfig,
        functions: dict[str, lambda_.Function],
        topic: sns.ITopic,
        asl_path: Path = ASL_PATH,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self._config = config
        self._removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.state_machine = self._state_machine(functions, asl_path)
        self.dead_letter_queue = sqs.Queue(
            self,
            "AlarmDeadLetterQueue",
            queue_name=f"{prefix}-alarm-dlq",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=self._removal,
        )
        self.rule = self._alarm_rule()
        self.ops_alarms = self._ops_alarms(topic)

    def _state_machine(self, functions: dict[str, lambda_.Function], asl_path: Path) -> sfn.StateMachine:
        role = iam.Role(
            self,
            "StateMachineRole",
            role_name=f"{self._prefix}-state-machine",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[functions[a].function_arn for a in ORCHESTRATED]
            )
        )
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{self._prefix}-incident-response",
            retention=logs.RetentionDays[self._config.log_retention_name],
            removal_policy=self._removal,
        )
        definition = asl.load(asl_path, numbers=self._config.asl_numbers())
        return sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"{self._prefix}-incident-response",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions={substitution_name(a): functions[a].function_arn for a in ORCHESTRATED},
            role=role,
            tracing_enabled=True,
            # Names and transitions only: state data carries evidence text that stays in the checkpoint.
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            removal_policy=self._removal,
        )

    def _alarm_rule(self) -> events.Rule:
        pattern = alarm_event_pattern(self._config.alarm_name_prefix)
        rule = events.Rule(
            self,
            "AlarmStateChangeRule",
            rule_name=f"{self._prefix}-alarm-state-change",
            description="CloudWatch alarms entering ALARM start an incident-response execution",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
        )
        events_role = iam.Role(
            self,
            "RuleRole",
            role_name=f"{self._prefix}-alarm-rule",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        )
        rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                role=events_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self._config.retry_max_attempts,
                max_event_age=Duration.hours(2),
            )
        )
        return rule

    def _ops_alarms(self, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        # A failed execution means Escalate itself failed (the ASL catches everything else), and a message
        # in the DLQ means an alarm never became an incident: both need a human, through the same topic.
        alarms = [
            self.state_machine.metric_failed(period=Duration.minutes(1), statistic="Sum").create_alarm(
                self,
                "ExecutionsFailedAlarm",
                alarm_name=f"{self._prefix}-executions-failed",
                alarm_description="An incident-response execution failed: the incident has no owner.",
                threshold=1,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "DeadLetterAlarm",
                alarm_name=f"{self._prefix}-alarm-dlq-not-empty",
                alarm_description="An alarm event could not start an incident (see the DLQ).",
                threshold=1,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarms
