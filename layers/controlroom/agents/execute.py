"""The Execute agent: after the safety checks, run the allowed actions through their adapters.

Every real change is preceded by an ``action_intent`` audit record (agents.execute_intent) and followed
by its ``action`` outcome record. Failure handling (decided): actions run in plan order. The first ``failed`` result stops the run
(later actions may assume the earlier ones happened); its audit record is written, the decision
record's summary lists every result so far, and then ``ActionFailed`` is raised so the state
machine escalates. Throttling raises ``TransientDependencyError`` so the state machine retries;
completed changes are not repeated on retry because each one is idempotent on
(incident id, action id, plan digest).
"""

from __future__ import annotations

from typing import Any

from controlroom.agents.execute_intent import record_intent
from controlroom.autonomy.guard import before_action
from controlroom.contracts import ActionResult, ExecutionReport, IncidentStatus, utcnow
from controlroom.contracts.flow.execute import ExecuteInput
from controlroom.errors import ActionFailed, ActionNotAllowed
from controlroom.runtime import AgentContext, AgentSpec
from controlroom.tools.actions import AdapterContext, run_action
from controlroom.tools.actions_idempotency import ActionRefused, client_token, idempotency_key, run_once

# Seconds an adapter may need (a read and a write, each with SDK retries) before we start it.
_SECONDS_PER_ACTION = 5.0


def check_allowed(request: ExecuteInput) -> list[Any]:
    """The actions Execute may run, or ActionNotAllowed naming why not.

    Parameters
    ----------
    request
        Plan, policy decision and (after RequestApproval) the approval outcome.

    Returns
    -------
    list
        The plan's actions, every one allowed on its own or approved.

    Raises
    ------
    ActionNotAllowed
        The decision is for another plan, the outcome never executes, an approval is missing or
        for another plan, or an action has no effect that lets it run.
    """
    plan, decision, approval = request.plan, request.policy, request.approval
    if decision.plan_digest != plan.plan_digest:
        raise ActionNotAllowed("the policy decision was made for another plan (plan digest mismatch)")
    if decision.outcome not in ("auto", "approval"):
        raise ActionNotAllowed(f"policy outcome {decision.outcome} never executes")
    approved = (
        approval is not None and approval.verdict == "approve" and approval.plan_digest == plan.plan_digest
    )
    if approval is not None and not approved:
        raise ActionNotAllowed("the approval was given for another plan (plan digest mismatch)")
    if decision.outcome == "approval" and not approved:
        raise ActionNotAllowed("the plan needs a human approval and none was given")
    effects = {d.action_id: d.effect for d in decision.decisions}
    for action in plan.actions:
        effect = effects.get(action.action_id)
        if effect == "allow" or (effect == "needs_approval" and approved):
            continue
        raise ActionNotAllowed(
            f"action {action.action_id} has policy effect {effect or 'none'}: not runnable"
        )
    return list(plan.actions)


def execute(request: ExecuteInput, ctx: AgentContext) -> ExecutionReport:
    """Run the plan's actions, for real or as a dry run, each at most once.

    Parameters
    ----------
    request
        Plan, policy decision and approval; checked by :func:`check_allowed` before anything runs.
    ctx
        ACTION_DRY_RUN forces a dry run; TOPIC_ARN and SSM_DOCUMENT_ALLOWLIST feed the adapters.

    Returns
    -------
    ExecutionReport
        One result per action (``succeeded``, ``skipped``, or ``dry_run``).

    Raises
    ------
    ActionNotAllowed
        A safety check failed (or the action's target is protected); nothing ran.
    AutonomyHalted
        The kill switch is on: the action was not started.
    ActionFailed
        An adapter failed or refused; earlier results are recorded in the audit chain.
    """
    actions = check_allowed(request)
    dry_run = request.policy.dry_run or ctx.settings.ACTION_DRY_RUN
    incident_id = request.incident.incident_id
    if not dry_run:
        ctx.stores.checkpoint.set_status(incident_id, IncidentStatus.EXECUTING)
    results: list[ActionResult] = []
    for action in actions:
        ctx.check_time(_SECONDS_PER_ACTION)
        result = _run(action, request, ctx, dry_run)
        results.append(result)
        _audit(ctx, request, result, dry_run)
        if result.status == "failed":
            ctx.summary = "failed: " + _listing(results)
            raise ActionFailed(f"{result.action_id} ({result.action_type}) failed: {result.detail}")
    return ExecutionReport(
        dry_run=dry_run, plan_digest=str(request.plan.plan_digest), results=results, executed_at=utcnow()
    )


def _run(action: Any, request: ExecuteInput, ctx: AgentContext, dry_run: bool) -> ActionResult:
    key = idempotency_key(request.incident.incident_id, action.action_id, str(request.plan.plan_digest))
    adapter_ctx = AdapterContext(
        dry_run=dry_run,
        topic_arn=ctx.settings.TOPIC_ARN,
        ssm_document_allowlist=tuple(ctx.settings.ssm_document_allowlist),
        idempotency_token=client_token(key),
        incident_id=request.incident.incident_id,
    )
    with ctx.tool("autonomy.before_action"):
        before_action(action, request.incident, ctx.settings, dry_run=dry_run)
    if not dry_run:
        # Before anything changes: if this record cannot be written, IntentNotRecorded stops the run.
        record_intent(ctx, request, action, client_token(key))
    with ctx.tool(f"action.{action.type}") as call:
        if dry_run:
            result = run_action(action, adapter_ctx)
        else:
            try:
                result = run_once(
                    action,
                    adapter_ctx,
                    table_name=ctx.settings.CHECKPOINT_TABLE,
                    key=key,
                    remaining_ms=lambda: max(0, int(ctx.remaining_seconds() * 1000)),
                )
            except ActionRefused as refused:
                result = refused.result
        call.summary = f"{action.action_id}: {result.status}: {result.detail}"
    return result


def _audit(ctx: AgentContext, request: ExecuteInput, result: ActionResult, dry_run: bool) -> None:
    action = next(a for a in request.plan.actions if a.action_id == result.action_id)
    ctx.stores.audit.append(
        request.incident.incident_id,
        "action",
        f"agent:{ctx.agent}",
        {
            "plan_digest": request.plan.plan_digest,
            "dry_run": dry_run,
            "approval_id": request.approval.approval_id if request.approval else None,
            "action": action.model_dump(mode="json"),
            "result": result.model_dump(mode="json"),
        },
    )


def _listing(results: list[ActionResult]) -> str:
    return "; ".join(f"{r.action_id} {r.action_type}: {r.status} ({r.detail})" for r in results)


def _summarise(report: ExecutionReport) -> str:
    mode = "dry run" if report.dry_run else "executed"
    return f"{mode}: {_listing(report.results)}"


EXECUTE = AgentSpec(
    name="execute",
    input_model=ExecuteInput,
    output_model=ExecutionReport,
    logic=execute,
    summarise=_summarise,
)
