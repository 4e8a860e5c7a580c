"""`controlroom eval rca DIR [--no-changes] [--json]`: the production Evidence and Diagnose on RCA incidents.

Each incident is served as the AWS APIs the Evidence tools call (``rca_serve``), inside a fresh
moto account; the alarm event goes through Intake's parser, then ``collect_evidence`` and
``diagnose`` run unchanged, with no model. The ranking is the diagnosis's candidates, best first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controlroom.contracts import IntakeResult, utcnow
from controlroom.local.rca_dataset import RcaIncident, iter_incidents

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-west-2",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "controlroom-eval",
}


@dataclass(frozen=True)
class IncidentResult:
    issue: str
    ranking: list[str]
    root_cause: str | None
    api_calls: int
    seconds: float
    missing: list[str]

    def hit(self, k: int) -> bool:
        return self.root_cause is not None and self.root_cause in self.ranking[:k]


def synthesized_alarm(incident: RcaIncident) -> dict[str, Any]:
    """An alarm event for a directory without alarm.json: the target's metric as Application Signals."""
    target = incident.target
    fired = datetime.fromtimestamp(target.timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = incident.scenario.names.get(target.node, target.node)
    return {
        "version": "0",
        "id": "eval",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": fired,
        "region": "us-west-2",
        "resources": [f"arn:aws:cloudwatch:us-west-2:123456789012:alarm:{name}-{target.metric}"],
        "detail": {
            "alarmName": f"{name}-{target.metric}",
            "state": {"value": "ALARM", "reason": f"{target.metric} of {name}", "timestamp": fired},
            "previousState": {"value": "OK", "reason": "", "timestamp": fired},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "ApplicationSignals",
                                "name": target.metric.capitalize(),
                                "dimensions": {"Service": name, "Environment": "generic:default"},
                            },
                            "period": 300,
                            "stat": target.agg,
                        },
                        "returnData": True,
                    }
                ]
            },
        },
    }


def _settings(incident: RcaIncident) -> Any:
    from controlroom.settings import load_settings

    readers = {pattern: list(nodes) for pattern, nodes in incident.scenario.parameters.items()}
    return load_settings(
        {**os.environ, "MODEL_PROVIDER": "none", "GRAPH_PARAMETER_READERS": json.dumps(readers)}
    )


def run_incident(incident: RcaIncident, with_changes: bool = True) -> IncidentResult:
    """Serve one incident, run Evidence and Diagnose on it, return the ranking and what it cost."""
    import boto3
    from moto import mock_aws

    from controlroom.agents.diagnose import diagnose
    from controlroom.agents.evidence import collect_evidence, graph_windows
    from controlroom.agents.intake import build_incident, parse_alarm_event
    from controlroom.contracts.flow import DiagnoseInput
    from controlroom.local import rca_serve
    from controlroom.runtime import AgentContext
    from controlroom.runtime.stores import Stores
    from controlroom.store import DynamoAuditLog, DynamoCheckpointStore
    from controlroom.store.audit_key import KmsChainKey
    from controlroom.tools.evidence_graph import root_of

    started = time.perf_counter()
    settings = _settings(incident)
    with mock_aws(), rca_serve.indexed_metric_reads():
        event = parse_alarm_event(incident.alarm_event or synthesized_alarm(incident))
        ref = build_incident(event, settings, utcnow())
        nodes = rca_serve.graph_nodes(incident.scenario)
        root = root_of(nodes, ref) or ""
        windows = graph_windows(ref.alarm.fired_at, settings)
        cloudwatch = boto3.client("cloudwatch", region_name=rca_serve.REGION)
        rca_serve.serve_metrics(
            cloudwatch,
            incident,
            root,
            ref.alarm.dimensions,
            windows["baseline"],
            settings.GRAPH_PERIOD_SECONDS,
        )
        counter = rca_serve.CallCounter()
        clients = rca_serve.clients_for(incident, counter, with_changes)
        # No table is touched by Evidence or Diagnose without a model; the stores only satisfy the context.
        table = boto3.resource("dynamodb", region_name=rca_serve.REGION).Table("unused")
        audit = DynamoAuditLog(
            table, KmsChainKey(boto3.client("kms", region_name=rca_serve.REGION), "unused")
        )
        stores = Stores(checkpoint=DynamoCheckpointStore(table), audit=audit)

        def context(agent: str) -> AgentContext:
            return AgentContext(
                agent=agent, settings=settings, stores=stores, deadline=utcnow() + timedelta(minutes=5)
            )

        bundle = collect_evidence(ref, context("evidence"), clients)
        intake = IntakeResult(outcome="opened", incident=ref)
        diagnosis = diagnose(DiagnoseInput(intake=intake, evidence=bundle), context("diagnose"))
    return IncidentResult(
        issue=incident.issue_id,
        ranking=[candidate.node_id for candidate in diagnosis.candidates],
        root_cause=incident.root_cause,
        api_calls=counter.total,
        seconds=time.perf_counter() - started,
        missing=[f"{m.tool}: {m.error_type}" for m in bundle.missing if m.error_type != "NotApplicable"],
    )


