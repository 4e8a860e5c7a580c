"""Cost of one hop through run_agent beside a bare pass-through hop, on the local engine (moto's interpreter).

Three state machines of ``HOPS`` sequential Lambda tasks run alternately on one moto server in this
process: one whose function is a pass-through handler (a bare hop: a transition, an Invoke, JSON in
and out), one whose function is a trivial agent wrapped like every real one (Powertools decorators,
run_agent: settings, input and output contracts, decision record, timeline step, metrics), and a
*floor*: the pass-through handler plus the AWS round trips a durable, keyed decision record cannot do
without (one DynamoDB write and one KMS GenerateMac), with the smallest payloads. The bound of issue 14
is an agent hop at most 1.5x a bare hop; floor / bare says what the engine charges for the record's
round trips alone, agent / floor what our runtime adds above them.

The timed rounds run with the meters paused. A separate metered pass of the agent machine then counts
round trips and request units per hop (sizing items takes reads of its own, which must not be timed).

Usage: ``python benchmarks/hop_cost.py [ROUNDS]`` (default 7).
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controlroom.aws import client, reset_clients
from controlroom.contracts import IntakeResult
from controlroom.contracts.base import Contract, LenientInput
from controlroom.local import executor
from controlroom.local.server import local_client, start_server
from controlroom.local.world import load_event, restamp
from controlroom.runtime import AgentContext, AgentSpec, logger, metrics, run_agent, tracer
from controlroom.settings import Settings
from controlroom.store.tables import create_tables
from dynamo_meter import DynamoMeter

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 7
METERED = 2  # agent executions of the metered pass (round trips and units per hop)
HOPS = 8
BOUND = 1.5
ROLE = "arn:aws:iam::123456789012:role/controlroom-bench"
TABLES = {"CHECKPOINT_TABLE": "bench-checkpoint", "AUDIT_TABLE": "bench-audit"}
# The audit chain's HMAC key, when the runtime keys its chain heads (AUDIT_KEY_ID); filled in by main().
_KEY: dict[str, str] = {}


class HopInput(LenientInput):
    """The flow state after Intake, as every later agent reads it."""

    intake: IntakeResult


class HopOutput(Contract):
    incident_id: str


def _pass_on(request: HopInput, ctx: AgentContext) -> HopOutput:
    assert request.intake.incident is not None
    return HopOutput(incident_id=request.intake.incident.incident_id)


HOP = AgentSpec(name="hop", input_model=HopInput, output_model=HopOutput, logic=_pass_on)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def agent_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_agent(HOP, event, context)


def bare_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"incident_id": event["intake"]["incident"]["incident_id"]}


def floor_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A bare hop plus one minimal DynamoDB write and one KMS MAC: what recording a hop costs at the least."""
    client("dynamodb").put_item(
        TableName=TABLES["AUDIT_TABLE"], Item={"chain_id": {"S": "floor"}, "seq": {"N": "1"}}
    )
    if _KEY:
        client("kms").generate_mac(KeyId=_KEY["AUDIT_KEY_ID"], MacAlgorithm="HMAC_SHA_256", Message=b"floor")
    return bare_handler(event, context)


calls: Counter[str] = Counter()
counting = False


def _count_call(model: Any, **_: Any) -> None:
    if counting:
        calls[f"{model.service_model.service_id} {model.name}"] += 1


def _register(agent: str, handler: Any) -> None:
    # The executor imports functions/<agent>/handler.py once and keeps the module; these two live here.
    module = ModuleType(f"controlroom_function_{agent}")
    module.handler = handler  # type: ignore[attr-defined]
    executor._MODULES[agent] = module


def _function(lambda_: Any, name: str, agent: str) -> str:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
    response = lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {**TABLES, **_KEY, "AGENT_NAME": agent, "ENVIRONMENT": "bench"}},
    )
    return str(response["FunctionArn"])


def _machine(sfn: Any, name: str, function_arn: str) -> str:
    states = {
        f"Hop{i}": {
            "Type": "Task",
            "Resource": function_arn,
            "ResultPath": f"$.hop{i}",
            **({"Next": f"Hop{i + 1}"} if i < HOPS else {"End": True}),
        }
        for i in range(1, HOPS + 1)
    }
    definition = {"StartAt": "Hop1", "States": states}
    response = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    return str(response["stateMachineArn"])


_ended: dict[str, threading.Event] = {}


