"""Graph Evidence against moto and the local X-Ray/CloudTrail stubs, and `controlroom eval rca` end to end.

The layout is a tiny synthetic RCA dataset written here: a front end calls a worker function and a
table; the worker breaks. Nothing in it is PetShop.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from controlroom.agents.intake import build_incident, parse_alarm_event
from controlroom.contracts.graph import GraphNode, ServiceGraph
from controlroom.local import rca_eval, rca_serve
from controlroom.local.rca_dataset import iter_incidents
from controlroom.settings import load_settings
from controlroom.tools.evidence_graph import GraphUnavailable, fetch_service_graph
from controlroom.tools.evidence_graph_metrics import MAX_QUERIES_PER_CALL, fetch_graph_metrics
from controlroom.tools.evidence_trail import fetch_graph_changes

FRONT, WORKER, TABLE, WORKER_SVC = (
    "front",
    "worker_AWS::Lambda::Function",
    "orders_AWS::DynamoDB::Table",
    "worker_AWS::Lambda",
)
NODES = {
    FRONT: ("eks_service", "front"),
    WORKER_SVC: ("lambda_service", "worker"),
    WORKER: ("lambda_function", "worker"),
    TABLE: ("dynamodb_table", "orders"),
}
EDGES = [(FRONT, WORKER_SVC), (WORKER_SVC, WORKER), (FRONT, TABLE)]
ALARM_AT = 1_700_000_000


def _write_metrics(path: Path, rows: list[tuple[float, dict[str, tuple[float, float, float]]]]) -> None:
    """rows: (timestamp, {node: (latency_s, requests, availability_percent)})."""
    nodes = list(NODES)
    header = [["microservice"], ["metric"], ["statistic"]]
    for node in nodes:
        for metric, stat in (("latency", "Average"), ("requests", "Sum"), ("availability", "Average")):
            header[0].append(node)
            header[1].append(metric)
            header[2].append(stat)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(header)
        writer.writerow(["unix_timestamp"] + [""] * (len(header[0]) - 1))
        for stamp, values in rows:
            writer.writerow([stamp] + [v for node in nodes for v in values[node]])


def _healthy(step: int) -> dict[str, tuple[float, float, float]]:
    wobble = 0.002 * (step % 3)
    return {
        FRONT: (0.20 + wobble, 100.0, 100.0),
        WORKER_SVC: (0.08 + wobble, 100.0, 100.0),
        WORKER: (0.05 + wobble, 100.0, 100.0),
        TABLE: (0.01 + wobble / 10, 50.0, 100.0),
    }


def _alarm(fired_at: int) -> dict:
    stamp = datetime.fromtimestamp(fired_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    metric = {
        "namespace": "ApplicationSignals",
        "name": "Latency",
        "dimensions": {"Service": "front", "Environment": "eks:front/default"},
    }
    return {
        "version": "0",
        "id": "1",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": stamp,
        "region": "us-west-2",
        "resources": ["arn:aws:cloudwatch:us-west-2:123456789012:alarm:front-latency"],
        "detail": {
            "alarmName": "front-latency",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": stamp},
            "previousState": {"value": "OK", "reason": "", "timestamp": stamp},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {"metric": metric, "period": 300, "stat": "Average"},
                        "returnData": True,
                    }
                ]
            },
        },
    }


def _event(name: str, source: str, at: int, resource: str, parameters: dict) -> dict:
    stamp = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "EventId": f"{name}-{at}",
        "EventName": name,
        "EventTime": stamp,
        "EventSource": source,
        "Username": "ci",
        "ReadOnly": "false",
        "Resources": [{"ResourceName": resource}],
        "CloudTrailEvent": json.dumps({"eventName": name, "requestParameters": parameters}),
    }


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """One scenario, one incident: the worker function's latency jumps; front follows; the table is flat."""
    scenario = tmp_path / "synthetic"
    scenario.mkdir()
    with (scenario / "graph.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *NODES])
        for caller in NODES:
            writer.writerow([caller] + [1 if (caller, callee) in EDGES else 0 for callee in NODES])
    inventory = {
        "nodes": {node: {"kind": kind, "name": name} for node, (kind, name) in NODES.items()},
        "parameters": {"/shop/*": [FRONT, WORKER]},
    }
    (scenario / "inventory.json").write_text(json.dumps(inventory))
    normal_start = ALARM_AT - 30 * 86400
    _write_metrics(
        scenario / "noissue" / "metrics.csv", [(normal_start + 300 * i, _healthy(i)) for i in range(60)]
    )
    issue = scenario / "train" / "issue_0"
    start = ALARM_AT - 600
    rows = []
    for i in range(6):
        values = _healthy(i)
        if i >= 2:
            values[WORKER] = (2.0 + 0.1 * i, 100.0, 100.0)
            values[WORKER_SVC] = (2.05 + 0.1 * i, 100.0, 100.0)
            values[FRONT] = (2.2 + 0.1 * i, 100.0, 100.0)
        rows.append((start + 300 * i, values))
    _write_metrics(issue / "metrics.csv", rows)
    (issue / "target.json").write_text(
        json.dumps(
            {
                "target": {"node": FRONT, "metric": "latency", "agg": "Average", "timestamp": ALARM_AT},
                "root_cause": {"node": WORKER, "metric": None},
            }
        )
    )
    (issue / "alarm.json").write_text(json.dumps(_alarm(ALARM_AT)))
    changes = [
        _event("PutParameter", "ssm.amazonaws.com", ALARM_AT - 400, "/shop/flags", {"name": "/shop/flags"}),
        _event(
            "UpdateFunctionCode20150331v2",
            "lambda.amazonaws.com",
            ALARM_AT - 420,
            "arn:aws:lambda:us-west-2:123456789012:function:worker",
            {"functionName": "worker"},
        ),
        _event("UpdateService", "ecs.amazonaws.com", ALARM_AT - 5000, "elsewhere", {"service": "elsewhere"}),
    ]
    (issue / "changes.json").write_text(json.dumps({"Events": changes}))
    return tmp_path


def _incident_ref(layout: Path):
    incident = next(iter_incidents(layout))
    ref = build_incident(parse_alarm_event(incident.alarm_event), load_settings({}), datetime.now(UTC))
    return incident, ref


def test_xray_graph_names_the_alarmed_node_and_its_callees(layout: Path) -> None:
    incident, ref = _incident_ref(layout)
    counter = rca_serve.CallCounter()
    with mock_aws():
        clients = rca_serve.clients_for(incident, counter, with_changes=True)
        graph = fetch_service_graph(
            clients("xray"), ref, ref.alarm.fired_at - timedelta(hours=1), ref.alarm.fired_at
        )
    kinds = {node.node_id: node.kind for node in graph.nodes}
    assert graph.source == "xray" and graph.root == FRONT
    assert kinds == {
        FRONT: "service",
        WORKER_SVC: "lambda_service",
        WORKER: "lambda_function",
        TABLE: "dynamodb_table",
    }
    assert {(e.caller, e.callee) for e in graph.edges} == set(EDGES)
    assert (
        next(n for n in graph.nodes if n.node_id == WORKER).arn
        == "arn:aws:lambda:us-west-2:123456789012:function:worker"
    )
    assert counter.calls == {"xray.GetServiceGraph": 1}


def test_declared_topology_stands_in_where_xray_fails_and_nothing_is_a_clear_error(layout: Path) -> None:
    _, ref = _incident_ref(layout)

    class NoTracing:
        def get_service_graph(self, **_: object) -> dict:
            raise RuntimeError("AccessDenied: xray:GetServiceGraph")

    declared = json.dumps(
        {
            "nodes": [
                {"node_id": "front", "name": "front", "kind": "eks_service"},
                {"node_id": "db", "name": "orders", "kind": "dynamodb_table"},
                {"node_id": "island", "name": "island", "kind": "service"},
            ],
            "edges": [["front", "db"]],
        }
    )
    now = ref.alarm.fired_at
    graph = fetch_service_graph(NoTracing(), ref, now - timedelta(hours=1), now, declared)
    assert graph.source == "declared" and graph.root == "front"
    assert sorted(n.node_id for n in graph.nodes) == ["db", "front"]  # the unreachable node is left out
    with pytest.raises(GraphUnavailable, match="AccessDenied"):
        fetch_service_graph(NoTracing(), ref, now - timedelta(hours=1), now, "")


def test_change_feed_attributes_each_change_and_keeps_a_parameter_ambiguous(layout: Path) -> None:
    incident, ref = _incident_ref(layout)
    graph = ServiceGraph(
        source="xray",
        root=FRONT,
        nodes=[GraphNode(node_id=n, name=name, kind=kind) for n, (kind, name) in NODES.items()],
    )
    counter = rca_serve.CallCounter()
    with mock_aws():
        clients = rca_serve.clients_for(incident, counter, with_changes=True)
        changes = fetch_graph_changes(
            clients,
            graph,
            ref.alarm.fired_at - timedelta(hours=1),
            ref.alarm.fired_at,
            {"/shop/*": [FRONT, WORKER]},
        )
    by_kind = {change.kind: change for change in changes}
    assert set(by_kind) == {"lambda_code", "ssm_parameter"}  # the ECS change is outside the window
    assert by_kind["lambda_code"].node_ids == [WORKER]  # the function, not the Lambda service node
    assert by_kind["ssm_parameter"].node_ids == sorted([FRONT, WORKER])  # ambiguous: metrics decide
    assert [c.changed_at for c in changes] == sorted(c.changed_at for c in changes)
    assert counter.calls["cloudtrail.LookupEvents"] == 5  # one per event source


def test_graph_metrics_are_batched_at_500_queries_and_nodes_without_data_are_named() -> None:
    nodes = [GraphNode(node_id=f"fn{i}", name=f"fn{i}", kind="lambda_function") for i in range(170)]
    graph = ServiceGraph(source="declared", root="fn0", nodes=nodes)
    end = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": "fn1"}],
                    "Timestamp": end - timedelta(minutes=10),
                    "Value": value,
                }
                for name, value in (("Duration", 120.0), ("Invocations", 40.0), ("Errors", 10.0))
            ],
        )
        counter = rca_serve.CallCounter()
        cloudwatch.meta.events.register("before-parameter-build.*.*", counter)
        from controlroom.contracts.incident import AlarmSummary

        alarm = AlarmSummary(
            alarm_name="a", alarm_arn="arn:a", kind="single_metric", state_reason="", fired_at=end
        )
        metrics = fetch_graph_metrics(
            cloudwatch,
            graph,
            alarm,
            {
                "incident": (end - timedelta(hours=1), end),
                "baseline": (end - timedelta(hours=4), end - timedelta(hours=1)),
            },
        )
    assert MAX_QUERIES_PER_CALL < 3 * 170 and counter.calls == {"cloudwatch.GetMetricData": 4}
    fn1 = {s.metric: s.values for s in metrics.series if s.node_id == "fn1" and s.window == "incident"}
    assert fn1 == {"latency": [120.0], "requests": [40.0], "errors": [0.25], "availability": [0.75]}
    assert "fn1" not in metrics.no_data and len(metrics.no_data) == 169


def test_eval_runs_production_evidence_and_diagnose_and_ranks_the_broken_worker_first(
    layout: Path, capsys
) -> None:
    assert rca_eval.main(str(layout), no_changes=False, as_json=True) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert [issue["issue"] for issue in report["issues"]] == ["synthetic/train/issue_0"]
    assert report["issues"][0]["ranking"][0] == WORKER
    assert report["summary"]["overall"] == {"incidents": 1, "recall@1": 1.0, "recall@3": 1.0}
    assert report["summary"]["api_calls_per_incident"] >= 8  # X-Ray, 2 GetMetricData, 5 LookupEvents, ...
    assert "synthetic/train/issue_0: top " + WORKER in captured.err


def test_eval_works_on_a_directory_whose_target_holds_only_the_alarm(layout: Path, capsys) -> None:
    issue = layout / "synthetic" / "train" / "issue_0"
    target = json.loads((issue / "target.json").read_text())
    (issue / "target.json").write_text(json.dumps({"target": target["target"]}))
    (issue / "alarm.json").unlink()
    assert rca_eval.main(str(layout), no_changes=True, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["issues"][0]["ranking"][0] == WORKER
    assert "overall" not in report["summary"]
