"""`controlroom demo`: one full incident on the local engine, narrated step by step."""

from __future__ import annotations

import getpass
import sys
import time
from typing import Any

from controlroom.contracts import ApprovalRecord
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import ApprovalNotFound
from controlroom.local import preflight, progress, render, trace, trace_text
from controlroom.local.client import EngineClient
from controlroom.local.engine import LocalEngine
from controlroom.local.paths import repo_root
from controlroom.local.world import DEMO_ALIAS, DEMO_FUNCTION, load_event, restamp
from controlroom.local.world_graph import FRONTEND_ALARM, FRONTEND_FUNCTION, TABLE

EXPECTED_TERMINAL = {"approve": "Resolved", "reject": "Rejected"}


def _step(number: int, text: str) -> None:
    print(f"[{number}/6] {text}", flush=True)


class PlanNotShown(RuntimeError):
    """The approval's plan could not be shown as it will be executed: nobody is asked to decide blind."""


def _ask(client: EngineClient, approval: ApprovalRecord) -> str:
    # run_demo checked for a terminal before any work (controlroom.local.preflight).
    while True:
        answer = (
            input("      approve or reject? [a/r] (or decide in the browser, then press Enter): ")
            .strip()
            .lower()
        )
        current = client.checkpoint.get_approval(approval.approval_id)
        if current.outcome:
            return f"browser:{current.outcome}"
        if answer in ("a", "approve"):
            return "approve"
        if answer in ("r", "reject"):
            return "reject"


def _change(parameters: dict[str, Any]) -> str:
    """The action's from -> to, from its ``from_<what>`` and ``target_<what>`` parameters."""
    changes = [
        f"{key.removeprefix('from_').replace('_', ' ')} {value} -> {parameters[f'target_{key[5:]}']}"
        for key, value in parameters.items()
        if key.startswith("from_") and f"target_{key[5:]}" in parameters
    ]
    if changes:
        return ", ".join(changes)
    rest = {key: value for key, value in parameters.items() if value not in (None, "", [], {})}
    return " ".join(f"{key}={value}" for key, value in rest.items()) or "no change of state"


def plan_lines(brief: ApprovalBrief) -> list[str]:
    """The plan an approval is bound to, one action a line: action, target, from -> to, risk, policy."""
    lines = [
        f"      diagnosis: {brief.diagnosis_cause} (confidence {brief.confidence:.2f}, "
        f"by {brief.diagnosis_produced_by}) on {brief.resource}",
        f"      plan {brief.plan_digest[:12]}: {brief.plan_summary}",
    ]
    for number, action in enumerate(brief.actions, start=1):
        policy = f", policy {action.effect}" if action.effect else ""
        lines.append(
            f"        {number}. {action.action_type} {action.target}: {_change(action.parameters)} "
            f"(risk {action.risk}{policy})"
        )
    if brief.deployment is not None:
        deployment = brief.deployment
        lines.append(
            f"        deploy {deployment.function_name}:{deployment.alias} version {deployment.stable_version} "
            f"-> {deployment.candidate_version} (risk {deployment.risk_level})"
        )
    if brief.policy_reason:
        lines.append(f"      policy: {brief.policy_outcome}: {brief.policy_reason}")
    return lines


def _show_plan(client: EngineClient, approval: ApprovalRecord) -> None:
    try:
        brief = client.checkpoint.approval_brief(approval.approval_id)
    except ApprovalNotFound as exc:
        raise PlanNotShown(f"{approval.approval_id}: no plan stored with the approval ({exc})") from exc
    if brief.plan_digest != approval.plan_digest:
        raise PlanNotShown(
            f"{approval.approval_id}: the stored plan {brief.plan_digest[:12]} is not the plan the approval is "
            f"bound to ({approval.plan_digest[:12]}); decide nothing"
        )
    print("\n".join(plan_lines(brief)), flush=True)


def decide_with_plan(client: EngineClient, approval: ApprovalRecord, decision: str | None) -> str:
    """Show the approval, its links and its plan, then take ``decision`` or ask for one.

    Returns
    -------
    str
        ``approve`` or ``reject``, decided here, or ``browser:<outcome>`` when decided in the browser.
    """
    _show_approval(client, approval)
    _show_plan(client, approval)
    verdict = decision or _ask(client, approval)
    if not verdict.startswith("browser:"):
        outcome = client.decide(
            approval.approval_id, verdict, f"cli:{getpass.getuser()}", "decided in controlroom demo"
        )
        if outcome.decided:
            print(
                f"      {approval.approval_id}: {outcome.outcome} (decided by {outcome.approver}); the flow resumes"
            )
        else:
            print(
                f"      {approval.approval_id}: vote recorded, {outcome.approvals_missing} more approval(s) needed"
            )
    return verdict


