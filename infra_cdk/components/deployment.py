"""The deployment state machine (version + alias), the rule that starts it on deployment requests,
the grants that tie it to the incident flow and the approval endpoint, and its dashboard rows and alarms."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from controlroom import asl
from controlroom.contracts.deployment import DEPLOYMENT_AGENTS, DEPLOYMENT_REQUESTED, DEPLOYMENT_SOURCE
from infra_cdk.components.keys import dead_letter_queue
from infra_cdk.components.operations import PLATFORM_ALARM_PERIOD, ops_alarm_name
from infra_cdk.components.orchestration import flow_revision, versioned_flow
from infra_cdk.config import ROOT, EnvironmentConfig

ASL_PATH = ROOT / "stepfunctions" / "deployment.asl.json"
ORCHESTRATED = DEPLOYMENT_AGENTS


def deployment_event_pattern() -> dict[str, list[str]]:
    """``controlroom.deployment.requested`` events from source ``controlroom``."""
    return {"source": [DEPLOYMENT_SOURCE], "detail-type": [DEPLOYMENT_REQUESTED]}


class DeploymentFlow(Construct):
    """State machine, version, environment alias and request rule of the deployment flow.

    Parameters
    ----------
    prefix, env_name, config, key
        As for IncidentResponse.
    aliases, functions
        The agents' aliases (the flow invokes pinned versions) and functions (for grants and settings).
    incident_alias_arn
        The incident flow's alias: a rolled-back deployment starts an execution there.
    approval_url, signing_key_arn, sender
        The approval endpoint the deployment approval links point at, and its signing key.
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
        functions: dict[str, lambda_.Function],
        roles: dict[str, iam.Role],
        incident_alias_arn: str,
        approval: object,
        key: kms.IKey,
        asl_path: Path = ASL_PATH,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self._config = config
        self._removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        definition = asl.load(asl_path, numbers=config.asl_numbers())
        self.revision = flow_revision(definition)
        self._wire_agents(functions, roles, incident_alias_arn, approval, config)
        flow = versioned_flow(
            self,
            machine_name=f"{prefix}-deployment",
            role_name=f"{prefix}-deployment-state-machine",
            agents=ORCHESTRATED,
            aliases=aliases,
            definition=definition,
            revision=self.revision,
            env_name=env_name,
            description="controlroom deployment",
            alias_purpose="the version deployment requests start",
            config=config,
            key=key,
            removal=self._removal,
        )
        self.state_machine, self.version, self.alias = flow.state_machine, flow.version, flow.alias
        self.dead_letter_queue = dead_letter_queue(
            self,
            "RequestDeadLetterQueue",
            queue_name=f"{prefix}-deploy-dlq",
            key=key,
            removal_policy=self._removal,
        )
        self.rule = self._request_rule()

    @property
    def alias_arn(self) -> str:
        return self.alias.ref

    def _wire_agents(
        self,
        functions: dict[str, lambda_.Function],
        roles: dict[str, iam.Role],
        incident_alias_arn: str,
        approval: object,
        config: EnvironmentConfig,
    ) -> None:
        close = functions["deploy_close"]
        close.add_environment("INCIDENT_STATE_MACHINE_ARN", incident_alias_arn)
        # The alias only: a rollback starts the incident flow version the environment runs, nothing else.
        roles["deploy_close"].add_to_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[incident_alias_arn])
        )
        request = functions["deploy_approval"]
        signing_key = approval.signing_key  # type: ignore[attr-defined]
        request.add_environment("APPROVAL_SIGNING_SECRET_ARN", signing_key.secret_arn)
        signing_key.grant_read(request)
        request.add_environment("APPROVAL_BASE_URL", approval.api.url)  # type: ignore[attr-defined]
        request.add_environment("APPROVAL_SENDER", config.approval_sender)

    def _request_rule(self) -> events.Rule:
        pattern = deployment_event_pattern()
        rule = events.Rule(
            self,
            "DeploymentRequestedRule",
            rule_name=f"{self._prefix}-deployment-requested",
            description="controlroom.deployment.requested events start a deployment execution (the alias)",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
        )
        events_role = iam.Role(
            self,
            "RuleRole",
            role_name=f"{self._prefix}-deployment-rule",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        )
        target = sfn.StateMachine.from_state_machine_arn(self, "AliasTarget", self.alias_arn)
        Annotations.of(rule).acknowledge_warning(
            "@aws-cdk/aws-events:ruleUnresolvedEnvironment", "The target alias is in the rule's own stack."
        )
        rule.add_target(
            targets.SfnStateMachine(
                target,
                role=events_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self._config.retry_max_attempts,
                max_event_age=Duration.hours(2),
            )
        )
        return rule

    def add_operations(
        self, dashboard: cloudwatch.Dashboard, topic: sns.ITopic
    ) -> dict[str, cloudwatch.Alarm]:
        """Deployment rows on the operations dashboard, and the ops alarms that page on-call."""
        minute, sum_ = PLATFORM_ALARM_PERIOD, cloudwatch.Stats.SUM
        machine = self.state_machine
        alarms: dict[str, cloudwatch.Alarm] = {}
        for what, metric, description in (
            (
                "deploy-executions-failed",
                machine.metric_failed(period=minute, statistic=sum_),
                "A deployment execution failed (CloseFailed or RequestRejected): open it in the Step Functions "
                "console; check the alias of the function it was deploying.",
            ),
            (
                "deploy-executions-timed-out",
                machine.metric_timed_out(period=minute, statistic=sum_),
                "A deployment execution timed out: the alias may still split traffic; clear its routing.",
            ),
            (
                "deploy-requests-dlq",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=minute, statistic="Maximum"
                ),
                "Deployment requests could not start an execution: read the queue, fix, re-send.",
            ),
        ):
            alarm = cloudwatch.Alarm(
                self,
                f"Alarm-{what}",
                alarm_name=ops_alarm_name(self._prefix, what),
                alarm_description=description,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
            alarms[what] = alarm
        period = Duration.minutes(5)
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## Deployments\nExecutions of the deployment flow by outcome, and its ops alarms.",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Deployments started, succeeded, failed",
                left=[
                    machine.metric_started(period=period, statistic=sum_),
                    machine.metric_succeeded(period=period, statistic=sum_),
                    machine.metric_failed(period=period, statistic=sum_),
                    machine.metric_timed_out(period=period, statistic=sum_),
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Deployment ops alarms", alarms=list(alarms.values()), width=12
            ),
        )
        return alarms
