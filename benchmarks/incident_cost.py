"""Per-incident figures on the local engine, and what they would cost in AWS at list prices.

Three scenarios run on one engine (the real stack deployed into moto, handlers in this process):
the happy path (alarm, approval, approve, Resolved), a duplicate alarm while that incident is open,
and a storm of STORM copies of one alarm. Each prints Step Functions state transitions, Lambda
invocations, DynamoDB round trips and request units by operation, then the cost with the arithmetic.
The peak resident memory of this process, which is the engine `controlroom up` runs plus the client
driving it, is printed after the storm.

The figures are robust to where duplicates are stopped: executions are whatever the events started
(none if duplicates are dropped before StartExecution), invocations are whatever ran.

Usage: ``python benchmarks/incident_cost.py [STORM]`` (default 1000).
"""

from __future__ import annotations

import functools
import json
import math
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controlroom.aws import reset_clients
from controlroom.local import executor
from controlroom.local.client import EngineClient
from controlroom.local.engine import LocalEngine, synth
from controlroom.local.world import load_event, restamp
from dynamo_meter import DynamoMeter, Usage

REPO = Path(__file__).resolve().parents[1]
STORM = 1000
MEMORY_BOUND_MIB = 1024
# AWS list prices, us-east-1, as published on the service pricing pages (DynamoDB after its 2024-11-01
# on-demand reduction), used as of 2026-12-01; free tiers ignored. Lambda x86, no provisioned concurrency.
PRICE_DATE = "2026-12-01"
SFN_STANDARD_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667
DYNAMODB_PER_WRU = 0.625 / 1_000_000
DYNAMODB_PER_RRU = 0.125 / 1_000_000


@dataclass
class Figures:
    """What one scenario cost: its executions' history, the invocations that ran, DynamoDB by operation."""

    name: str
    executions: list[str] = field(default_factory=list)
    transitions: int = 0
    invocations: list[executor.InvocationLog] = field(default_factory=list)
    dynamodb: dict[str, Usage] = field(default_factory=dict)
    outcome: str = ""


class Recorder:
    """Windows over the engine's counters: everything between ``begin`` and ``end`` is one scenario."""

    def __init__(self, meter: DynamoMeter) -> None:
        self._meter = meter
        self._invocations = 0

    def begin(self) -> None:
        self._meter.reset()
        self._invocations = len(executor.INVOCATIONS)

    def end(self, figures: Figures) -> Figures:
        for op, usage in self._meter.snapshot().items():
            total = figures.dynamodb.setdefault(op, Usage())
            total.calls += usage.calls
            total.read_units += usage.read_units
            total.write_units += usage.write_units
        figures.invocations += executor.INVOCATIONS[self._invocations :]
        return figures