def summarise(results: Sequence[IncidentResult]) -> dict[str, Any]:
    """recall@1/@3 per scenario and overall (incidents with a root cause only), calls and time per incident."""
    judged = [r for r in results if r.root_cause is not None]
    by_scenario: dict[str, list[IncidentResult]] = {}
    for result in judged:
        by_scenario.setdefault(result.issue.split("/", 1)[0], []).append(result)

    def recall(group: Sequence[IncidentResult]) -> dict[str, Any]:
        return {
            "incidents": len(group),
            "recall@1": round(sum(r.hit(1) for r in group) / len(group), 3),
            "recall@3": round(sum(r.hit(3) for r in group) / len(group), 3),
        }

    count = max(len(results), 1)
    summary: dict[str, Any] = {
        "incidents": len(results),
        "api_calls_per_incident": round(sum(r.api_calls for r in results) / count, 1),
        "seconds_per_incident": round(sum(r.seconds for r in results) / count, 3),
    }
    if judged:
        summary["overall"] = recall(judged)
        summary["scenarios"] = {name: recall(group) for name, group in sorted(by_scenario.items())}
    return summary


def evaluate(directory: Path, with_changes: bool = True) -> list[IncidentResult]:
    """Run every incident under ``directory``, printing a progress line per incident on stderr."""
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    results = []
    for incident in iter_incidents(directory):
        result = run_incident(incident, with_changes)
        verdict = "" if result.root_cause is None else (" hit@1" if result.hit(1) else " miss@1")
        top = result.ranking[0] if result.ranking else "(no candidate)"
        print(
            f"{result.issue}: top {top}{verdict} ({result.api_calls} calls, {result.seconds:.2f}s)"
            + (f" missing {', '.join(result.missing)}" if result.missing else ""),
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    return results


def main(directory: str, no_changes: bool, as_json: bool) -> int:
    """The CLI entry: exit 0 when every incident ran (recall is reported, not judged)."""
    results = evaluate(Path(directory), with_changes=not no_changes)
    summary = summarise(results)
    if as_json:
        issues = [{"issue": r.issue, "ranking": r.ranking} for r in results]
        print(json.dumps({"issues": issues, "summary": summary}, indent=1))
        return 0
    for name, figures in summary.get("scenarios", {}).items():
        print(
            f"{name:<20} n={figures['incidents']:<3} recall@1 {figures['recall@1']:.2f}  recall@3 {figures['recall@3']:.2f}"
        )
    if "overall" in summary:
        overall = summary["overall"]
        print(
            f"{'overall':<20} n={overall['incidents']:<3} recall@1 {overall['recall@1']:.2f}  recall@3 {overall['recall@3']:.2f}"
        )
    print(
        f"{summary['incidents']} incidents, {summary['api_calls_per_incident']} AWS calls and "
        f"{summary['seconds_per_incident']}s per incident"
    )
    return 0


def register_eval(sub: Any) -> None:
    """Add ``eval rca DIR [--no-changes] [--json]`` to the CLI's subcommands."""
    from controlroom.local.cli_output import add_command

    evaluation = add_command(
        sub, "eval", "measure the diagnosis on a dataset", ["controlroom eval rca datasets/petshop --json"]
    )
    kinds = evaluation.add_subparsers(dest="eval_command", required=True)
    rca = add_command(
        kinds,
        "rca",
        "root-cause ranking on an RCA dataset layout (PetShop style)",
        [
            "controlroom eval rca datasets/petshop",
            "controlroom eval rca datasets/petshop --no-changes --json | jq .summary.overall",
        ],
        "Progress goes to stderr, one line per incident; --json prints {issues, summary} on stdout.\n"
        "Exit 0 when every incident ran (recall is reported, not judged), 2 when DIR is not a dataset.",
    )
    rca.add_argument("directory", help="dataset root, or one scenario directory (holding graph.csv)")
    rca.add_argument("--no-changes", action="store_true", help="serve an empty CloudTrail change feed")
    rca.add_argument("--json", action="store_true", help="print issues and summary as JSON on stdout")

    def run(args: argparse.Namespace) -> int:
        return main(args.directory, args.no_changes, args.json)

    rca.set_defaults(func=run)
