"""The traffic shifter: canary steps, promotion and rollback on a Lambda alias, idempotent and verified.

Every change is absolute (the alias' version and weights are set, never incremented) and claimed in
the checkpoint table before it is made, so a retried step finds its change made and never shifts twice.
"""

from __future__ import annotations

from typing import Any

from controlroom.aws import client
from controlroom.contracts import utcnow
from controlroom.contracts.deployment import DeploymentRef, ShiftInput, ShiftResult
from controlroom.deploy.canary import opted_in
from controlroom.deploy.store import DeploymentStore
from controlroom.errors import DeploymentNotOptedIn, KillSwitchEngaged, ShiftNotVerified
from controlroom.runtime import AgentContext, AgentSpec

_WEIGHT_TOLERANCE = 1e-6


def _halted() -> bool:
    """Whether the environment's kill switch says ``halt``, read uncached right before a traffic change.

    A missing or unreadable switch reads as halted (fail closed), as it does for Execute.
    """
    from controlroom.autonomy import is_halted

    return is_halted()


def _target(request: ShiftInput) -> tuple[str, dict[str, float], int, int, bool]:
    """(alias version, routing weights, step, weight percent, last step) the operation should leave."""
    deployment = request.deployment
    plan = request.preflight.canary
    assert plan is not None
    if request.operation == "promote":
        return deployment.candidate_version, {}, request.control.step, 100, True
    if request.operation == "rollback":
        return deployment.stable_version, {}, request.control.step, 0, True
    step = plan.steps[request.control.step]
    weights = {deployment.candidate_version: round(step.weight_percent / 100, 4)}
    return (
        deployment.stable_version,
        weights,
        request.control.step,
        step.weight_percent,
        (request.control.step == len(plan.steps) - 1),
    )


def _routing(alias: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}).items()
    }


def _matches(alias: dict[str, Any], version: str, weights: dict[str, float]) -> bool:
    routing = _routing(alias)
    return (
        alias["FunctionVersion"] == version
        and routing.keys() == weights.keys()
        and all(abs(routing[key] - weights[key]) < _WEIGHT_TOLERANCE for key in weights)
    )


def update_alias(deployment: DeploymentRef, version: str, weights: dict[str, float]) -> dict[str, Any]:
    """The one call that moves traffic (tests count it)."""
    response: dict[str, Any] = client("lambda").update_alias(
        FunctionName=deployment.function_name,
        Name=deployment.alias,
        FunctionVersion=version,
        RoutingConfig={"AdditionalVersionWeights": weights},
    )
    return response


def shift(request: ShiftInput, ctx: AgentContext) -> ShiftResult:
    """Apply the operation (shift to the step's weight, promote, or roll back) and read it back.

    Raises
    ------
    DeploymentNotOptedIn
        The function is not opted in (tag or prefix): its alias is never moved.
    KillSwitchEngaged
        The kill switch says halt.
    ShiftNotVerified
        Lambda does not report the intended routing after the change (retried by the state).
    """
    ctx.check_time()
    deployment = request.deployment
    if not opted_in(deployment.function_name, deployment.tags, ctx.settings):
        raise DeploymentNotOptedIn(f"{deployment.function_name} is not opted in to controlroom deployments")
    version, weights, step, percent, last = _target(request)
    bake = request.preflight.canary.steps[step].bake_seconds if request.operation == "shift" else 0  # type: ignore[union-attr]
    lam = client("lambda")
    with ctx.tool("lambda:get_alias") as call:
        alias = lam.get_alias(FunctionName=deployment.function_name, Name=deployment.alias)
        call.summary = f"{alias['FunctionVersion']} {_routing(alias)}"
    common = {
        "operation": request.operation,
        "step": step,
        "weight_percent": percent,
        "bake_seconds": bake,
        "last_step": last,
    }
    if request.policy.dry_run:
        ctx.notes.append(
            f"shadow mode: would set {deployment.alias} to {version} with {weights or 'no'} routing"
        )
        return ShiftResult(
            **common,
            dry_run=True,
            alias_version=alias["FunctionVersion"],
            routing=_routing(alias),
            shifted_at=utcnow(),
        )
    store = DeploymentStore.named(ctx.settings.CHECKPOINT_TABLE)
    change_key = f"{request.operation}#{step}"
    claimed = store.claim_change(
        deployment.deployment_id, change_key, {"version": version, "weights": weights}
    )
    already = _matches(alias, version, weights)
    if not already:
        # Asked right before every change: a halt set a moment ago still stops this one.
        if _halted():
            raise KillSwitchEngaged("the kill switch says halt: traffic not shifted")
        with ctx.tool("lambda:update_alias") as call:
            update_alias(deployment, version, weights)
            call.summary = f"{deployment.alias} -> {version} + {weights}"
        alias = lam.get_alias(FunctionName=deployment.function_name, Name=deployment.alias)
        if not _matches(alias, version, weights):
            raise ShiftNotVerified(
                f"{deployment.alias} routes {alias['FunctionVersion']} {_routing(alias)} after the change"
            )
    else:
        ctx.notes.append(
            f"{change_key} already applied{'' if claimed else ' by an earlier attempt'}: not shifted again"
        )
    # Audited after the read-back in both cases: a retry after a crash between the change and this record
    # still leaves one record saying the change is in place (and that this attempt did not make it).
    ctx.stores.audit.append(
        deployment.deployment_id,
        "traffic_shifted",
        f"agent:{ctx.agent}",
        {
            "change": change_key,
            "alias_version": version,
            "routing": weights,
            "already_applied": already,
            "function_version": ctx.function_version,
        },
    )
    status = {"shift": f"CANARY_{percent}", "promote": "PROMOTED", "rollback": "ROLLED_BACK"}[
        request.operation
    ]
    store.put_status(deployment.deployment_id, status, f"{change_key}: {version} {weights}", None)
    return ShiftResult(
        **common,
        already_applied=already,
        alias_version=version,
        routing=weights,
        verified=True,
        shifted_at=utcnow(),
    )


TRAFFIC_SHIFTER = AgentSpec(
    name="traffic_shifter",
    input_model=ShiftInput,
    output_model=ShiftResult,
    logic=shift,
    summarise=lambda out: (
        f"{out.operation} step {out.step}: {out.alias_version} {out.routing}"
        + (" (dry run)" if out.dry_run else " (already applied)" if out.already_applied else "")
    ),
)
