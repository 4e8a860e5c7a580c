"""`controlroom demo`: one full incident on the local engine, narrated step by step."""

from __future__ import annotations

import sys
import time

from controlroom.contracts import ApprovalRecord
from controlroom.local import render
from controlroom.local.client import EngineClient
from controlroom.local.engine import LocalEngine
from controlroom.local.paths import repo_root
from controlroom.local.world import DEMO_ALIAS, DEMO_FUNCTION, load_event, restamp
from controlroom.local.world_graph import FRONTEND_ALARM, FRONTEND_FUNCTION, TABLE

EXPECTED_TERMINAL = {"approve": "Resolved", "reject": "Rejected"}


def _step(number: int, text: str) -> None:
    print(f"[{number}/6] {text}", flush=True)


def _ask(client: EngineClient, approval: ApprovalRecord) -> str:
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask for a decision: pass --decision approve|reject")
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


def _show_approval(client: EngineClient, approval: ApprovalRecord) -> None:
    links = client.wait_for_links(approval.approval_id)
    print(
        f"      approval {approval.approval_id} (expires {approval.expires_at:%H:%M:%S}Z, "
        f"{approval.required_approvals} approval(s) needed)"
    )
    for link in links:
        print(f"      email link (open it in a browser): {link}")


def run_demo(decision: str | None, port: int = 0, protected: bool = False) -> int:
    """Run the demo; exit 0 only if the flow reached the terminal state the decision implies."""
    print(
        "controlroom demo: a CloudWatch alarm handled end to end on the local engine\n"
        "(moto for AWS, moto's interpreter running stepfunctions/incident_response.asl.json, our handlers in-process)"
    )
    started = time.monotonic()
    _step(1, "synthesizing the CDK app (env=local) and starting local AWS")
    engine = LocalEngine(env="local", port=port)
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
    approval = _wait_for_approval_or_end(client, execution_arn, incident_id)
    if approval is not None:
        _step(4, "the plan needs a human: approval requested")
        _show_approval(client, approval)
        verdict = decision or _ask(client, approval)
        if not verdict.startswith("browser:"):
            from controlroom.local.cli import _decide

            _decide(client, approval.approval_id, verdict, "decided in controlroom demo")
        verdict = verdict.removeprefix("browser:")
        expected = EXPECTED_TERMINAL[verdict]
    else:
        _step(4, "the policy did not ask for approval")
    view = client.wait(execution_arn, timeout=180)
    _step(5, f"execution {view.status} at state {view.terminal_state}")
    print(render.timeline(client.incident(incident_id), client.timeline(incident_id)))
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
