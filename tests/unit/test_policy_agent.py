"""The Policy agent through its Lambda handler: decision record written, audit chain verifies."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from controlroom.runtime import stores
from tests.unit.test_policy_flow_state import (
    INCIDENT_ID,
    action,
    create_function,
    diagnosis,
    evidence,
    intake,
    plan,
    state,
)

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "policy" / "handler.py"


def _handler():
    spec = importlib.util.spec_from_file_location("controlroom_test_policy_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_handler_decides_and_records(aws, lambda_context, monkeypatch):
    # Given a gated environment and a plan to roll back a Lambda alias
    monkeypatch.setenv("AUTONOMY_MODE", "gated")
    create_function(aws, "checkout", {"team": "payments"})
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(
        intake=intake(),
        evidence=evidence({"team": "payments"}),
        diagnosis=diagnosis(0.8),
        plan=the_plan,
        verify=None,
    )
    # When the Lambda handler runs
    decision = _handler()(event, lambda_context)
    # Then the plan needs approval, bound to the plan's digest
    assert decision["outcome"] == "approval"
    assert decision["plan_digest"] == the_plan.plan_digest
    assert decision["decisions"][0]["reasons"] == ["gated-changes-need-approval"]
    # And one decision record was written by rules (no model), with its confidence and what was left out
    (step,) = stores().checkpoint.steps(INCIDENT_ID)
    assert step.agent == "policy" and step.status == "ok" and step.produced_by == "rules"
    assert step.model_id is None and step.tokens_in == 0
    assert step.confidence == 0.8 and "verify" in step.left_out
    assert step.output == decision
    assert stores().audit.verify(INCIDENT_ID).ok


def test_policy_agent_loads_no_model_client():
    # Given a fresh interpreter (this process may have imported model clients for other tests)
    probe = (
        "import sys, controlroom.agents.policy; "
        "print(sorted(m for m in sys.modules if m == 'anthropic' or m.startswith('controlroom.llm')))"
    )
    # When only the policy agent is imported
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    # Then no model client was loaded: the policy path cannot call a model
    assert completed.stdout.strip() == "[]"
