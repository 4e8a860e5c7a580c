"""The operations dashboard shows every business and platform metric, and every ops alarm pages the ops topic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from infra_cdk.components.operations import OPS_ALARM_PREFIX_FORMAT, Operations, guarded_ratio, ops_alarm_name
from infra_cdk.components.permissions import AGENTS

from tests.infra.template_tools import resources_of

PREFIX = "controlroom-prod"
ENV = "prod"
QUEUES = ("alarm-events", "agent-async")
TIMEOUT_THRESHOLD = 3
BUSINESS_DIMENSIONS = {"environment": ENV, "service": "controlroom"}
# The list, spelled out here (not imported) so a rename in the catalog fails this test.
REQUIRED_BUSINESS_METRICS = (
    "IncidentsOpened",
    "IncidentsResolved",
    "TimeToApprovalRequest",
    "TimeToDecision",
    "TimeToRecovery",
    "ApprovalsPending",
    "Escalations",
    "ApprovalTimeouts",
    "Quarantines",
    "ApprovalsRejected",
    "ApprovalsApproved",
    "ModelFallbacks",
    "ModelDecisions",
    "ModelTokensIn",
    "ModelTokensOut",
    "ModelCostUsd",
)


@dataclass(frozen=True)
class Synthesized:
    operations: Operations
    template: dict[str, Any]
    widgets: list[dict[str, Any]]
    function_ids: dict[str, str]
    queue_ids: dict[str, str]
    state_machine_id: str
    topic_id: str


def _render(part: Any) -> str:
    """One Fn::Join part as text: literals as they are, references as ${Ref:Id} or ${GetAtt:Id.Attr}."""
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"${{Ref:{part['Ref']}}}"
    if "Fn::GetAtt" in part:
        return f"${{GetAtt:{'.'.join(part['Fn::GetAtt'])}}}"
    raise AssertionError(f"unexpected token in the dashboard body: {part}")


def dashboard_widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    text = body if isinstance(body, str) else "".join(_render(part) for part in body["Fn::Join"][1])
    return json.loads(text)["widgets"]


@pytest.fixture(scope="module")
def synthesized() -> Synthesized:
    stack = cdk.Stack(
        cdk.App(), "OperationsTest", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    functions = {
        agent: lambda_.Function(
            stack,
            f"Function-{agent}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(e, c):\n    return e\n"),
        )
        for agent in AGENTS
    }
    state_machine = sfn.StateMachine(
        stack, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Noop"))
    )
    queues = {name: sqs.Queue(stack, f"Queue-{name}") for name in QUEUES}
    topic = sns.Topic(stack, "OpsTopic")
    operations = Operations(
        stack,
        "Operations",
        prefix=PREFIX,
        env_name=ENV,
        functions=functions,
        state_machine=state_machine,
        queues=queues,
        topic=topic,
        approval_timeout_alarm_threshold=TIMEOUT_THRESHOLD,
    )
    template = dict(Template.from_stack(stack).to_json())

    def logical(construct: Any) -> str:
        return str(stack.get_logical_id(construct.node.default_child))

    return Synthesized(
        operations=operations,
        template=template,
        widgets=dashboard_widgets(template),
        function_ids={agent: logical(function) for agent, function in functions.items()},
        queue_ids={name: logical(queue) for name, queue in queues.items()},
        state_machine_id=logical(state_machine),
        topic_id=logical(topic),
    )


def metric_lines(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric name, dimensions, options) of each plain metric of a widget (expressions skipped)."""
    lines = []
    for line in widget.get("properties", {}).get("metrics", []):
        if isinstance(line[0], dict):
            continue
        options = line[-1] if isinstance(line[-1], dict) else {}
        fields = line[:-1] if options else line
        dimensions = dict(zip(fields[2::2], fields[3::2], strict=True))
        lines.append((fields[0], fields[1], dimensions, options))
    return lines


