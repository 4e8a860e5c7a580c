"""The deployment commands of the `controlroom` CLI: `deploy`, the deployment timeline, the deployment demo."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any

from controlroom.contracts.deployment import DEPLOYMENT_REQUESTED, DEPLOYMENT_SOURCE
from controlroom.local import render
from controlroom.local.cli_output import EXIT_FAILED, EXIT_OK, add_command
from controlroom.local.client import EngineClient

EXPECTED_TERMINAL = {"healthy": "Promoted", "regression": "RolledBack"}


def request_event(
    function_name: str,
    version: str,
    *,
    alias: str = "live",
    sha256: str | None = None,
    requested_by: str = "",
    break_glass: bool = False,
) -> dict[str, Any]:
    """A ``controlroom.deployment.requested`` event, as a CI job would put it on the bus."""
    detail: dict[str, Any] = {
        "function_name": function_name,
        "alias": alias,
        "candidate_version": str(version),
        "requested_by": requested_by or f"cli:{getpass.getuser()}",
        "break_glass": break_glass,
    }
    if sha256:
        detail["artifact_sha256"] = sha256
    return {"source": DEPLOYMENT_SOURCE, "detail-type": DEPLOYMENT_REQUESTED, "detail": detail}


class Deployments:
    """The deployment flow on a running local engine (wraps the incident-oriented EngineClient)."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.state_machine_arn = client.outputs["DeploymentStateMachineArn"]

    def executions(self) -> list[str]:
        pages = self.client.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn
        )
        return [e["executionArn"] for page in pages for e in page["executions"]]

    def request(self, event: dict[str, Any]) -> str:
        """Put the request on the bus; return the deployment execution the rule started."""
        before = set(self.executions())
        response = self.client.aws("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                }
            ]
        )
        if any("ErrorCode" in entry for entry in response["Entries"]):
            raise ValueError(f"EventBridge refused the deployment request: {response['Entries']}")
        started = [arn for arn in self.executions() if arn not in before]
        if len(started) != 1:
            raise RuntimeError(f"expected the deployment rule to start one execution, got {started}")
        return started[0]

    def deployment_id(self, execution_arn: str, timeout: float = 30.0) -> str | None:
        """The deployment id Preflight gave the execution (from its state output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.client.history(execution_arn):
                details = event.get("stateExitedEventDetails")
                if event["type"] == "TaskStateExited" and details and details["name"] == "Preflight":
                    preflight = json.loads(details["output"]).get("preflight") or {}
                    return (preflight.get("deployment") or {}).get("deployment_id") or _id_of(execution_arn)
            if self.client.describe(execution_arn).status != "RUNNING":
                return None
            time.sleep(0.1)
        return None

    def output(self, execution_arn: str) -> dict[str, Any]:
        return self.client.describe(execution_arn).output or {}

    def status(self, deployment_id: str) -> dict[str, Any] | None:
        from controlroom.deploy.store import DeploymentStore

        table = self.client.checkpoint._table  # the engine's checkpoint table, read like the agents do
        return DeploymentStore(table).get(deployment_id)


def _id_of(execution_arn: str) -> str:
    from controlroom.deploy.preflight import deployment_id_of

    return deployment_id_of(execution_arn)


def trace_deployment(client: EngineClient, deployment_id: str) -> str:
    """The deployment's trace (steps, votes, waits, guard readings); IncidentNotFound for an unknown id."""
    from controlroom.local import trace, trace_text

    return trace_text.render(trace.load(client, deployment_id))


def cmd_deploy(args: argparse.Namespace) -> int:
    client = EngineClient.from_state_file()
    deployments = Deployments(client)
    event = request_event(
        args.function_name, args.version, alias=args.alias, sha256=args.sha256, break_glass=args.break_glass
    )
    execution_arn = deployments.request(event)
    deployment_id = deployments.deployment_id(execution_arn)
    print(f"started {execution_arn}\n  deployment {deployment_id}")
    if args.wait:
        view = client.wait(execution_arn, timeout=args.timeout)
        print(f"  {view.status} at {view.terminal_state}")
        if deployment_id:
            print(trace_deployment(client, deployment_id))
        # Like a CI step: success means the candidate serves (or, in shadow mode, would have).
        return EXIT_OK if view.terminal_state in ("Promoted", "DryRun") else EXIT_FAILED
    return EXIT_OK


