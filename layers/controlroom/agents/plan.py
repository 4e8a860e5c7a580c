"""The Plan agent: turn the top hypothesis into typed actions from the catalog (runbooks)."""

from __future__ import annotations

from pydantic import ValidationError

from controlroom.contracts import (
    ChangeRecord,
    Hypothesis,
    IncidentRef,
    NotifyOnly,
    Plan,
    ResourceRef,
    RollbackEcsService,
    RollbackLambdaAlias,
    StopCodeDeployDeployment,
)
from controlroom.contracts.flow.plan import PlanInput
from controlroom.llm import plan_with_model, with_notes
from controlroom.runtime import AgentContext, AgentSpec

DEFAULT_LAMBDA_ALIAS = "live"
RunbookAction = RollbackLambdaAlias | RollbackEcsService | StopCodeDeployDeployment | NotifyOnly


def _change_of(hypothesis: Hypothesis, request: PlanInput) -> ChangeRecord | None:
    return next((change for change in request.evidence.changes if change.ref == hypothesis.change_ref), None)


def _target_of(incident: IncidentRef, hypothesis: Hypothesis) -> ResourceRef | None:
    """What a rollback may act on: the resource the hypothesis blames, else the alarmed resource.

    A blamed graph node becomes a target only as a Lambda function or an ECS service with a known
    cluster: the only kinds the rollback runbooks can act on.
    """
    blamed = hypothesis.blamed
    if blamed is None:
        return incident.resource
    if blamed.kind == "lambda_function":
        return ResourceRef(kind="lambda_function", name=blamed.name, qualifier=blamed.qualifier)
    if blamed.kind == "ecs_service" and blamed.cluster:
        return ResourceRef(kind="ecs_service", name=blamed.name, cluster=blamed.cluster)
    return None


def _rollback_action(resource: ResourceRef, change: ChangeRecord) -> RunbookAction | None:
    """The rollback runbook for a recent change of ``resource``, if the change says what to roll back to."""
    if change.previous is None or change.current is None or change.resource_name != resource.name:
        return None
    if resource.kind == "lambda_function" and change.kind == "lambda_version":
        return RollbackLambdaAlias(
            action_id="act-1",
            function_name=resource.name,
            alias=resource.qualifier or DEFAULT_LAMBDA_ALIAS,
            target_version=change.previous,
            from_version=change.current,
            rationale=(
                f"Version {change.current} went live shortly before the alarm; roll the alias back "
                f"to version {change.previous}."
            )[:500],
        )
    if resource.kind == "ecs_service" and change.kind == "ecs_deployment" and resource.cluster:
        return RollbackEcsService(
            action_id="act-1",
            cluster=resource.cluster,
            service=resource.name,
            target_task_definition=change.previous,
            from_task_definition=change.current,
            rationale=(
                f"A deployment of {change.current} started shortly before the alarm; roll the service "
                f"back to {change.previous}."
            )[:500],
        )
    return None


def _stop_action(change: ChangeRecord) -> RunbookAction | None:
    if change.current is None:
        return None
    return StopCodeDeployDeployment(
        action_id="act-1",
        deployment_id=change.current,
        rationale=f"Deployment {change.current} is {change.status} while the alarm fires; stop it and roll back.",
    )


def _notify(incident: IncidentRef, hypothesis: Hypothesis) -> NotifyOnly:
    return NotifyOnly(
        action_id="act-1",
        rationale="No runbook changes this safely; a human decides.",
        message=(
            f"{incident.alarm.alarm_name} on {incident.resource.kind}:{incident.resource.name}: "
            f"{hypothesis.summary}"
        )[:1000],
    )


def _blamed_change(hypothesis: Hypothesis, request: PlanInput) -> ChangeRecord | None:
    """The version or deployment record Evidence read for the blamed resource (graph hypotheses)."""
    blamed = hypothesis.blamed
    if blamed is None or hypothesis.cause != "recent_change":
        return None
    records = [c for c in request.evidence.changes if c.resource_name == blamed.name]
    return next((c for c in records if c.kind in ("lambda_version", "ecs_deployment")), None)


def _runbook_action(request: PlanInput, hypothesis: Hypothesis) -> RunbookAction | None:
    change = _change_of(hypothesis, request) or _blamed_change(hypothesis, request)
    target = _target_of(request.incident, hypothesis)
    if change is None or target is None:
        return None
    try:
        if hypothesis.cause == "recent_change":
            return _rollback_action(target, change)
        if hypothesis.cause == "deployment_in_progress":
            return _stop_action(change)
    except ValidationError:
        # The change carries something the catalog cannot express (e.g. an odd id): notify instead.
        return None
    return None


def fallback_plan(request: PlanInput) -> Plan:
    """Runbooks keyed by the top hypothesis; anything without a safe runbook is NotifyOnly.

    Returns
    -------
    Plan
        One action (``act-1``), ``produced_by="fallback"``, ``based_on`` the top hypothesis's cause.
    """
    hypothesis = request.diagnosis.top
    action = _runbook_action(request, hypothesis) or _notify(request.incident, hypothesis)
    # (Policy separately checks that every target is blamed or named; Plan only ever builds such targets.)
    return Plan(
        incident_id=request.incident.incident_id,
        actions=[action],
        produced_by="fallback",
        based_on=hypothesis.cause,
        summary=f"{type(action).__name__} for {hypothesis.cause}: {hypothesis.summary}"[:1000],
    )


def plan(request: PlanInput, ctx: AgentContext) -> Plan:
    """The Plan agent's logic: the model when configured and healthy, these runbooks otherwise."""
    result = plan_with_model(request, ctx, fallback_plan)
    ctx.confidence = request.diagnosis.confidence
    ctx.summary = with_notes(ctx, ", ".join(action.type for action in result.actions))
    return result


PLAN: AgentSpec[PlanInput, Plan] = AgentSpec(
    name="plan",
    input_model=PlanInput,
    output_model=Plan,
    logic=plan,
    summarise=lambda result: ", ".join(action.type for action in result.actions),
)
