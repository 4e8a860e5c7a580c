"""Evidence tool: changes to the resource shortly before the alarm (Lambda versions, ECS, CodeDeploy)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from controlroom.contracts import ChangeRecord, ResourceRef
from controlroom.tools.evidence_common import NotApplicable, parse_aws_timestamp

_MAX_PAGES = 20
_BATCH = 25


def _published_versions(lambda_client: Any, function_name: str) -> dict[int, datetime]:
    versions: dict[int, datetime] = {}
    request: dict[str, Any] = {"FunctionName": function_name}
    for _ in range(_MAX_PAGES):
        response = lambda_client.list_versions_by_function(**request)
        for version in response.get("Versions", []):
            if str(version["Version"]).isdigit():
                versions[int(version["Version"])] = parse_aws_timestamp(version["LastModified"])
        if not response.get("NextMarker"):
            break
        request["Marker"] = response["NextMarker"]
    return versions


def lambda_changes(
    lambda_client: Any, function_name: str, alias: str, start: datetime, end: datetime
) -> list[ChangeRecord]:
    """The alias's version, if it was published within [start, end], with the version below it."""
    current = str(lambda_client.get_alias(FunctionName=function_name, Name=alias)["FunctionVersion"])
    if not current.isdigit():
        return []
    versions = _published_versions(lambda_client, function_name)
    published_at = versions.get(int(current))
    if published_at is None or not start <= published_at <= end:
        return []
    lower = [number for number in versions if number < int(current)]
    previous = str(max(lower)) if lower else None
    summary = (
        f"alias {alias} of {function_name} serves version {current}, published at "
        f"{published_at.isoformat()}; the version before it is {previous or 'unknown'}"
    )
    return [
        ChangeRecord(
            ref=f"change:lambda_version:{current}",
            kind="lambda_version",
            resource_name=function_name,
            changed_at=published_at,
            summary=summary,
            current=current,
            previous=previous,
        )
    ]


def _split_task_definition(arn: str) -> tuple[str, int]:
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision)


def _previous_revision(ecs: Any, current: str) -> str | None:
    family, revision = _split_task_definition(current)
    request: dict[str, Any] = {"familyPrefix": family, "sort": "DESC"}
    for _ in range(_MAX_PAGES):
        response = ecs.list_task_definitions(**request)
        for arn in response.get("taskDefinitionArns", []):
            other_family, other_revision = _split_task_definition(arn)
            if other_family == family and other_revision < revision:
                return str(arn)
        if not response.get("nextToken"):
            return None
        request["nextToken"] = response["nextToken"]
    return None


def ecs_changes(ecs: Any, cluster: str, service: str, start: datetime, end: datetime) -> list[ChangeRecord]:
    """The service's PRIMARY deployment if it was created within [start, end]."""
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found:
        raise LookupError(f"ECS service {cluster}/{service} not found")
    description = found[0]
    deployments = description.get("deployments", [])
    records = []
    for deployment in deployments:
        created_at = parse_aws_timestamp(deployment["createdAt"])
        if deployment.get("status") != "PRIMARY" or not start <= created_at <= end:
            continue
        # The service's task definition is the PRIMARY deployment's; read it from the service.
        current = str(description.get("taskDefinition") or deployment["taskDefinition"])
        previous = next(
            (
                str(other["taskDefinition"])
                for other in deployments
                if other.get("status") == "ACTIVE" and other.get("taskDefinition") != current
            ),
            None,
        )
        previous = previous or _previous_revision(ecs, current)
        records.append(
            ChangeRecord(
                ref=f"change:ecs_deployment:{str(deployment['id']).rsplit('/', 1)[-1]}",
                kind="ecs_deployment",
                resource_name=service,
                changed_at=created_at,
                current=current,
                previous=previous,
                status=deployment.get("rolloutState"),
                summary=f"deployment {deployment['id']} of {cluster}/{service} to {current} (before: {previous})",
            )
        )
    return records


def codedeploy_changes(
    codedeploy: Any, application: str, group: str, start: datetime, end: datetime
) -> list[ChangeRecord]:
    """Deployments of the deployment group created within [start, end], newest first, with status."""
    request: dict[str, Any] = {
        "applicationName": application,
        "deploymentGroupName": group,
        "createTimeRange": {"start": start, "end": end},
    }
    deployment_ids: list[str] = []
    for _ in range(_MAX_PAGES):
        response = codedeploy.list_deployments(**request)
        deployment_ids.extend(response.get("deployments", []))
        if not response.get("nextToken"):
            break
        request["nextToken"] = response["nextToken"]
    records = []
    for offset in range(0, len(deployment_ids), _BATCH):
        batch = codedeploy.batch_get_deployments(deploymentIds=deployment_ids[offset : offset + _BATCH])
        for info in batch.get("deploymentsInfo", []):
            created_at = parse_aws_timestamp(info["createTime"])
            records.append(
                ChangeRecord(
                    ref=f"change:codedeploy_deployment:{info['deploymentId']}",
                    kind="codedeploy_deployment",
                    resource_name=group,
                    changed_at=created_at,
                    current=info["deploymentId"],
                    status=info.get("status"),
                    summary=f"CodeDeploy deployment {info['deploymentId']} of {application}/{group}: {info.get('status')}",
                )
            )
    return sorted(records, key=lambda record: record.changed_at, reverse=True)


def fetch_changes(
    clients: Callable[[str], Any], resource: ResourceRef, start: datetime, end: datetime
) -> list[ChangeRecord]:
    """Changes to ``resource`` within [start, end] from the API that knows its kind.

    Raises
    ------
    NotApplicable
        For resources of kind ``unknown`` (composite or unrecognised alarms).
    """
    if resource.kind == "lambda_function":
        return lambda_changes(clients("lambda"), resource.name, resource.qualifier or "live", start, end)
    if resource.kind == "ecs_service" and resource.cluster:
        return ecs_changes(clients("ecs"), resource.cluster, resource.name, start, end)
    if resource.kind == "codedeploy_group" and resource.application:
        return codedeploy_changes(clients("codedeploy"), resource.application, resource.name, start, end)
    raise NotApplicable(f"no change history is read for {resource.kind} resources")
