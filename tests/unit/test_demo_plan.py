"""The demo shows the plan an approval is bound to (action, target, from -> to, risk) before it asks."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from controlroom.approval.brief import build_brief
from controlroom.contracts import ApprovalRecord, RollbackEcsService, utcnow
from controlroom.contracts.approval import ApprovalBrief
from controlroom.contracts.flow import RequestApprovalInput
from controlroom.errors import ApprovalNotFound
from controlroom.local import demo
from tests.unit.test_approval_support import INCIDENT_ID, flow_state, plan

APPROVAL_ID = "apr-" + "b" * 32
LINK = f"http://127.0.0.1:1/approvals/{APPROVAL_ID}?sig=x"


def _brief(**state: Any) -> ApprovalBrief:
    request = RequestApprovalInput.model_validate(flow_state(**state))
    return build_brief(request, APPROVAL_ID, utcnow() + timedelta(minutes=30))


def _approval(brief: ApprovalBrief, plan_digest: str | None = None) -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id=APPROVAL_ID,
        incident_id=INCIDENT_ID,
        plan_digest=plan_digest or brief.plan_digest,
        approvers=["oncall@example.com"],
        created_at=now,
        expires_at=now + timedelta(minutes=30),
    )


@dataclass
class FakeCheckpoint:
    brief: ApprovalBrief | None
    approval: ApprovalRecord

    def approval_brief(self, approval_id: str) -> ApprovalBrief:
        if self.brief is None:
            raise ApprovalNotFound(approval_id)
        return self.brief

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        return self.approval


@dataclass
class Outcome:
    decided: bool = True
    outcome: str = "approve"
    approver: str = "cli:tester"
    approvals_missing: int = 0


@dataclass
class FakeClient:
    """The part of EngineClient the decision step uses."""

    checkpoint: FakeCheckpoint
    decisions: list[str] = field(default_factory=list)

    def wait_for_links(self, approval_id: str) -> list[str]:
        return [LINK]

    def decide(self, approval_id: str, verdict: str, approver: str, comment: str = "") -> Outcome:
        self.decisions.append(verdict)
        return Outcome(outcome=verdict)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    """Answer every prompt with "a", recording the prompt and what had been printed before it."""
    asked: list[tuple[str, str]] = []

    def answer(prompt: str = "") -> str:
        asked.append((prompt, capsys.readouterr().out))
        return "a"

    monkeypatch.setattr("builtins.input", answer)
    monkeypatch.setattr("sys.stdin", _Terminal())
    return asked


def test_the_plan_is_shown_before_the_prompt(prompts: list[tuple[str, str]]) -> None:
    # Given a pending approval and the brief of the plan it is bound to
    brief = _brief()
    client = FakeClient(FakeCheckpoint(brief, _approval(brief)))
    # When the demo asks for a decision
    verdict = demo.decide_with_plan(client, _approval(brief), None)  # type: ignore[arg-type]
    # Then, before the one prompt, it printed the link, the diagnosis and each action with target,
    # from -> to, risk and the policy's effect
    assert len(prompts) == 1
    shown = prompts[0][1]
    assert LINK in shown
    assert "diagnosis: recent_change (confidence 0.82, by fallback)" in shown
    assert (
        "1. rollback_lambda_alias lambda:checkout:live: version 2 -> 1 (risk medium, policy needs_approval)"
        in shown
    )
    assert f"plan {brief.plan_digest[:12]}: Roll the live alias back to version 1" in shown
    # And the answer was recorded only after that
    assert verdict == "approve" and client.decisions == ["approve"]


def test_from_and_to_of_other_actions(prompts: list[tuple[str, str]]) -> None:
    ecs = RollbackEcsService(
        action_id="act-1",
        rationale="task definition 8 broke the service",
        cluster="shop",
        service="cart",
        target_task_definition="cart:7",
        from_task_definition="cart:8",
    )
    the_plan = plan().model_copy(update={"actions": [ecs]})
    brief = _brief(plan=the_plan)
    client = FakeClient(FakeCheckpoint(brief, _approval(brief)))
    demo.decide_with_plan(client, _approval(brief), "reject")  # type: ignore[arg-type]
    # With --decision there is no prompt, but the plan is still printed
    assert prompts == []
    assert (
        "rollback_ecs_service ecs:shop/cart: task definition cart:8 -> cart:7 (risk high"
        in (demo.plan_lines(brief)[2])
    )
    assert client.decisions == ["reject"]


@pytest.mark.parametrize("stored", ["other plan", "no brief"])
def test_no_decision_without_the_bound_plan(stored: str, prompts: list[tuple[str, str]]) -> None:
    # Given an approval whose stored brief is of another plan, or missing
    brief = _brief()
    approval = _approval(brief, plan_digest="f" * 64 if stored == "other plan" else None)
    client = FakeClient(FakeCheckpoint(brief if stored == "other plan" else None, approval))
    # Then the demo refuses to ask, and decides nothing
    with pytest.raises(demo.PlanNotShown):
        demo.decide_with_plan(client, approval, None)  # type: ignore[arg-type]
    assert prompts == [] and client.decisions == []


def test_the_demo_exits_1_with_a_message_when_the_plan_cannot_be_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from controlroom.local import cli

    def refuses(**kwargs: Any) -> int:
        raise demo.PlanNotShown(f"{APPROVAL_ID}: no plan stored with the approval")

    monkeypatch.setattr(demo, "run_demo", refuses)
    assert cli.main(["demo", "--decision", "approve"]) == 1
    assert f"controlroom demo: {APPROVAL_ID}: no plan stored with the approval" in capsys.readouterr().err
