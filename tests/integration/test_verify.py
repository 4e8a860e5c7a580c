"""Verify against moto: recovered only if the alarm is OK or fresh datapoints stay below the threshold."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest

from controlroom.agents.intake import build_incident, parse_alarm_event
from controlroom.agents.verify import verify, verify_alarm
from controlroom.contracts import ExecutionReport, IntakeResult, utcnow
from controlroom.contracts.flow import VerifyInput
from controlroom.runtime import AgentContext, stores
from controlroom.settings import settings as load_settings

ROOT = Path(__file__).resolve().parents[2]
DIMENSIONS = [
    {"Name": "FunctionName", "Value": "checkout-api"},
    {"Name": "Resource", "Value": "checkout-api:live"},
]


def request_for(sample: str = "alarm_lambda_errors.json", minutes_since_change: int = 10) -> VerifyInput:
    raw = json.loads((ROOT / "events" / sample).read_text())
    incident = build_incident(parse_alarm_event(raw), load_settings(), utcnow())
    execution = ExecutionReport(
        dry_run=False,
        plan_digest="0" * 64,
        results=[],
        executed_at=utcnow() - timedelta(minutes=minutes_since_change),
    )
    return VerifyInput(intake=IntakeResult(outcome="opened", incident=incident), execution=execution)


def make_ctx() -> AgentContext:
    return AgentContext(
        agent="verify", settings=load_settings(), stores=stores(), deadline=utcnow() + timedelta(seconds=30)
    )


@pytest.fixture
def errors_alarm(aws):
    """The demo alarm in CloudWatch: Sum of Errors > 5 over 60 s, currently in ALARM."""
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="checkout-api-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=DIMENSIONS,
        Period=60,
        Statistic="Sum",
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
    )
    cloudwatch.set_alarm_state(AlarmName="checkout-api-errors", StateValue="ALARM", StateReason="errors")
    return cloudwatch


def put_errors(cloudwatch, values_by_minutes_ago: dict[int, float]) -> None:
    now = utcnow()
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": DIMENSIONS,
                "Timestamp": now - timedelta(minutes=ago),
                "Value": value,
            }
            for ago, value in values_by_minutes_ago.items()
        ],
    )


def test_alarm_back_to_ok_is_recovered(errors_alarm):
    errors_alarm.set_alarm_state(AlarmName="checkout-api-errors", StateValue="OK", StateReason="fine")
    result = verify(request_for(), make_ctx())
    assert result.recovered and result.alarm_state == "OK"


def test_clean_datapoints_after_the_change_are_recovered(errors_alarm):
    # Given breaching datapoints before the rollback and clean ones after it, the alarm still in ALARM
    put_errors(errors_alarm, {15: 14.0, 12: 20.0, 5: 0.0, 4: 1.0, 3: 0.0})
    # When verify runs 10 minutes after the change
    result = verify(request_for(minutes_since_change=10), make_ctx())
    # Then only the datapoints after the change count, and none breaches
    assert result.recovered and result.alarm_state == "ALARM"
    assert result.breaching_datapoints == 0 and "3 datapoints since the change" in result.detail


def test_breaching_datapoints_after_the_change_are_not_recovered(errors_alarm):
    put_errors(errors_alarm, {5: 0.0, 4: 9.0, 3: 12.0})
    result = verify(request_for(), make_ctx())
    assert not result.recovered and result.breaching_datapoints == 2


def test_no_datapoint_after_the_change_is_not_recovered(errors_alarm):
    put_errors(errors_alarm, {15: 0.0})
    result = verify(request_for(), make_ctx())
    assert not result.recovered and "no datapoint after the change" in result.detail


def test_deleted_alarm_is_not_recovered(aws):
    result = verify(request_for(), make_ctx())
    assert not result.recovered and result.alarm_state == "NOT_FOUND"


class CompositeOnly:
    """moto has no PutCompositeAlarm: a CloudWatch stand-in that knows one composite alarm."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.calls: list[dict] = []

    def describe_alarms(self, **kwargs):
        self.calls.append(kwargs)
        alarm = {"AlarmName": "checkout-composite", "StateValue": self.state, "AlarmRule": "ALARM(x)"}
        return {
            "MetricAlarms": [],
            "CompositeAlarms": [alarm] if "CompositeAlarm" in kwargs["AlarmTypes"] else [],
        }

    def get_metric_data(self, **kwargs):
        raise AssertionError("a composite alarm has no metrics to read")


def test_composite_alarm_is_judged_by_its_state_only(aws):
    # Given the composite alarm still in ALARM
    cloudwatch = CompositeOnly("ALARM")
    still = verify_alarm(request_for("alarm_composite.json"), make_ctx(), cloudwatch)
    # Then it is not recovered, and only its state was read (as a composite alarm)
    assert not still.recovered and still.alarm_state == "ALARM" and "composite" in still.detail
    assert cloudwatch.calls == [{"AlarmNames": ["checkout-composite"], "AlarmTypes": ["CompositeAlarm"]}]
    # And once it is OK it is recovered
    assert verify_alarm(request_for("alarm_composite.json"), make_ctx(), CompositeOnly("OK")).recovered


def test_verify_handler_writes_a_verifiable_decision_record(errors_alarm, lambda_context):
    put_errors(errors_alarm, {4: 0.0})
    request = request_for()
    spec = importlib.util.spec_from_file_location("verify_handler", ROOT / "functions/verify/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = module.handler(request.model_dump(mode="json"), lambda_context)
    assert output["recovered"] is True
    incident_id = request.incident.incident_id
    [step] = stores().checkpoint.steps(incident_id)
    assert step.agent == "verify" and [c.tool for c in step.tool_calls] == [
        "cloudwatch.describe_alarms",
        "cloudwatch.get_metric_data",
    ]
    assert stores().audit.verify(incident_id).ok


def test_verify_after_the_incident_budget_still_checks_the_change(errors_alarm, lambda_context):
    # Given a change made, clean datapoints since, and an incident whose budget ran out meanwhile
    from controlroom.agents.verify import VERIFY
    from controlroom.runtime import run_agent

    put_errors(errors_alarm, {5: 0.0, 4: 1.0, 3: 0.0})
    request = request_for(minutes_since_change=10)
    late = request.incident.model_copy(update={"deadline_at": utcnow() - timedelta(minutes=1)})
    event = {
        "intake": IntakeResult(outcome="opened", incident=late).model_dump(mode="json"),
        "execution": request.execution.model_dump(mode="json"),
    }
    # When the Verify agent runs (through the runtime, which applies the budget)
    result = run_agent(VERIFY, event, lambda_context)
    # Then it verifies instead of stopping with TimeBudgetExceeded, so the flow can close Resolved
    assert result["recovered"] is True