def billed_transitions(history: list[dict[str, Any]]) -> int:
    """States entered plus task retries: what Standard workflows bill."""
    entered = sum(1 for event in history if event["type"].endswith("StateEntered"))
    tasks = sum(1 for event in history if event["type"] == "TaskStateEntered")
    attempts = sum(1 for event in history if event["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
    return entered + max(0, attempts - tasks)


def _settle(
    client: EngineClient, started: set[str], quiet_seconds: float = 2.0, timeout: float = 900
) -> None:
    """Wait until no handler has run for ``quiet_seconds`` and only executions parked on a token still run."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = len(executor.INVOCATIONS), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        if len(executor.INVOCATIONS) != seen:
            seen, quiet_since = len(executor.INVOCATIONS), time.monotonic()
            continue
        if time.monotonic() - quiet_since < quiet_seconds:
            continue
        running = [arn for arn in _executions(client) - started if client.describe(arn).status == "RUNNING"]
        if all(client.current_state(arn) == "RequestApproval" for arn in running):
            return
    raise TimeoutError("the engine did not settle")


def _executions(client: EngineClient) -> set[str]:
    return set(client.executions())


def _put(client: EngineClient, events: list[dict[str, Any]]) -> None:
    entries = [
        {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event.get("resources", []),
        }
        for event in events
    ]
    bus = client.aws("events")
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        bus.put_events(Entries=entries[start : start + 10])


def _count_transitions(client: EngineClient, figures: Figures) -> None:
    figures.transitions = sum(billed_transitions(client.history(arn)) for arn in figures.executions)


def happy_path_and_duplicate(
    client: EngineClient, recorder: Recorder, alarm: dict[str, Any]
) -> list[Figures]:
    happy, duplicate = Figures("happy path (approve)"), Figures("duplicate alarm while open")
    before = _executions(client)
    recorder.begin()
    _put(client, [restamp(alarm)])
    deadline = time.monotonic() + 60
    while not (new := _executions(client) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    (arn,) = new
    incident_id = client.incident_id(arn)
    assert incident_id, "the alarm opened no incident"
    approval = client.wait_for_approval(incident_id, arn)
    recorder.end(happy)
    # The same alarm again while the incident waits for approval
    before = _executions(client)
    recorder.begin()
    _put(client, [restamp(alarm)])
    _settle(client, before)
    duplicate.executions = sorted(_executions(client) - before)
    recorder.end(duplicate)
    duplicate.outcome = ", ".join(
        sorted({client.describe(a).terminal_state or "?" for a in duplicate.executions})
    )
    recorder.begin()
    client.decide(approval.approval_id, "approve", "cli:bench")
    view = client.wait(arn, timeout=180)
    recorder.end(happy)
    happy.executions, happy.outcome = [arn], view.terminal_state or view.status
    for figures in (happy, duplicate):
        _count_transitions(client, figures)
    return [happy, duplicate]


def storm(client: EngineClient, recorder: Recorder, alarm: dict[str, Any], size: int) -> Figures:
    figures = Figures(f"storm of {size} copies of one alarm")
    before = _executions(client)
    recorder.begin()
    stamped = restamp(alarm)
    _put(client, [stamped] * size)
    _settle(client, before)
    recorder.end(figures)
    figures.executions = sorted(_executions(client) - before)
    _count_transitions(client, figures)
    states: dict[str, int] = {}
    for arn in figures.executions:
        view = client.describe(arn)
        key = view.terminal_state or f"{view.status} at {client.current_state(arn)}"
        states[key] = states.get(key, 0) + 1
    figures.outcome = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return figures


def _memory_of(client: EngineClient) -> Callable[[str], int]:
    lambda_, sizes = client.aws("lambda"), {}

    def memory_mb(function_name: str) -> int:
        if function_name not in sizes:
            sizes[function_name] = int(
                lambda_.get_function_configuration(FunctionName=function_name)["MemorySize"]
            )
        return sizes[function_name]

    return memory_mb


def report(figures: Figures, memory_mb: Callable[[str], int]) -> None:
    by_agent: dict[str, int] = {}
    for invocation in figures.invocations:
        by_agent[invocation.agent] = by_agent.get(invocation.agent, 0) + 1
    gb_seconds = sum(
        math.ceil(inv.duration_ms) / 1000 * memory_mb(inv.function_name) / 1024 for inv in figures.invocations
    )
    reads = sum(u.read_units for u in figures.dynamodb.values())
    writes = sum(u.write_units for u in figures.dynamodb.values())
    calls = sum(u.calls for u in figures.dynamodb.values())
    n = len(figures.invocations)
    print(f"-- {figures.name}: {len(figures.executions)} executions -> {figures.outcome or 'none started'}")
    print(f"  state transitions      {figures.transitions}")
    print(f"  Lambda invocations     {n} ({', '.join(f'{a} {c}' for a, c in sorted(by_agent.items()))})")
    print(f"  Lambda compute         {gb_seconds:.3f} GB-s (local durations x configured memory)")
    print(f"  DynamoDB               {calls} round trips, {reads:g} RRU, {writes:g} WRU")
    for op, usage in sorted(figures.dynamodb.items()):
        print(f"    {op:<20} {usage.calls:5d} calls  {usage.read_units:7g} RRU  {usage.write_units:7g} WRU")
    lines = [
        (
            "Step Functions",
            f"{figures.transitions} transitions x ${SFN_STANDARD_PER_TRANSITION:.6f}",
            figures.transitions * SFN_STANDARD_PER_TRANSITION,
        ),
        ("Lambda requests", f"{n} x ${LAMBDA_PER_REQUEST:.7f}", n * LAMBDA_PER_REQUEST),
        (
            "Lambda compute",
            f"{gb_seconds:.3f} GB-s x ${LAMBDA_PER_GB_SECOND:.10f}",
            gb_seconds * LAMBDA_PER_GB_SECOND,
        ),
        ("DynamoDB reads", f"{reads:g} RRU x ${DYNAMODB_PER_RRU:.9f}", reads * DYNAMODB_PER_RRU),
        ("DynamoDB writes", f"{writes:g} WRU x ${DYNAMODB_PER_WRU:.9f}", writes * DYNAMODB_PER_WRU),
    ]
    for label, arithmetic, dollars in lines:
        print(f"  {label:<16} {arithmetic:<40} = ${dollars:.6f}")
    print(f"  {'total':<16} {'':<40} = ${sum(d for _, _, d in lines):.6f}")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(storm_size: int = STORM) -> int:
    started = time.perf_counter()
    cdk_out = synth("local", Path(tempfile.mkdtemp()) / "cdk.out", quiet=True)
    synth_s = time.perf_counter() - started
    boto3.setup_default_session()
    meter = DynamoMeter().install(boto3.DEFAULT_SESSION.events)  # type: ignore[union-attr]
    reset_clients()
    started = time.perf_counter()
    engine = LocalEngine(cdk_out=cdk_out).start()
    start_s = time.perf_counter() - started
    client = engine.client
    assert client is not None
    # One client per service for the whole run: creating one reads os.environ, which the engine's
    # executor rewrites around every handler call on other threads.
    client.aws = functools.cache(client.aws)  # type: ignore[method-assign]
    # The meter's own reads (sizing an item after an update) go through a session it does not meter.
    meter.reader = boto3.Session().client(
        "dynamodb",
        endpoint_url=client.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    alarm = load_event(REPO / "events" / "alarm_lambda_errors.json")
    recorder = Recorder(meter)
    try:
        started = time.perf_counter()
        scenarios = happy_path_and_duplicate(client, recorder, alarm)
        happy_s = time.perf_counter() - started
        rss_before_storm = _peak_rss_mib()
        started = time.perf_counter()
        scenarios.append(storm(client, recorder, alarm, storm_size))
        storm_s = time.perf_counter() - started
        memory_mb = _memory_of(client)
        print(f"per-incident figures on the local engine; costs at AWS list prices (us-east-1, {PRICE_DATE})")
        for figures in scenarios:
            report(figures, memory_mb)
    finally:
        engine.stop()
    peak = _peak_rss_mib()
    verdict = "ok" if peak < MEMORY_BOUND_MIB else f"OVER {MEMORY_BOUND_MIB} MiB"
    print(
        f"-- engine process (what `controlroom up` runs, plus this client): peak RSS {peak:.0f} MiB "
        f"({rss_before_storm:.0f} MiB before the storm) {verdict}"
    )
    print(
        f"  wall time: happy path + duplicate {happy_s:.1f} s (includes the local Verify wait), "
        f"storm {storm_s:.1f} s; engine start + deploy {start_s:.1f} s; cdk synth {synth_s:.1f} s"
    )
    happy = scenarios[0]
    return 0 if happy.outcome == "Resolved" and peak < MEMORY_BOUND_MIB else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else STORM))
