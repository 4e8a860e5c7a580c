"""The deployment approval's brief and page: the diff, the risk reasons and the canary plan, escaped."""

from __future__ import annotations

from datetime import timedelta

from controlroom.approval.pages import decision_page
from controlroom.contracts import ApprovalRecord
from controlroom.contracts.deployment import DeployApprovalInput, FieldChange, ManifestDiff
from controlroom.deploy.approval import build_deployment_brief
from controlroom.deploy.policy import decide_deployment
from controlroom.policy import default_engine
from controlroom.settings import load_settings
from tests.unit.test_deploy_policy import NOW, _request

APPROVAL_ID = "apr-" + "0" * 32


def _approval_input() -> DeployApprovalInput:
    request = _request(risk="medium")
    diff = ManifestDiff(
        changes=[FieldChange(field="handler", stable="app.handler", candidate="<script>alert(1)</script>")],
        env_keys_added=["FEATURE_X"],
    )
    preflight = request.preflight.model_copy(update={"diff": diff})
    policy = decide_deployment(request, load_settings({"ENVIRONMENT": "dev"}), default_engine())
    return DeployApprovalInput(preflight=preflight, policy=policy, task_token="token")


def test_the_page_shows_the_diff_the_risk_and_the_canary_plan_escaped() -> None:
    request = _approval_input()
    brief = build_deployment_brief(request, APPROVAL_ID, NOW + timedelta(hours=1))
    record = ApprovalRecord(
        approval_id=APPROVAL_ID,
        incident_id=brief.incident_id,
        plan_digest=brief.plan_digest,
        created_at=NOW,
        expires_at=brief.expires_at,
    )
    page = decision_page(brief, record, "a@x.io", 0, "sig")
    assert brief.incident_id == request.deployment.deployment_id
    assert brief.plan_digest == request.preflight.plan_digest
    # The diff (keys of environment variables only), the risk reasons and each canary step are on the page
    assert "handler: app.handler -&gt; &lt;script&gt;" in page and "<script>" not in page
    assert "environment variables added: FEATURE_X" in page
    assert "Risk: medium" in page and "<li>code</li>" in page
    assert "10% of traffic for 1s, then the SLO guard" in page
    assert "100%: promote" in page
