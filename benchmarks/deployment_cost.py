"""Per-deployment figures on the local engine: state transitions, Lambda invocations, DynamoDB writes of the
deployment's agents, and the local time from the request to the first traffic shift, for a healthy candidate
(Promoted), a regressing one (RolledBack, incident opened) and a checksum mismatch (Refused)."""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from controlroom.aws import reset_clients
from controlroom.contracts.deployment import DEPLOYMENT_AGENTS
from controlroom.local import executor
from controlroom.local.deploy_cli import Deployments, request_event
from controlroom.local.deploy_world import DEPLOY_ALIAS, DEPLOY_FUNCTION, HEALTHY_VERSION, REGRESSING_VERSION
from controlroom.local.engine import LocalEngine, synth

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
DEPLOY_AGENTS = frozenset(DEPLOYMENT_AGENTS)
# DynamoDB calls by the agent that made them (the executor sets AGENT_NAME while a handler runs).
dynamodb_calls: collections.Counter[tuple[str, str]] = collections.Counter()


def _count(model: Any, **_: Any) -> None:
    dynamodb_calls[(os.environ.get("AGENT_NAME", "-"), model.name)] += 1


def _first_shift_seconds(
    client: Any, started: float, execution_arn: str, timeout: float = 60.0
) -> float | None:
    """Seconds from the request until the alias first routes weight to a candidate (None: never)."""
    lam = client.aws("lambda")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alias = lam.get_alias(FunctionName=DEPLOY_FUNCTION, Name=DEPLOY_ALIAS)
        if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            return time.perf_counter() - started
        if client.describe(execution_arn).status != "RUNNING":
            return None
        time.sleep(0.02)
    return None


def _one(
    engine: LocalEngine, label: str, version: str, sha_of: str, expected: str, cold: bool = False
) -> bool:
    engine.redeploy(seed_world=True)
    client = engine.client
    assert client is not None
    sha = client.aws("lambda").get_function_configuration(FunctionName=DEPLOY_FUNCTION, Qualifier=sha_of)[
        "CodeSha256"
    ]
    dynamodb_calls.clear()
    executor.INVOCATIONS.clear()
    started = time.perf_counter()
    arn = Deployments(client).request(
        request_event(DEPLOY_FUNCTION, version, sha256=sha, requested_by="bench")
    )
    to_shift = _first_shift_seconds(client, started, arn)
    view = client.wait(arn, timeout=180)
    total_s = time.perf_counter() - started
    history = client.history(arn)
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    invocations = [inv.agent for inv in executor.INVOCATIONS if inv.agent in DEPLOY_AGENTS]
    others = [inv.agent for inv in executor.INVOCATIONS if inv.agent not in DEPLOY_AGENTS]
    writes: collections.Counter[str] = collections.Counter()
    for (agent, op), n in dynamodb_calls.items():
        if agent in DEPLOY_AGENTS and op in WRITES:
            writes[op] += n
    print(f"{label}: version {version} -> {view.terminal_state} (expected {expected})")
    print(f"  state transitions            {transitions}")
    print(f"  Lambda invocations           {len(invocations)} ({', '.join(invocations)})")
    if others:
        print(f"  + incident flow so far       {len(others)} ({', '.join(others)})")
    print(f"  DynamoDB writes (deployment) {sum(writes.values())} {dict(sorted(writes.items()))}")
    shift = f"{to_shift:.2f} s" if to_shift is not None else "no traffic shifted"
    print(
        f"  request -> first shift       {shift}"
        + (" (first of the process: handler imports)" if cold else "")
    )
    print(f"  request -> {view.terminal_state:<17} {total_s:.2f} s (includes the local bakes)")
    return view.terminal_state == expected


def main() -> None:
    cdk_out = synth("local", Path(tempfile.mkdtemp()) / "cdk.out", quiet=True)
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", _count)  # type: ignore[union-attr]
    reset_clients()
    engine = LocalEngine(cdk_out=cdk_out).start(seed_world=False)
    try:
        results = [
            _one(engine, "healthy", HEALTHY_VERSION, HEALTHY_VERSION, "Promoted", cold=True),
            _one(engine, "regression", REGRESSING_VERSION, REGRESSING_VERSION, "RolledBack"),
            _one(engine, "checksum mismatch", HEALTHY_VERSION, REGRESSING_VERSION, "Refused"),
        ]
    finally:
        engine.stop()
    if not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
