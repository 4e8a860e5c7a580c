"""Per-incident figures on the happy path (approve): state transitions, Lambda invocations, DynamoDB writes,
and the wall time of one local incident end to end."""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from controlroom.aws import reset_clients
from controlroom.local import executor
from controlroom.local.engine import LocalEngine, synth
from controlroom.local.world import load_event, restamp

REPO = Path(__file__).resolve().parents[1]
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
dynamodb_calls: collections.Counter[str] = collections.Counter()


def _count(model: Any, **_: Any) -> None:
    dynamodb_calls[model.name] += 1


def main() -> None:
    started = time.perf_counter()
    cdk_out = synth("local", Path(tempfile.mkdtemp()) / "cdk.out", quiet=True)
    synth_s = time.perf_counter() - started
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", _count)  # type: ignore[union-attr]
    reset_clients()
    started = time.perf_counter()
    engine = LocalEngine(cdk_out=cdk_out).start()
    start_s = time.perf_counter() - started
    client = engine.client
    assert client is not None
    try:
        dynamodb_calls.clear()
        executor.INVOCATIONS.clear()
        started = time.perf_counter()
        arn = client.fire(restamp(load_event(REPO / "events" / "alarm_lambda_errors.json")))[0]
        incident_id = client.incident_id(arn)
        assert incident_id
        approval = client.wait_for_approval(incident_id, arn)
        to_approval_s = time.perf_counter() - started
        client.decide(approval.approval_id, "approve", "cli:bench")
        view = client.wait(arn, timeout=120)
        total_s = time.perf_counter() - started
        history = client.history(arn)
    finally:
        engine.stop()
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    agent_writes = {op: n for op, n in dynamodb_calls.items() if op in WRITES}
    print(f"one incident on the local engine, happy path (approve) -> {view.terminal_state}")
    print(f"  state transitions          {transitions}")
    print(
        f"  Lambda invocations         {len(executor.INVOCATIONS)} "
        f"({', '.join(inv.agent for inv in executor.INVOCATIONS)})"
    )
    print(f"  DynamoDB writes            {sum(agent_writes.values())} {dict(sorted(agent_writes.items()))}")
    print(f"  DynamoDB reads             {sum(n for op, n in dynamodb_calls.items() if op not in WRITES)}")
    print(f"  wall time alarm->approval  {to_approval_s:.2f} s")
    print(
        f"  wall time alarm->{view.terminal_state:<9} {total_s:.2f} s (includes the Verify wait of the local env)"
    )
    print(f"  engine start + deploy      {start_s:.2f} s; cdk synth (pinned CLI) {synth_s:.2f} s")
    if view.terminal_state != "Resolved":
        sys.exit(1)


if __name__ == "__main__":
    main()
