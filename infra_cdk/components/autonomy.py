"""The kill switch of one environment: an SSM parameter Policy and Execute read at run time."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

# The template's value never changes, so a deploy never overwrites a halt flipped at run time (CloudFormation
# updates a parameter only when its template value changes). The mode is left out for the same reason:
# without one in the switch, the environment's deploy-time autonomy_mode applies.
INITIAL_VALUE = json.dumps({"state": "run"})


def switch_parameter_name(env_name: str) -> str:
    """``/controlroom/<env>/autonomy``."""
    return f"/controlroom/{env_name}/autonomy"


class KillSwitch(Construct):
    """The parameter; its name is AUTONOMY_PARAMETER of Policy and Execute."""

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str) -> None:
        super().__init__(scope, construct_id)
        self.parameter_name = switch_parameter_name(env_name)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=self.parameter_name,
            string_value=INITIAL_VALUE,
            description=(
                f"controlroom {env_name} kill switch (JSON state halt or run, optional mode); "
                "halt: nothing executes, incidents escalate as halted."
            ),
            tier=ssm.ParameterTier.STANDARD,
        )


class KillSwitchMonitor(Construct):
    """Invoke the monitor every minute (the gauge the ops alarm reads) and on each CloudTrail flip.

    The flip rule needs a CloudTrail trail recording management events in the region: EventBridge gets
    "AWS API Call via CloudTrail" events only from one. Without it the gauge and alarm still work.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        parameter_name: str,
        monitor: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        target = targets.LambdaFunction(monitor, retry_attempts=2, max_event_age=Duration.minutes(10))
        self.schedule = events.Rule(
            self,
            "Schedule",
            rule_name=f"{prefix}-autonomy-monitor",
            description="Read the kill switch every minute: the AutonomyHalted gauge the ops alarm reads.",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[target],
        )
        self.flips = events.Rule(
            self,
            "Flips",
            rule_name=f"{prefix}-autonomy-flips",
            description="Audit who changed the kill switch (CloudTrail names the principal).",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={
                    "eventSource": ["ssm.amazonaws.com"],
                    "eventName": ["PutParameter", "DeleteParameter", "DeleteParameters"],
                    "requestParameters": {"name": [parameter_name]},
                },
            ),
            targets=[target],
        )