def all_metric_lines(widgets: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    return [line for widget in widgets for line in metric_lines(widget)]


def widget_titled(widgets: list[dict[str, Any]], fragment: str) -> dict[str, Any]:
    matches = [w for w in widgets if fragment in w.get("properties", {}).get("title", "")]
    assert len(matches) == 1, f"expected one widget titled *{fragment}*, found {len(matches)}"
    return matches[0]


def expressions(widget: dict[str, Any]) -> list[str]:
    return [line[0]["expression"] for line in widget["properties"]["metrics"] if isinstance(line[0], dict)]


class Series(float):
    """A metric math value: arithmetic stays in Series and division by zero gives NaN (no exception), so a
    guard that does not guard shows up as NaN."""

    def __add__(self, other: float) -> Series:  # type: ignore[override]
        return Series(float(self) + float(other))

    __radd__ = __add__

    def __mul__(self, other: float) -> Series:  # type: ignore[override]
        return Series(float(self) * float(other))

    __rmul__ = __mul__

    def __truediv__(self, other: float) -> Series:  # type: ignore[override]
        return Series(float("nan") if other == 0 else float(self) / float(other))


def evaluate(expression: str, **values: float | None) -> float:
    """Evaluate CloudWatch metric math (IF, FILL, + * /, >) for one period; None means no data point."""
    names = {
        "IF": lambda condition, when_true, when_false: when_true if condition else when_false,
        "FILL": lambda value, default: Series(default if value is None else value),
    }
    return float(eval(expression, names, dict(values)))  # test-only: the expression is ours


# Dashboard


def test_dashboard_is_named_after_the_prefix(synthesized: Synthesized) -> None:
    (dashboard,) = resources_of(synthesized.template, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "controlroom-prod-operations"
    assert synthesized.operations.dashboard.dashboard_name is not None


def test_dashboard_opens_with_an_explanation_without_links(synthesized: Synthesized) -> None:
    first = synthesized.widgets[0]
    assert first["type"] == "text"
    assert (first["x"], first["y"], first["width"]) == (0, 0, 24)
    markdown = first["properties"]["markdown"]
    assert "prod" in markdown
    assert "controlroom-prod-ops-" in markdown
    assert "http" not in markdown
    assert "](" not in markdown


@pytest.mark.parametrize("metric_name", REQUIRED_BUSINESS_METRICS)
def test_dashboard_shows_each_business_metric_for_this_environment(
    synthesized: Synthesized, metric_name: str
) -> None:
    shown = [
        (namespace, dimensions)
        for namespace, name, dimensions, _ in all_metric_lines(synthesized.widgets)
        if name == metric_name
    ]
    assert shown, f"{metric_name} is not on the dashboard"
    assert all(namespace == "Controlroom" for namespace, _ in shown)
    assert all(dimensions == BUSINESS_DIMENSIONS for _, dimensions in shown)


@pytest.mark.parametrize("metric_name", ["TimeToApprovalRequest", "TimeToDecision", "TimeToRecovery"])
def test_durations_show_p50_and_p90(synthesized: Synthesized, metric_name: str) -> None:
    stats = {
        options.get("stat")
        for _, name, _, options in all_metric_lines(synthesized.widgets)
        if name == metric_name
    }
    assert stats == {"p50", "p90"}


def test_approvals_pending_is_a_maximum(synthesized: Synthesized) -> None:
    stats = [
        options.get("stat")
        for _, name, _, options in all_metric_lines(synthesized.widgets)
        if name == "ApprovalsPending"
    ]
    assert stats == ["Maximum"]


def test_reject_rate_is_rejected_over_decided_and_never_divides_by_zero(synthesized: Synthesized) -> None:
    widget = widget_titled(synthesized.widgets, "reject rate")
    ids = {options["id"]: name for _, name, _, options in metric_lines(widget)}
    assert ids == {"approved": "ApprovalsApproved", "rejected": "ApprovalsRejected"}
    (expression,) = expressions(widget)
    assert "IF(" in expression
    assert evaluate(expression, approved=3, rejected=1) == 25
    assert evaluate(expression, approved=None, rejected=2) == 100
    assert evaluate(expression, approved=None, rejected=None) == 0
    assert evaluate(expression, approved=0, rejected=0) == 0


def test_fallback_rate_is_fallbacks_over_all_decisions(synthesized: Synthesized) -> None:
    widget = widget_titled(synthesized.widgets, "fallback rate")
    ids = {options["id"]: name for _, name, _, options in metric_lines(widget)}
    assert ids == {"fallbacks": "ModelFallbacks", "decisions": "ModelDecisions"}
    (expression,) = expressions(widget)
    assert evaluate(expression, fallbacks=1, decisions=3) == 25
    assert evaluate(expression, fallbacks=None, decisions=4) == 0
    assert evaluate(expression, fallbacks=None, decisions=None) == 0


def test_cost_and_tokens_per_incident_divide_by_incidents_opened(synthesized: Synthesized) -> None:
    widget = widget_titled(synthesized.widgets, "per incident")
    ids = {options["id"]: name for _, name, _, options in metric_lines(widget)}
    assert ids == {
        "cost": "ModelCostUsd",
        "opened": "IncidentsOpened",
        "tokensIn": "ModelTokensIn",
        "tokensOut": "ModelTokensOut",
    }
    cost, tokens = expressions(widget)
    assert evaluate(cost, cost=1.5, opened=3) == 0.5
    assert evaluate(cost, cost=1.5, opened=None) == 0
    assert evaluate(tokens, tokensIn=900, tokensOut=300, opened=4) == 300
    assert evaluate(tokens, tokensIn=900, tokensOut=None, opened=0) == 0


def test_guarded_ratio_scales() -> None:
    assert evaluate(guarded_ratio("FILL(a, 0)", "FILL(b, 0)", scale=100), a=1, b=4) == 25
    assert evaluate(guarded_ratio("FILL(a, 0)", "FILL(b, 0)"), a=1, b=4) == 0.25


@pytest.mark.parametrize(
    ("fragment", "metric_name", "stat"), [("errors", "Errors", "Sum"), ("duration", "Duration", "p90")]
)
def test_dashboard_shows_lambda_metrics_for_every_agent(
    synthesized: Synthesized, fragment: str, metric_name: str, stat: str
) -> None:
    widget = widget_titled(synthesized.widgets, f"Lambda {fragment}")
    shown = {
        (dimensions["FunctionName"], options["label"], options["stat"])
        for namespace, name, dimensions, options in metric_lines(widget)
        if namespace == "AWS/Lambda" and name == metric_name
    }
    expected = {(f"${{Ref:{synthesized.function_ids[agent]}}}", agent, stat) for agent in AGENTS}
    assert shown == expected


def test_dashboard_shows_state_machine_executions(synthesized: Synthesized) -> None:
    widget = widget_titled(synthesized.widgets, "State machine executions")
    shown = {
        name
        for namespace, name, dimensions, _ in metric_lines(widget)
        if namespace == "AWS/States"
        and dimensions == {"StateMachineArn": f"${{Ref:{synthesized.state_machine_id}}}"}
    }
    assert shown == {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"}


def test_dashboard_shows_the_depth_of_every_dead_letter_queue(synthesized: Synthesized) -> None:
    widget = widget_titled(synthesized.widgets, "Dead-letter queue depth")
    shown = {
        (dimensions["QueueName"], options["label"], options["stat"])
        for namespace, name, dimensions, options in metric_lines(widget)
        if namespace == "AWS/SQS" and name == "ApproximateNumberOfMessagesVisible"
    }
    expected = {(f"${{GetAtt:{synthesized.queue_ids[q]}.QueueName}}", q, "Maximum") for q in QUEUES}
    assert shown == expected


def test_dashboard_lists_every_ops_alarm(synthesized: Synthesized) -> None:
    (widget,) = [w for w in synthesized.widgets if w["type"] == "alarm"]
    alarm_ids = {
        key for key, resource in resources_of(synthesized.template, "AWS::CloudWatch::Alarm").items()
    }
    assert set(widget["properties"]["alarms"]) == {f"${{GetAtt:{key}.Arn}}" for key in alarm_ids}


# Alarms

EXPECTED_ALARMS = {
    # short name: (namespace, metric name, statistic, threshold)
    "executions-failed": ("AWS/States", "ExecutionsFailed", "Sum", 1),
    "executions-timed-out": ("AWS/States", "ExecutionsTimedOut", "Sum", 1),
    "dlq-alarm-events": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1),
    "dlq-agent-async": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1),
    "model-breaker-opened": ("Controlroom", "ModelBreakerOpened", "Sum", 1),
    "token-budget-exhausted": ("Controlroom", "TokenBudgetExhausted", "Sum", 1),
    "token-budget-soft-limit": ("Controlroom", "TokenBudgetSoftLimit", "Sum", 1),
    "approval-timeouts": ("Controlroom", "ApprovalTimeouts", "Sum", TIMEOUT_THRESHOLD),
    "agent-errors": ("Controlroom", "AgentErrors", "Sum", 1),
    "duplicates-without-execution": ("Controlroom", "DuplicatesWithoutExecution", "Sum", 1),
    "autonomy-halted": ("Controlroom", "AutonomyHalted", "Maximum", 1),
}


def alarms_by_name(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["AlarmName"]: resource["Properties"]
        for resource in resources_of(template, "AWS::CloudWatch::Alarm").values()
    }


def test_exactly_the_expected_alarms_exist_and_all_carry_the_ops_prefix(synthesized: Synthesized) -> None:
    names = set(alarms_by_name(synthesized.template))
    assert names == {f"controlroom-prod-ops-{what}" for what in EXPECTED_ALARMS}
    # The incident rule excludes names starting with "controlroom-": ops alarms never start an incident.
    assert all(name.startswith(OPS_ALARM_PREFIX_FORMAT.format(prefix=PREFIX)) for name in names)
    assert all(name.startswith("controlroom-") for name in names)
    assert set(synthesized.operations.alarms) == set(EXPECTED_ALARMS)


@pytest.mark.parametrize("what", EXPECTED_ALARMS)
def test_each_alarm_watches_its_metric_and_pages_the_ops_topic(synthesized: Synthesized, what: str) -> None:
    namespace, metric_name, statistic, threshold = EXPECTED_ALARMS[what]
    alarm = alarms_by_name(synthesized.template)[ops_alarm_name(PREFIX, what)]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        namespace,
        metric_name,
        statistic,
    )
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": synthesized.topic_id}]
    assert len(alarm["AlarmDescription"]) > 40


