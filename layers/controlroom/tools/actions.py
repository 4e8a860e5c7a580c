"""Action adapters: the only code that changes AWS, one narrow and idempotent function per catalog type.

Every adapter reads the current state first. If the world is already where the action would put
it, the result is ``skipped`` (a no-op, safe to repeat); if the world is neither where the plan
found it nor where it wants it, the adapter refuses (``failed``) instead of overwriting a change it
did not plan for. In a dry run an adapter stops after reading and reports what it would change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.aws import client
from controlroom.contracts import (
    ActionResult,
    NotifyOnly,
    RollbackEcsService,
    RollbackLambdaAlias,
    RunSsmAutomation,
    StopCodeDeployDeployment,
)
from controlroom.errors import TransientDependencyError
from controlroom.notify import publish

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceException",
    "ResourceConflictException",
}
_CODEDEPLOY_FINISHED = {"Succeeded", "Failed", "Stopped"}


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter needs besides its action."""

    dry_run: bool
    topic_arn: str = ""
    ssm_document_allowlist: tuple[str, ...] = ()
    idempotency_token: str = field(default_factory=lambda: str(uuid.uuid4()))
    incident_id: str = ""


def _result(
    action: Any,
    status: str,
    detail: str,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
) -> ActionResult:
    return ActionResult(
        action_id=action.action_id,
        action_type=action.type,
        status=status,  # type: ignore[arg-type]
        detail=detail,
        before=before or {},
        after=after or {},
    )


def rollback_lambda_alias(action: RollbackLambdaAlias, ctx: AdapterContext) -> ActionResult:
    """Point the alias at ``target_version`` (and clear any canary weights)."""
    lam = client("lambda")
    alias = lam.get_alias(FunctionName=action.function_name, Name=action.alias)
    current = str(alias["FunctionVersion"])
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    before = {"function_version": current, **{f"weight:{v}": str(w) for v, w in weights.items()}}
    wanted = {"function_version": action.target_version}
    if current == action.target_version and not weights:
        return _result(
            action, "skipped", f"alias {action.alias} already points at version {current}", before, before
        )
    if current not in {action.from_version, action.target_version}:
        return _result(
            action,
            "failed",
            f"alias {action.alias} points at version {current}, neither the plan's "
            f"from_version {action.from_version} nor target {action.target_version}: the world changed "
            "since the plan was made, refusing to overwrite it",
            before,
            before,
        )
    if ctx.dry_run:
        return _result(
            action,
            "dry_run",
            f"would move alias {action.alias} from {current} to {action.target_version}",
            before,
            wanted,
        )
    extra: dict[str, Any] = {"RoutingConfig": {"AdditionalVersionWeights": {}}} if weights else {}
    updated = lam.update_alias(
        FunctionName=action.function_name, Name=action.alias, FunctionVersion=action.target_version, **extra
    )
    after = {"function_version": str(updated["FunctionVersion"])}
    return _result(
        action,
        "succeeded",
        f"alias {action.alias} moved from {current} to {after['function_version']}",
        before,
        after,
    )


def _task_definition_key(value: str) -> str:
    # "arn:aws:ecs:...:task-definition/web:7" and "web:7" name the same revision.
    return value.rsplit("task-definition/", 1)[-1]


def _same_task_definition(current: str, wanted: str) -> bool:
    current_key, wanted_key = _task_definition_key(current), _task_definition_key(wanted)
    if ":" not in wanted_key:  # a family without revision: any revision of it
        return current_key.split(":", 1)[0] == wanted_key
    return current_key == wanted_key


def rollback_ecs_service(action: RollbackEcsService, ctx: AdapterContext) -> ActionResult:
    """Update the service back to ``target_task_definition``."""
    ecs = client("ecs")
    services = ecs.describe_services(cluster=action.cluster, services=[action.service]).get("services", [])
    if not services or services[0].get("status") != "ACTIVE":
        return _result(
            action, "failed", f"service {action.service} is not active in cluster {action.cluster}"
        )
    current = str(services[0]["taskDefinition"])
    before = {"task_definition": current}
    if _same_task_definition(current, action.target_task_definition):
        return _result(action, "skipped", f"service already runs {current}", before, before)
    if not _same_task_definition(current, action.from_task_definition):
        return _result(
            action,
            "failed",
            f"service runs {current}, neither the plan's from "
            f"{action.from_task_definition} nor target {action.target_task_definition}: the world "
            "changed since the plan was made, refusing to overwrite it",
            before,
            before,
        )
    if ctx.dry_run:
        return _result(
            action,
            "dry_run",
            f"would update service {action.service} to {action.target_task_definition}",
            before,
            {"task_definition": action.target_task_definition},
        )
    updated = ecs.update_service(
        cluster=action.cluster, service=action.service, taskDefinition=action.target_task_definition
    )
    after = {"task_definition": str(updated["service"]["taskDefinition"])}
    return _result(
        action, "succeeded", f"service {action.service} updated to {after['task_definition']}", before, after
    )