def _show_approval(client: EngineClient, approval: ApprovalRecord) -> None:
    links = client.wait_for_links(approval.approval_id)
    print(
        f"      approval {approval.approval_id} (expires {approval.expires_at:%H:%M:%S}Z, "
        f"{approval.required_approvals} approval(s) needed)"
    )
    for link in links:
        print(f"      email link (open it in a browser): {link}")


def run_demo(decision: str | None, port: int = 0, protected: bool = False, cache: bool | None = None) -> int:
    """Run the demo; exit 0 only if the flow reached the terminal state the decision implies.

    Raises
    ------
    PreflightError
        Before any work: no terminal to ask on and no ``decision``, the port is taken, or cdk.json has no
        ``local`` environment.
    """
    preflight.check_terminal(decision)
    preflight.check_port(port)
    preflight.check_environment("local", repo_root())
    print(
        "controlroom demo: a CloudWatch alarm handled end to end on the local engine\n"
        "(moto for AWS, moto's interpreter running stepfunctions/incident_response.asl.json, our handlers in-process)",
        flush=True,
    )
    started = time.monotonic()
    _step(1, "synthesizing the CDK app (env=local) and starting local AWS")
    engine = LocalEngine(env="local", port=port, narrate=True, synth_cache=cache)
    try:
        engine.start(seed_world=True, protected=protected)
        client = engine.client
        assert client is not None
        _step(
            2,
            f"deployed controlroom-local into {client.endpoint}; demo workload: {FRONTEND_FUNCTION} calls "
            f"{DEMO_FUNCTION} and the table {TABLE}; {DEMO_FUNCTION} alias {DEMO_ALIAS} serves bad version 2, "
            f"and the front end's alarm {FRONTEND_ALARM} is in ALARM",
        )
        event = restamp(load_event(repo_root() / "events" / "alarm_frontend_errors.json"))
        executions = client.fire(event)
        if not executions:
            print("the EventBridge rule did not match the sample event", file=sys.stderr)
            return 1
        execution_arn = executions[0]
        incident_id = client.incident_id(execution_arn)
        _step(
            3,
            f"fired events/alarm_frontend_errors.json -> execution {execution_arn.rsplit(':', 1)[-1]}, "
            f"incident {incident_id}",
        )
        return _finish(client, execution_arn, incident_id, decision, started)
    finally:
        engine.stop()


def _finish(
    client: EngineClient, execution_arn: str, incident_id: str | None, decision: str | None, started: float
) -> int:
    expected = None
    if incident_id is None:
        view = client.wait(execution_arn)
        print(f"the flow ended at {view.terminal_state} before opening an incident: {view.error}")
        return 1
    with progress.step("waiting for the flow to reach a decision (Intake, Evidence, Diagnose, Plan, Policy)"):
        approval = _wait_for_approval_or_end(client, execution_arn, incident_id)
    if approval is not None:
        _step(4, "the plan needs a human: approval requested")
        verdict = decide_with_plan(client, approval, decision).removeprefix("browser:")
        expected = EXPECTED_TERMINAL[verdict]
    else:
        _step(4, "the policy did not ask for approval")
    with progress.step("waiting for the flow to finish (Execute, Verify, Close)"):
        view = client.wait(execution_arn, timeout=180)
    _step(5, f"execution {view.status} at state {view.terminal_state}")
    print(trace_text.render(trace.load(client, incident_id)))
    report = client.verify_audit(incident_id)
    _step(6, render.audit(report))
    print(f"done in {time.monotonic() - started:.1f}s")
    if expected is None:
        return 0 if decision is None and report.ok else 1
    return 0 if view.terminal_state == expected and report.ok else 1


def _wait_for_approval_or_end(
    client: EngineClient, execution_arn: str, incident_id: str, timeout: float = 120.0
) -> ApprovalRecord | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for approval in client.pending_approvals():
            if approval.incident_id == incident_id:
                return approval
        if client.describe(execution_arn).status != "RUNNING":
            return None
        time.sleep(0.1)
    raise TimeoutError(f"neither an approval nor the end of {execution_arn} after {timeout:.0f}s")
