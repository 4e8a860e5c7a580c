"""Execute's safety checks: nothing runs unless the decision and approval are for this very plan."""

from __future__ import annotations

import pytest

from controlroom.agents.execute import check_allowed
from controlroom.contracts import ActionDecision, ApprovalOutcome, PolicyDecision
from controlroom.contracts.flow import ExecuteInput
from controlroom.errors import ActionNotAllowed
from tests.unit.test_policy_flow_state import action, intake, plan, state

THE_PLAN = plan(action("notify_only", "act-1"), action("rollback_lambda_alias", "act-2"))


def _request(outcome="auto", effects=("allow", "allow"), digest=None, approval_digest=None, approval=False):
    decision = PolicyDecision(
        outcome=outcome,
        environment="test",
        autonomy_mode="supervised",
        dry_run=False,
        plan_digest=digest or THE_PLAN.plan_digest,
        confidence=0.9,
        reason="test",
        decisions=[
            ActionDecision(action_id=a.action_id, action_type=a.type, risk="low", effect=effect)
            for a, effect in zip(THE_PLAN.actions, effects, strict=False)
        ],
    )
    parts = {"intake": intake(), "plan": THE_PLAN, "policy": decision}
    if approval:
        parts["approval"] = ApprovalOutcome(
            approval_id="apr-" + "1" * 32,
            verdict="approve",
            approvers=["lead@example.com"],
            plan_digest=approval_digest or THE_PLAN.plan_digest,
        )
    return ExecuteInput.model_validate(state(**parts))


def test_auto_plan_with_every_action_allowed_runs_all_of_them():
    assert [a.action_id for a in check_allowed(_request())] == ["act-1", "act-2"]


def test_approved_plan_runs_actions_that_needed_approval():
    request = _request("approval", ("allow", "needs_approval"), approval=True)
    assert [a.action_id for a in check_allowed(request)] == ["act-1", "act-2"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"digest": "e" * 64}, "another plan"),
        ({"outcome": "deny", "effects": ("allow", "deny")}, "never executes"),
        ({"outcome": "quarantine"}, "never executes"),
        ({"outcome": "approval", "effects": ("allow", "needs_approval")}, "needs a human approval"),
        (
            {
                "outcome": "approval",
                "effects": ("allow", "needs_approval"),
                "approval": True,
                "approval_digest": "d" * 64,
            },
            "approval was given for another plan",
        ),
        # a tampered decision: outcome auto while an action only had approval, and no approval given
        (
            {"outcome": "auto", "effects": ("allow", "needs_approval")},
            "act-2 has policy effect needs_approval",
        ),
        # a decision that does not cover every action of the plan
        ({"effects": ("allow",)}, "act-2 has policy effect none"),
    ],
)
def test_unsafe_requests_are_refused(kwargs, message):
    # Given a request that fails one safety check, When checked, Then ActionNotAllowed names the reason
    with pytest.raises(ActionNotAllowed, match=message):
        check_allowed(_request(**kwargs))
