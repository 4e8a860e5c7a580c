"""Hand a rolled-back deployment to incident response: one function, so the entry can be switched.

Today it starts the incident flow's alias with a CloudWatch alarm state change that Intake accepts,
about the function's errors on the alias, carrying the deployment as the known change under
``detail.controlroom.known_change`` (Intake ignores unknown fields; Evidence also finds the alias
changes in the function's change feed). When incident starts go through the Intake Lambda, only
this function changes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from controlroom.aws import client
from controlroom.contracts import utcnow
from controlroom.contracts.deployment import DeploymentRef, GuardVerdict

GUARD_ALARM_PREFIX = "controlroom-deploy-guard-"


def _cloudwatch_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def incident_event(
    deployment: DeploymentRef, guard: GuardVerdict | None, account: str, region: str
) -> dict[str, Any]:
    """The alarm-shaped event about the failed canary, with the deployment as the known change."""
    now = utcnow()
    alarm_name = f"{GUARD_ALARM_PREFIX}{deployment.function_name}"
    reasons = "; ".join(guard.reasons) if guard else "the canary failed"
    rate = guard.canary.error_rate if guard else 0.0
    return {
        "version": "0",
        "id": f"{deployment.deployment_id}-rollback",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_name}"],
        "detail": {
            "alarmName": alarm_name,
            "state": {
                "value": "ALARM",
                "reason": f"controlroom SLO guard failed the canary of version {deployment.candidate_version}: {reasons}"[
                    :1000
                ],
                "timestamp": _cloudwatch_time(now),
                "reasonData": json.dumps(
                    {"version": "1.0", "statistic": "Sum", "period": 60, "recentDatapoints": [rate]}
                ),
            },
            "previousState": {
                "value": "OK",
                "reason": "canary started",
                "timestamp": _cloudwatch_time(deployment.requested_at),
            },
            "configuration": {
                "description": f"{deployment.function_name} (alias {deployment.alias}) canary rolled back by controlroom",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/Lambda",
                                "name": "Errors",
                                "dimensions": {
                                    "FunctionName": deployment.function_name,
                                    "Resource": f"{deployment.function_name}:{deployment.alias}",
                                },
                            },
                            "period": 60,
                            "stat": "Sum",
                        },
                        "returnData": True,
                    }
                ],
            },
            "controlroom": {
                "known_change": {
                    "kind": "deployment",
                    "deployment_id": deployment.deployment_id,
                    "function_name": deployment.function_name,
                    "alias": deployment.alias,
                    "from_version": deployment.stable_version,
                    "to_version": deployment.candidate_version,
                    "requested_by": deployment.requested_by,
                    "rolled_back": True,
                },
                "guard_evidence": guard.model_dump(mode="json") if guard else None,
            },
        },
    }


def start_incident_flow(state_machine_arn: str, deployment: DeploymentRef, guard: GuardVerdict | None) -> str:
    """Start the incident flow about a rolled-back deployment; return the execution ARN.

    The execution name is derived from the deployment, so a retried close starts one incident flow.
    """
    arn_parts = state_machine_arn.split(":")
    region, account = arn_parts[3], arn_parts[4]
    sfn = client("stepfunctions")
    name = f"{deployment.deployment_id}-incident"
    event = incident_event(deployment, guard, account, region)
    try:
        started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(event))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        machine = (
            state_machine_arn.rsplit(":", 1)[0] if state_machine_arn.count(":") > 6 else state_machine_arn
        )
        return machine.replace(":stateMachine:", ":execution:") + f":{name}"
    return str(started["executionArn"])