@pytest.mark.parametrize(
    "what",
    [
        "model-breaker-opened",
        "token-budget-exhausted",
        "token-budget-soft-limit",
        "approval-timeouts",
        "agent-errors",
        "duplicates-without-execution",
    ],
)
def test_business_alarms_watch_this_environment(synthesized: Synthesized, what: str) -> None:
    alarm = alarms_by_name(synthesized.template)[ops_alarm_name(PREFIX, what)]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == BUSINESS_DIMENSIONS


def test_agent_errors_alarm_sums_five_minutes(synthesized: Synthesized) -> None:
    assert alarms_by_name(synthesized.template)["controlroom-prod-ops-agent-errors"]["Period"] == 300


@pytest.mark.parametrize("queue", QUEUES)
def test_each_dead_letter_queue_has_its_alarm(synthesized: Synthesized, queue: str) -> None:
    alarm = alarms_by_name(synthesized.template)[f"controlroom-prod-ops-dlq-{queue}"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [synthesized.queue_ids[queue], "QueueName"]}}
    ]


def test_state_machine_alarms_watch_the_given_state_machine(synthesized: Synthesized) -> None:
    alarms = alarms_by_name(synthesized.template)
    for what in ("executions-failed", "executions-timed-out"):
        assert alarms[ops_alarm_name(PREFIX, what)]["Dimensions"] == [
            {"Name": "StateMachineArn", "Value": {"Ref": synthesized.state_machine_id}}
        ]


def test_ops_alarm_name_and_prefix_agree() -> None:
    assert ops_alarm_name("controlroom-dev", "agent-errors") == "controlroom-dev-ops-agent-errors"
    assert OPS_ALARM_PREFIX_FORMAT.format(prefix="controlroom-dev") == "controlroom-dev-ops-"


@pytest.mark.parametrize(
    ("threshold", "queues", "message"),
    [(0, {}, "approval_timeout_alarm_threshold"), (1, {"Bad Name": None}, "queue short names")],
)
def test_bad_arguments_are_refused(threshold: int, queues: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "Refused")
    with pytest.raises(ValueError, match=message):
        Operations(
            stack,
            "Operations",
            prefix=PREFIX,
            env_name=ENV,
            functions={},
            state_machine=None,  # type: ignore[arg-type]  # refused before it is used
            queues=queues,
            topic=None,  # type: ignore[arg-type]
            approval_timeout_alarm_threshold=threshold,
        )


def test_the_kill_switch_alarm_fires_each_minute_it_is_on(synthesized):
    alarm = alarms_by_name(synthesized.template)["controlroom-prod-ops-autonomy-halted"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == ("AutonomyHalted", "Maximum", 60)
