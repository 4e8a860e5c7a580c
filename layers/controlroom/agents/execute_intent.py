"""Execute's intent record: which change it is about to make, written to the audit chain before the change.

If a change is made and the function dies before its outcome is recorded, the intent still says what
was attempted, on what, from which state to which, under which idempotency key (the retry replays the
same key). If the intent cannot be written, nothing is changed.
"""

from __future__ import annotations

from typing import Any

from controlroom.contracts.flow.execute import ExecuteInput
from controlroom.errors import IntentNotRecorded
from controlroom.runtime import AgentContext


def transition(action: Any) -> tuple[str | None, str | None]:
    """(from, to) of an action's target, as the plan states them; None where the catalog names no state."""
    match action.type:
        case "rollback_lambda_alias":
            return f"version {action.from_version}", f"version {action.target_version}"
        case "rollback_ecs_service":
            return action.from_task_definition, action.target_task_definition
        case "stop_codedeploy_deployment":
            return "in progress", "stopped" + (" and rolled back" if action.auto_rollback else "")
        case "run_ssm_automation":
            return None, f"automation {action.document_name} started"
        case _:
            return None, None


def record_intent(ctx: AgentContext, request: ExecuteInput, action: Any, idempotency_key: str) -> None:
    """Append an ``action_intent`` record for ``action``; raise IntentNotRecorded if the write fails.

    Parameters
    ----------
    ctx
        The agent context (its audit store).
    request
        The Execute input: incident, plan digest, approval.
    action
        The catalog action about to run.
    idempotency_key
        The stable token of the key the adapter runs under (incident, action, plan digest), so the
        intent and its outcome, or a retry's replay, can be matched.

    Raises
    ------
    IntentNotRecorded
        The audit chain did not take the record: the caller must not change anything.
    """
    before, after = transition(action)
    try:
        ctx.stores.audit.append(
            request.incident.incident_id,
            "action_intent",
            f"agent:{ctx.agent}",
            {
                "action_id": action.action_id,
                "action_type": action.type,
                "target": action.target,
                "from": before,
                "to": after,
                "idempotency_key": idempotency_key,
                "plan_digest": request.plan.plan_digest,
                "approval_id": request.approval.approval_id if request.approval else None,
            },
        )
    except Exception as exc:
        raise IntentNotRecorded(
            f"{action.action_id} ({action.type}) not run: its intent could not be audited "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc
