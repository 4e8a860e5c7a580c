"""The Preflight agent (read-only): does the candidate exist and match its checksum, what changes, how risky."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from controlroom.aws import client
from controlroom.contracts import digest, utcnow
from controlroom.contracts.deployment import (
    DeploymentRef,
    DeploymentRequest,
    FreezeStatus,
    PreflightInput,
    PreflightResult,
)
from controlroom.deploy.canary import canary_plan, opted_in
from controlroom.deploy.freeze import active_freeze
from controlroom.deploy.manifest import manifest_diff
from controlroom.deploy.risk import assess_risk
from controlroom.deploy.store import DeploymentStore
from controlroom.errors import InvalidDeploymentRequest
from controlroom.runtime import AgentContext, AgentSpec

ENVIRONMENT_TAG = "controlroom:environment"


def parse_request(raw: dict[str, Any]) -> DeploymentRequest:
    """The request from a ``controlroom.deployment.requested`` event, or a bare request (start-execution).

    Raises
    ------
    InvalidDeploymentRequest
        Naming the first problems found.
    """
    body = raw.get("detail") if isinstance(raw.get("detail"), dict) else raw
    if "detail-type" in raw and raw["detail-type"] != "controlroom.deployment.requested":
        raise InvalidDeploymentRequest(
            f"detail-type: expected controlroom.deployment.requested, got {raw['detail-type']!r}"
        )
    try:
        return DeploymentRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        raise InvalidDeploymentRequest(problems) from None


def deployment_id_of(execution_arn: str | None) -> str:
    """Stable per execution (a retried preflight keeps the id); random without an execution."""
    seed = execution_arn or secrets.token_hex(16)
    return "dep-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]


def _not_found(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ResourceNotFoundException"


def _refuse(reason: str) -> PreflightResult:
    return PreflightResult(outcome="refused", reason=reason)


def _read(
    ctx: AgentContext, request: DeploymentRequest
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | str:
    """(alias, stable configuration, candidate configuration), or the reason to refuse."""
    lam = client("lambda")
    try:
        with ctx.tool("lambda:get_alias") as call:
            alias = lam.get_alias(FunctionName=request.function_name, Name=request.alias)
            call.summary = f"{request.alias} -> {alias['FunctionVersion']}"
    except ClientError as exc:
        if _not_found(exc):
            return f"alias {request.function_name}:{request.alias} does not exist"
        raise
    if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
        return f"alias {request.alias} already splits traffic (a deployment is in progress): refusing a second one"
    stable_version = alias["FunctionVersion"]
    if stable_version == request.candidate_version:
        return f"alias {request.alias} already serves version {stable_version}"
    try:
        with ctx.tool("lambda:get_function_configuration") as call:
            candidate = lam.get_function_configuration(
                FunctionName=request.function_name, Qualifier=request.candidate_version
            )
            stable = lam.get_function_configuration(
                FunctionName=request.function_name, Qualifier=stable_version
            )
            call.summary = f"versions {stable_version} and {request.candidate_version}"
    except ClientError as exc:
        if _not_found(exc):
            return f"version {request.candidate_version} of {request.function_name} does not exist"
        raise
    return alias, stable, candidate


def preflight(request: PreflightInput, ctx: AgentContext) -> PreflightResult:
    """Check the candidate and describe the deployment; refuse (no traffic moves) on any mismatch."""
    ctx.check_time()
    deployment_id = deployment_id_of(request.execution_arn)
    ctx.incident_id = deployment_id  # the decision and audit records belong to the deployment's chain
    asked = parse_request(request.request)
    store = DeploymentStore.named(ctx.settings.CHECKPOINT_TABLE)
    read = _read(ctx, asked)
    if isinstance(read, str):
        store.put_status(deployment_id, "REFUSED", read, {"request": asked.model_dump(mode="json")})
        return _refuse(read)
    alias, stable, candidate = read
    function_arn = candidate["FunctionArn"].rsplit(":", 1)[0]
    if asked.artifact_sha256 is not None and candidate.get("CodeSha256") != asked.artifact_sha256:
        reason = (
            f"checksum mismatch: version {asked.candidate_version} has CodeSha256 {candidate.get('CodeSha256')}, "
            f"the request expects {asked.artifact_sha256}"
        )
        store.put_status(deployment_id, "REFUSED", reason, {"request": asked.model_dump(mode="json")})
        return _refuse(reason)
    with ctx.tool("lambda:list_tags") as call:
        tags = dict(client("lambda").list_tags(Resource=function_arn).get("Tags") or {})
        call.summary = f"{len(tags)} tag(s)"
    if not opted_in(asked.function_name, tags, ctx.settings):
        reason = (
            f"{asked.function_name} is not opted in to controlroom deployments "
            f"(tag {ctx.settings.DEPLOY_OPT_IN_TAG or '-'} or name prefix {ctx.settings.DEPLOY_FUNCTION_PREFIX or '-'})"
        )
        store.put_status(deployment_id, "REFUSED", reason, {"request": asked.model_dump(mode="json")})
        return _refuse(reason)
    now = utcnow()
    diff = manifest_diff(stable, candidate)
    target_environment = tags.get(ENVIRONMENT_TAG, ctx.settings.ENVIRONMENT)
    window = active_freeze(ctx.settings.FREEZE_WINDOWS, now)
    with ctx.tool("dynamodb:recent_incidents") as call:
        incidents = store.recent_incidents(asked.function_name)
        call.summary = f"{incidents} recent incident(s)"
    risk = assess_risk(diff, target_environment=target_environment, moment=now, recent_incidents=incidents)
    deployment = DeploymentRef(
        deployment_id=deployment_id,
        function_name=asked.function_name,
        function_arn=function_arn,
        alias=asked.alias,
        stable_version=alias["FunctionVersion"],
        candidate_version=asked.candidate_version,
        environment=ctx.settings.ENVIRONMENT,
        target_environment=target_environment,
        requested_by=asked.requested_by,
        requested_at=now,
        deadline_at=now + timedelta(seconds=ctx.settings.DEPLOY_TIME_BUDGET_SECONDS),
        break_glass=asked.break_glass,
        tags=tags,
    )
    with ctx.tool("dynamodb:lock_alias") as call:
        owner = store.lock_alias(asked.function_name, asked.alias, deployment_id, deployment.deadline_at)
        call.summary = f"lock held by {owner}"
    if owner != deployment_id:
        reason = f"deployment {owner} is already in progress on {asked.function_name}:{asked.alias}"
        store.put_status(deployment_id, "REFUSED", reason, {"request": asked.model_dump(mode="json")})
        return _refuse(reason)
    plan = canary_plan(ctx.settings)
    freeze = FreezeStatus(active=window is not None, window=window or "")
    plan_digest = digest(
        {"deployment": deployment, "diff": diff, "risk": risk, "canary": plan, "freeze": freeze}
    )
    result = PreflightResult(
        outcome="ready",
        reason=f"version {asked.candidate_version} checked; {risk.level} risk ({risk.score})",
        deployment=deployment,
        checksum_verified=asked.artifact_sha256 is not None,
        diff=diff,
        freeze=freeze,
        risk=risk,
        canary=plan,
        plan_digest=plan_digest,
    )
    store.put_status(
        deployment_id, "PREFLIGHT_OK", result.reason, {"ref": deployment.model_dump(mode="json")}
    )
    return result


PREFLIGHT = AgentSpec(
    name="deploy_preflight",
    input_model=PreflightInput,
    output_model=PreflightResult,
    logic=preflight,
    summarise=lambda out: f"{out.outcome}: {out.reason}",
)