def stop_codedeploy_deployment(action: StopCodeDeployDeployment, ctx: AdapterContext) -> ActionResult:
    """Stop the deployment (rolling back when ``auto_rollback``) unless it has already finished."""
    codedeploy = client("codedeploy")
    info = codedeploy.get_deployment(deploymentId=action.deployment_id)["deploymentInfo"]
    status = str(info.get("status", "Unknown"))
    before = {"status": status}
    if status in _CODEDEPLOY_FINISHED:
        return _result(
            action, "skipped", f"deployment {action.deployment_id} already {status}", before, before
        )
    if ctx.dry_run:
        return _result(
            action,
            "dry_run",
            f"would stop deployment {action.deployment_id} (auto rollback {action.auto_rollback})",
            before,
            {"status": "Stopped"},
        )
    stopped = codedeploy.stop_deployment(
        deploymentId=action.deployment_id, autoRollbackEnabled=action.auto_rollback
    )
    after = {
        "status": str(stopped.get("status", "Pending")),
        "message": str(stopped.get("statusMessage", "")),
    }
    return _result(
        action,
        "succeeded",
        f"stop requested for deployment {action.deployment_id}: {after['status']}",
        before,
        after,
    )


def run_ssm_automation(action: RunSsmAutomation, ctx: AdapterContext) -> ActionResult:
    """Start the Automation document; SSM's ClientToken makes a repeated start return the first one."""
    if action.document_name not in ctx.ssm_document_allowlist:
        # Policy forbids this already; the adapter refuses too, so a bypassed policy still cannot run it.
        return _result(action, "failed", f"document {action.document_name} is not on the SSM allow-list")
    # An automation has no current state to read; the allow-list check above is the whole precondition.
    before = {"document": action.document_name}
    if ctx.dry_run:
        return _result(
            action,
            "dry_run",
            f"would start automation {action.document_name}",
            before,
            {"execution": "not started (dry run)"},
        )
    started = client("ssm").start_automation_execution(
        DocumentName=action.document_name, Parameters=action.parameters, ClientToken=ctx.idempotency_token
    )
    after = {"automation_execution_id": str(started["AutomationExecutionId"])}
    return _result(
        action,
        "succeeded",
        f"automation {action.document_name} started: {after['automation_execution_id']}",
        before,
        after,
    )


def notify_only(action: NotifyOnly, ctx: AdapterContext) -> ActionResult:
    """Send the plan's message to the on-call topic; changes nothing in the account."""
    if not ctx.topic_arn:
        return _result(action, "skipped", "no notification topic configured (TOPIC_ARN is empty)")
    if ctx.dry_run:
        return _result(action, "dry_run", "would notify the on-call topic", {}, {"notified": "false"})
    publish(
        ctx.topic_arn,
        f"controlroom {ctx.incident_id}: advice",
        action.message,
        kind="advice",
        incident=ctx.incident_id or "",
    )
    return _result(action, "succeeded", "on-call topic notified", {}, {"notified": "true"})


ADAPTERS: dict[str, Callable[[Any, AdapterContext], ActionResult]] = {
    "rollback_lambda_alias": rollback_lambda_alias,
    "rollback_ecs_service": rollback_ecs_service,
    "stop_codedeploy_deployment": stop_codedeploy_deployment,
    "run_ssm_automation": run_ssm_automation,
    "notify_only": notify_only,
}


def run_action(action: Any, ctx: AdapterContext) -> ActionResult:
    """Run ``action`` through its adapter; AWS errors become a ``failed`` result, throttling is raised.

    Raises
    ------
    TransientDependencyError
        Throttling, 5xx or a network error: worth a retry of the whole Execute (adapters are idempotent).
    """
    adapter = ADAPTERS[action.type]
    try:
        return adapter(action, ctx)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise TransientDependencyError(f"{action.type}: {code}: {exc}") from exc
        return _result(
            action, "failed", f"{code}: {exc.response.get('Error', {}).get('Message', str(exc))}"[:1000]
        )
    except BotoCoreError as exc:
        raise TransientDependencyError(f"{action.type}: {type(exc).__name__}: {exc}") from exc
