"""Evidence tool: the resource's tags (owner, team, runbook), from Lambda or ECS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlroom.contracts import ResourceRef
from controlroom.tools.evidence_common import NotApplicable


def fetch_resource_tags(
    clients: Callable[[str], Any], resource: ResourceRef, account: str, region: str
) -> dict[str, str]:
    """Tags of a Lambda function or an ECS service.

    Parameters
    ----------
    clients
        Callable ``service -> boto3 client`` (``controlroom.aws.client`` in Lambda).

    Raises
    ------
    NotApplicable
        For resources without a tag API we read (CodeDeploy groups, unknown).
    """
    if resource.kind == "lambda_function":
        arn = f"arn:aws:lambda:{region}:{account}:function:{resource.name}"
        return dict(clients("lambda").list_tags(Resource=arn).get("Tags", {}))
    if resource.kind == "ecs_service":
        ecs = clients("ecs")
        services = ecs.describe_services(cluster=resource.cluster, services=[resource.name]).get(
            "services", []
        )
        if not services:
            raise LookupError(f"ECS service {resource.cluster}/{resource.name} not found")
        tags = ecs.list_tags_for_resource(resourceArn=services[0]["serviceArn"]).get("tags", [])
        return {tag["key"]: tag["value"] for tag in tags}
    raise NotApplicable(f"tags are not read for {resource.kind} resources")