def run_deployment_demo(outcome: str, port: int = 0) -> int:
    """Deploy the healthy or the regressing orders-api version; exit 0 only at the expected terminal state."""
    from controlroom.local.deploy_world import CANDIDATES, DEPLOY_ALIAS, DEPLOY_FUNCTION, STABLE_VERSION
    from controlroom.local.engine import LocalEngine

    expected = EXPECTED_TERMINAL[outcome]
    print(f"controlroom demo --flow deployment: a {outcome} candidate canaried on the local engine")
    started = time.monotonic()
    engine = LocalEngine(env="local", port=port, narrate=True)
    try:
        engine.start(seed_world=True)
        client = engine.client
        assert client is not None
        deployments = Deployments(client)
        candidate = CANDIDATES[outcome]
        sha256 = client.aws("lambda").get_function_configuration(
            FunctionName=DEPLOY_FUNCTION, Qualifier=candidate
        )["CodeSha256"]
        print(
            f"[1/4] {DEPLOY_FUNCTION}:{DEPLOY_ALIAS} serves version {STABLE_VERSION}; requesting version {candidate}"
        )
        execution_arn = deployments.request(
            request_event(DEPLOY_FUNCTION, candidate, sha256=sha256, requested_by="controlroom demo")
        )
        deployment_id = deployments.deployment_id(execution_arn)
        print(f"[2/4] execution {execution_arn.rsplit(':', 1)[-1]}, deployment {deployment_id}")
        view = client.wait(execution_arn, timeout=180)
        print(f"[3/4] execution {view.status} at state {view.terminal_state} (expected {expected})")
        incident_arn = ((view.output or {}).get("close") or {}).get("incident_execution_arn")
        if incident_arn:
            print(
                f"      incident flow started: {incident_arn} (incident {client.incident_id(incident_arn)})"
            )
        if deployment_id:
            print(trace_deployment(client, deployment_id))
            report = client.verify_audit(deployment_id)
            print(f"[4/4] {render.audit(report)}")
        else:
            report = None
        print(f"done in {time.monotonic() - started:.1f}s")
        ok = view.terminal_state == expected and report is not None and report.ok
        if outcome == "regression":
            ok = ok and bool(incident_arn)
        return EXIT_OK if ok else EXIT_FAILED
    finally:
        engine.stop()


def register(sub: Any) -> None:
    """Add `controlroom deploy` to the CLI's subcommands."""
    deploy = add_command(
        sub,
        "deploy",
        "request a canary deployment of FUNCTION's version on the local engine",
        [
            "controlroom deploy orders-api --version 3",
            "controlroom deploy orders-api --version 3 --sha256 BASE64SHA --wait",
        ],
        "With --wait, exit 0 when the candidate was promoted (or would have been, in shadow mode), else 1.",
    )
    deploy.add_argument("function_name", metavar="FUNCTION", help="the Lambda function to deploy")
    deploy.add_argument("--version", required=True, help="the candidate version (published)")
    deploy.add_argument("--alias", default="live", help="the alias the canary shifts (default live)")
    deploy.add_argument("--sha256", help="expected CodeSha256 of the candidate (base64)")
    deploy.add_argument("--break-glass", action="store_true", help="ask to deploy during a change freeze")
    deploy.add_argument("--wait", action="store_true", help="wait for the deployment to finish")
    deploy.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits (default 300)")
    deploy.set_defaults(func=cmd_deploy)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_deployment_demo(sys.argv[1] if len(sys.argv) > 1 else "healthy"))
