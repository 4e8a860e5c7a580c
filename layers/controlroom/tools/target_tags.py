"""Read the tags of the resource an action would change (its own target, not the alarmed resource)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.contracts import NotifyOnly, StopCodeDeployDeployment
from controlroom.errors import TransientDependencyError
from controlroom.policy.scope import PlanScope, action_resource

PROTECTED_TAG = "controlroom:protected"
_THROTTLING = {"ThrottlingException", "TooManyRequestsException", "Throttling", "ServiceUnavailable"}


@dataclass(frozen=True)
class TargetTags:
    """The target's tags; ``read`` is False when they could not be read (policy then refuses)."""

    tags: dict[str, str]
    read: bool
    detail: str = ""

    @property
    def protected(self) -> bool:
        return self.tags.get(PROTECTED_TAG, "").lower() == "true"


def _lambda_tags(clients: Callable[[str], Any], name: str, account: str, region: str) -> dict[str, str]:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return dict(clients("lambda").list_tags(Resource=arn).get("Tags", {}))


def _ecs_tags(clients: Callable[[str], Any], cluster: str | None, service: str) -> dict[str, str]:
    ecs = clients("ecs")
    services = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not services:
        raise LookupError(f"ECS service {cluster}/{service} not found")
    tags = ecs.list_tags_for_resource(resourceArn=services[0]["serviceArn"]).get("tags", [])
    return {tag["key"]: tag["value"] for tag in tags}


def _codedeploy_tags(
    clients: Callable[[str], Any], deployment_id: str, account: str, region: str
) -> dict[str, str]:
    codedeploy = clients("codedeploy")
    application = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["applicationName"]
    arn = f"arn:aws:codedeploy:{region}:{account}:application:{application}"
    tags = codedeploy.list_tags_for_resource(ResourceArn=arn).get("Tags", [])
    return {tag["Key"]: tag["Value"] for tag in tags}


def target_tags(
    action: object, scope: PlanScope, clients: Callable[[str], Any], account: str, region: str
) -> TargetTags:
    """The tags of ``action``'s own target.

    Raises
    ------
    TransientDependencyError
        The tag API throttled; the state machine retries. Any other failure reads as "not read".
    """
    if isinstance(action, NotifyOnly):
        return TargetTags({}, True, "a notification has no target")
    try:
        if isinstance(action, StopCodeDeployDeployment):
            return TargetTags(_codedeploy_tags(clients, action.deployment_id, account, region), True)
        resource = action_resource(action, scope)
        if resource is None:
            return TargetTags({}, False, "the action names no resource whose tags can be read")
        if resource.kind == "lambda_function":
            return TargetTags(_lambda_tags(clients, resource.name, account, region), True)
        if resource.kind == "ecs_service":
            return TargetTags(_ecs_tags(clients, resource.cluster, resource.name), True)
        return TargetTags({}, False, f"tags are not read for {resource.kind} resources")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        if code in _THROTTLING:
            raise TransientDependencyError(f"reading the target's tags: {code}") from exc
        return TargetTags({}, False, f"the target's tags could not be read ({code})")
    except (BotoCoreError, LookupError) as exc:
        return TargetTags({}, False, f"the target's tags could not be read ({exc.__class__.__name__}: {exc})")
