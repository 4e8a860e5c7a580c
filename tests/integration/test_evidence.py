"""Evidence against moto: changes, metrics, logs and tags are found; a failing tool only adds to `missing`."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from controlroom import aws as aws_clients
from controlroom.agents.evidence import collect_evidence, evidence_window
from controlroom.agents.intake import build_incident, parse_alarm_event
from controlroom.contracts import isoformat, utcnow
from controlroom.contracts.incident import AlarmSummary, MetricQuery
from controlroom.errors import TimeBudgetExceeded
from controlroom.runtime import AgentContext, stores
from controlroom.settings import settings as load_settings
from controlroom.tools.evidence_metrics import MAX_POINTS_PER_SERIES, fetch_metric_series

ROOT = Path(__file__).resolve().parents[2]


def incident_for(sample: str, fired_at=None):
    raw = json.loads((ROOT / "events" / sample).read_text())
    raw["detail"]["state"]["timestamp"] = isoformat(fired_at or utcnow())
    return build_incident(parse_alarm_event(raw), load_settings(), utcnow())


def make_ctx(seconds: float = 60) -> AgentContext:
    return AgentContext(
        agent="evidence",
        settings=load_settings(),
        stores=stores(),
        deadline=utcnow() + timedelta(seconds=seconds),
    )


def handler_of(agent: str):
    spec = importlib.util.spec_from_file_location(
        f"{agent}_handler", ROOT / "functions" / agent / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _zip(release: int = 1) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", f"def handler(event, context):\n    return {release}\n")
    return buffer.getvalue()


@pytest.fixture
def checkout_api(aws):
    """checkout-api with versions 1 and 2 published, alias live -> 2, error logs and error metrics."""
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="checkout-api",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
        Tags={"team": "payments", "owner": "alice@example.com"},
    )
    lam.publish_version(FunctionName="checkout-api")
    lam.update_function_code(FunctionName="checkout-api", ZipFile=_zip(2))
    lam.publish_version(FunctionName="checkout-api")
    lam.create_alias(FunctionName="checkout-api", Name="live", FunctionVersion="2")
    now = utcnow()
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/checkout-api")
    logs.create_log_stream(logGroupName="/aws/lambda/checkout-api", logStreamName="s1")
    messages = ["Traceback: " + "x" * 5000] + [f"ERROR payment declined {n}" for n in range(24)]
    logs.put_log_events(
        logGroupName="/aws/lambda/checkout-api",
        logStreamName="s1",
        logEvents=[
            {"timestamp": int((now - timedelta(minutes=3)).timestamp() * 1000) + n, "message": m}
            for n, m in enumerate(messages)
        ],
    )
    dims = [
        {"Name": "FunctionName", "Value": "checkout-api"},
        {"Name": "Resource", "Value": "checkout-api:live"},
    ]
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": dims,
                "Timestamp": now - timedelta(minutes=m),
                "Value": 14.0,
            }
            for m in (2, 3, 4)
        ],
    )
    return lam


def test_lambda_version_published_in_window_is_the_change(checkout_api):
    # Given checkout-api whose live alias serves version 2, published minutes before the alarm
    incident = incident_for("alarm_lambda_errors.json")
    ctx = make_ctx()
    # When evidence is collected
    bundle = collect_evidence(incident, ctx, aws_clients.client)
    # Then the change names the version now live and the one before it
    assert [(c.kind, c.current, c.previous, c.ref) for c in bundle.changes] == [
        ("lambda_version", "2", "1", "change:lambda_version:2")
    ]
    # And metrics, logs and tags came along; nothing is missing
    assert [s.ref for s in bundle.metrics] == ["metric:m1"] and sum(bundle.metrics[0].values) == 42.0
    assert len(bundle.logs) == 20 and bundle.logs[0].ref == "log:1"
    assert bundle.resource_tags == {"team": "payments", "owner": "alice@example.com"}
    # (The account has no traces and no declared topology: the service graph alone is missing.)
    assert [m.tool for m in bundle.missing] == ["graph"]
    assert {call.tool for call in ctx.tool_calls} == {"metrics", "logs", "changes", "tags", "graph"}
    # And the window is [fired_at - EVIDENCE_WINDOW_MINUTES, fired_at + 5 min]
    assert (bundle.window_start, bundle.window_end) == evidence_window(incident.alarm.fired_at, 60)


def test_long_log_messages_are_truncated(checkout_api):
    # Given a 5000-character traceback among the error lines
    bundle = collect_evidence(incident_for("alarm_lambda_errors.json"), make_ctx(), aws_clients.client)
    # Then it is kept, cut to 2000 characters
    assert bundle.logs[0].message.startswith("Traceback: ") and len(bundle.logs[0].message) == 2000


def test_version_published_before_the_change_window_is_not_a_change(checkout_api):
    # Given an alarm firing two hours after the versions were published (window is 30 minutes)
    incident = incident_for("alarm_lambda_errors.json", fired_at=utcnow() + timedelta(hours=2))
    # Then no change is attributed to it
    bundle = collect_evidence(incident, make_ctx(), aws_clients.client)
    assert bundle.changes == []


def test_a_failing_tool_degrades_into_missing(checkout_api):
    # Given a logs client that fails
    class BrokenLogs:
        def filter_log_events(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "FilterLogEvents"
            )

    def clients(service: str):
        return BrokenLogs() if service == "logs" else aws_clients.client(service)

    ctx = make_ctx()
    # When evidence is collected
    bundle = collect_evidence(incident_for("alarm_lambda_errors.json"), ctx, clients)
    # Then the bundle is still returned, names the failed tool, and the other tools still ran
    assert [(m.tool, m.error_type) for m in bundle.missing] == [
        ("logs", "ClientError"),
        ("graph", "GraphUnavailable"),
    ]
    assert "AccessDeniedException" in bundle.missing[0].message
    assert bundle.logs == [] and len(bundle.changes) == 1 and bundle.metrics
    assert [c.ok for c in ctx.tool_calls if c.tool == "logs"] == [False]


def test_missing_function_degrades_every_lambda_tool(aws):
    bundle = collect_evidence(incident_for("alarm_lambda_errors.json"), make_ctx(), aws_clients.client)
    assert {m.tool for m in bundle.missing} == {"logs", "changes", "tags", "graph"}
    assert all(m.error_type == "ResourceNotFoundException" for m in bundle.missing if m.tool != "graph")


def test_time_budget_is_not_swallowed(checkout_api):
    with pytest.raises(TimeBudgetExceeded):
        collect_evidence(incident_for("alarm_lambda_errors.json"), make_ctx(seconds=0.5), aws_clients.client)


def test_composite_alarm_has_no_metrics_of_its_own(aws):
    bundle = collect_evidence(incident_for("alarm_composite.json"), make_ctx(), aws_clients.client)
    assert bundle.metrics == []
    reasons = {m.tool: m for m in bundle.missing}
    assert reasons["metrics"].error_type == "NotApplicable" and "composite" in reasons["metrics"].message
    assert reasons["changes"].error_type == "NotApplicable"


def test_metric_math_sends_every_query(aws):
    # Given the error-rate alarm (an expression over two metrics) and datapoints for both inputs
    now = utcnow()
    dims = [
        {"Name": "FunctionName", "Value": "checkout-api"},
        {"Name": "Resource", "Value": "checkout-api:live"},
    ]
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": name, "Dimensions": dims, "Timestamp": now - timedelta(minutes=2), "Value": value}
            for name, value in (("Errors", 5.0), ("Invocations", 40.0))
        ],
    )
    bundle = collect_evidence(incident_for("alarm_metric_math.json"), make_ctx(), aws_clients.client)
    # Then every query comes back as a series, the expression included
    assert sorted(s.ref for s in bundle.metrics) == ["metric:e1", "metric:errors", "metric:invocations"]
    by_ref = {s.ref: s for s in bundle.metrics}
    assert by_ref["metric:errors"].values == [5.0] and by_ref["metric:invocations"].values == [40.0]


def test_series_are_capped_at_360_points():
    # Given a CloudWatch answer with 500 points for one query
    class ManyPoints:
        def get_metric_data(self, **kwargs):
            moments = [utcnow() + timedelta(seconds=n) for n in range(500)]
            return {
                "MetricDataResults": [
                    {
                        "Id": "m1",
                        "Label": "Errors",
                        "Timestamps": moments,
                        "Values": [float(n) for n in range(500)],
                    }
                ]
            }

    alarm = AlarmSummary(
        alarm_name="a",
        alarm_arn="arn",
        kind="single_metric",
        state_reason="",
        fired_at=utcnow(),
        metric_queries=[MetricQuery(id="m1", namespace="N", metric_name="M", period=60, stat="Sum")],
    )
    [series] = fetch_metric_series(ManyPoints(), alarm, utcnow() - timedelta(hours=1), utcnow())
    # Then the latest 360 are kept
    assert len(series.values) == MAX_POINTS_PER_SERIES and series.values[-1] == 499.0


def test_ecs_deployment_in_window_is_the_change(aws):
    # Given service prod/orders updated from task definition web:1 to web:2
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="prod")
    arns = [
        ecs.register_task_definition(
            family="orders", containerDefinitions=[{"name": "app", "image": f"orders:{n}", "memory": 128}]
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    ]
    ecs.create_service(
        cluster="prod",
        serviceName="orders",
        taskDefinition=arns[0],
        desiredCount=1,
        tags=[{"key": "team", "value": "orders"}],
    )
    ecs.update_service(cluster="prod", service="orders", taskDefinition=arns[1], forceNewDeployment=True)
    # When evidence is collected for the ECS alarm
    bundle = collect_evidence(incident_for("alarm_ecs_service.json"), make_ctx(), aws_clients.client)
    # Then the deployment is found with what it replaced, and the service's tags
    [change] = bundle.changes
    assert (change.kind, change.current, change.previous) == ("ecs_deployment", arns[1], arns[0])
    assert bundle.resource_tags == {"team": "orders"}
    assert [m.tool for m in bundle.missing] == ["logs", "graph"]


def test_codedeploy_deployment_in_window_is_reported_with_status(aws):
    # Given a deployment of application checkout / group live just before the alarm
    role = aws.client("iam").create_role(RoleName="cd", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    codedeploy = aws.client("codedeploy")
    codedeploy.create_application(applicationName="checkout", computePlatform="Lambda")
    codedeploy.create_deployment_group(
        applicationName="checkout", deploymentGroupName="live", serviceRoleArn=role
    )
    deployment_id = codedeploy.create_deployment(applicationName="checkout", deploymentGroupName="live")[
        "deploymentId"
    ]
    raw = json.loads((ROOT / "events" / "alarm_lambda_errors.json").read_text())
    raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {
        "Application": "checkout",
        "DeploymentGroup": "live",
    }
    raw["detail"]["state"]["timestamp"] = isoformat(utcnow() + timedelta(seconds=1))
    incident = build_incident(parse_alarm_event(raw), load_settings(), utcnow())
    # When evidence is collected
    bundle = collect_evidence(incident, make_ctx(), aws_clients.client)
    # Then the deployment is a change with its status
    assert [(c.kind, c.current, c.status) for c in bundle.changes] == [
        ("codedeploy_deployment", deployment_id, "Created")
    ]


def test_evidence_handler_writes_a_verifiable_decision_record(checkout_api, lambda_context):
    incident = incident_for("alarm_lambda_errors.json")
    stores().checkpoint.open_incident(incident, None)
    state = {
        "intake": {"outcome": "opened", "incident": incident.model_dump(mode="json")},
        "event": {"raw": "left out"},
    }
    output = handler_of("evidence")(state, lambda_context)
    assert output["changes"][0]["current"] == "2"
    [step] = stores().checkpoint.steps(incident.incident_id)
    assert step.agent == "evidence" and step.summary == "1 series, 20 log lines, 1 change, 1 missing"
    assert step.left_out == ["event"]
    assert stores().audit.verify(incident.incident_id).ok
