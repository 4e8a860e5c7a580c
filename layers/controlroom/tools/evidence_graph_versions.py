"""Evidence tool: the Lambda functions of the graph whose alias went to a new version in the change window.

Read from Lambda itself (GetAlias, ListVersionsByFunction), so a deploy is seen also where CloudTrail
is not readable, and Plan learns which version to roll the blamed function back to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from controlroom.contracts import ChangeRecord, IncidentRef
from controlroom.contracts.graph import GraphChange, ServiceGraph
from controlroom.tools.evidence_changes import lambda_changes

DEFAULT_ALIAS = "live"  # the alias Plan rolls back when the diagnosis names none
MAX_FUNCTIONS = 10
_LAMBDA_CHANGES = frozenset({"lambda_code", "lambda_configuration", "lambda_alias"})


def _records(lambda_client: Any, name: str, start: datetime, end: datetime) -> list[ChangeRecord]:
    try:
        return lambda_changes(lambda_client, name, DEFAULT_ALIAS, start, end)
    except ClientError as exc:
        # A function the graph names without a "live" alias here (another account, no alias): nothing to read.
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return []
        raise


def function_versions(
    lambda_client: Any,
    incident: IncidentRef,
    graph: ServiceGraph,
    known: list[GraphChange],
    start: datetime,
) -> tuple[list[ChangeRecord], list[GraphChange]]:
    """Version records of the graph's functions (not the alarmed one: the ``changes`` tool reads it),
    and a graph change for each function CloudTrail did not already report a change for."""
    end = incident.alarm.fired_at
    reported = {n for change in known if change.kind in _LAMBDA_CHANGES for n in change.node_ids}
    functions = sorted(
        (node for node in graph.nodes if node.kind == "lambda_function"), key=lambda node: node.node_id
    )[:MAX_FUNCTIONS]
    records: list[ChangeRecord] = []
    changes: list[GraphChange] = []
    for node in functions:
        found = _records(lambda_client, node.name, start, end)
        if node.name != incident.resource.name:
            records.extend(found)
        if node.node_id in reported:
            continue
        changes.extend(
            GraphChange(
                ref=f"graph-change:lambda_alias:{len(known) + len(changes)}",
                kind="lambda_alias",
                event_name="PublishVersion",
                resource_name=node.name,
                changed_at=record.changed_at,
                node_ids=[node.node_id],
                summary=record.summary[:500],
            )
            for record in found
        )
    return records, changes