def _signal_ends() -> None:
    """Wake the benchmark when an execution ends, instead of polling (a poll is CPU the hop is charged)."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        _ended.setdefault(self.execution.exec_arn, threading.Event()).set()

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def _run(sfn: Any, machine: str, state: dict[str, Any]) -> tuple[float, float]:
    """Run one execution; wall seconds and CPU seconds of this process (every thread) while it ran."""
    started, cpu_started = time.perf_counter(), time.process_time()
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(state))["executionArn"]
    if not _ended.setdefault(arn, threading.Event()).wait(timeout=120):
        raise RuntimeError(f"{machine}: still running after 120 s")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    status = sfn.describe_execution(executionArn=arn)["status"]
    if status != "SUCCEEDED":
        raise RuntimeError(f"{machine}: {status}")
    return elapsed, cpu


def _opened_state(lambda_: Any, function_name: str) -> dict[str, Any]:
    event = restamp(load_event(REPO / "events" / "alarm_lambda_errors.json"))
    payload = lambda_.invoke(FunctionName=function_name, Payload=json.dumps({"event": event}))["Payload"]
    intake = json.loads(payload.read())
    if intake.get("outcome") != "opened":
        raise RuntimeError(f"intake did not open an incident: {intake}")
    return {"intake": intake}


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:5.1f} ms [{min(values) * 1000:5.1f}-{max(values) * 1000:5.1f}]"


def _ratio(
    seconds: dict[str, list[float]], top: str = "agent", base: str = "bare"
) -> tuple[float, float, float]:
    """Median over median, and the min and max of the same-round ratios (each round ran them back to back)."""
    per_round = [a / b for a, b in zip(seconds[top], seconds[base], strict=True)]
    return (
        statistics.median(seconds[top]) / statistics.median(seconds[base]),
        min(per_round),
        max(per_round),
    )


def _x(seconds: dict[str, list[float]], top: str = "agent", base: str = "bare") -> str:
    median, low, high = _ratio(seconds, top, base)
    return f"x{median:.2f} [{low:.2f}-{high:.2f}]"


def main(rounds: int = ROUNDS) -> int:
    global counting
    server = start_server(0)
    try:
        boto3.setup_default_session()
        # The meter sizes updated items through a session of its own, so its reads are not metered.
        reader = boto3.Session().client(
            "dynamodb",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        meter = DynamoMeter(reader).install(boto3.DEFAULT_SESSION.events)  # type: ignore[union-attr]
        boto3.DEFAULT_SESSION.events.register("before-call", _count_call)  # type: ignore[union-attr]
        reset_clients()
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        create_tables(dynamodb, TABLES["CHECKPOINT_TABLE"], TABLES["AUDIT_TABLE"])
        lambda_, sfn = local_client("lambda", server.url), local_client("stepfunctions", server.url)
        trust = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
        local_client("iam", server.url).create_role(
            RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust)
        )
        if "AUDIT_KEY_ID" in Settings.model_fields:
            key = local_client("kms", server.url).create_key(
                KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
            )
            _KEY["AUDIT_KEY_ID"] = key["KeyMetadata"]["Arn"]
        _register("hop_bare", bare_handler)
        _register("hop_agent", agent_handler)
        _register("hop_floor", floor_handler)
        _function(lambda_, "bench-intake", "intake")
        machines = {
            "bare": _machine(sfn, "bench-bare", _function(lambda_, "bench-bare", "hop_bare")),
            "floor": _machine(sfn, "bench-floor", _function(lambda_, "bench-floor", "hop_floor")),
            "agent": _machine(sfn, "bench-agent", _function(lambda_, "bench-agent", "hop_agent")),
        }
        state = _opened_state(lambda_, "bench-intake")
        _signal_ends()
        for machine in machines.values():  # imports, client creation, first schema builds: not measured
            _run(sfn, machine, state)
        wall: dict[str, list[float]] = {kind: [] for kind in machines}
        cpu: dict[str, list[float]] = {kind: [] for kind in machines}
        meter.active = False
        for _ in range(rounds):
            for kind, machine in machines.items():
                elapsed, used = _run(sfn, machine, state)
                wall[kind].append(elapsed / HOPS)
                cpu[kind].append(used / HOPS)
        meter.reset()
        calls.clear()
        meter.active, counting = True, True
        for _ in range(METERED):
            _run(sfn, machines["agent"], state)
        meter.active, counting = False, False
        usage = meter.snapshot()
    finally:
        server.stop()
    ratio = _ratio(cpu)[0]
    agent_hops = METERED * HOPS
    print(
        f"one hop on the local engine: median [min-max] of {rounds} alternating rounds of {HOPS} hops each. "
        "CPU time of the engine process decides the bound (wall time on a shared machine measures the "
        "neighbours too)."
    )
    for kind in ("bare", "floor", "agent"):
        print(f"  {kind + ' hop':<10} CPU {_ms(cpu[kind])}   wall {_ms(wall[kind])}")
    verdict = "ok" if ratio <= BOUND else f"OVER x{BOUND}"
    print(f"  agent / bare CPU {_x(cpu)} (bound x{BOUND}) {verdict}   wall {_x(wall)}")
    print(
        f"  floor / bare CPU {_x(cpu, 'floor')}: the record's two round trips alone, on this engine; "
        f"agent / floor CPU {_x(cpu, 'agent', 'floor')}: what run_agent adds above them"
    )
    trips = {op: u.calls / agent_hops for op, u in sorted(usage.items())}
    print(
        f"  DynamoDB round trips per agent hop: {sum(trips.values()):.1f} "
        f"({', '.join(f'{op} {n:.1f}' for op, n in trips.items())})"
    )
    others = {
        name: n / agent_hops
        for name, n in sorted(calls.items())
        if not name.startswith(("DynamoDB", "Lambda", "SFN"))
    }
    if others:
        print(
            f"  other AWS round trips per agent hop: {', '.join(f'{name} {n:.1f}' for name, n in others.items())}"
        )
    return 0 if ratio <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
