"""Cold import time of each agent handler as Lambda loads it, beside two bare handlers (fresh interpreter each run).

Lambda imports the handler module in a fresh interpreter with ``LAMBDA_TASK_ROOT`` set and, for our
functions, tracing Active (no ``POWERTOOLS_TRACE_DISABLED``), so this benchmark does the same. The two
baselines are a handler that imports only boto3, and a bare *typed* handler: boto3 plus pydantic with
one model, which is the floor of any handler that validates its input. Runs alternate between targets
(one round imports every target once, each right after an import of the typed baseline), so that load
on a shared machine spreads over all of them and a ratio compares imports that ran back to back; each
figure is the median with its min-max over the rounds. The bound of issue 14 is a handler's
median at most 1.2x the typed baseline's. Our handlers import with the garbage collector paused
(controlroom.coldstart); a third baseline imports the typed handler that way too, and the last column
compares each handler with it (the ratio of the two paired medians), so that what the pause alone buys
is visible.

Usage: ``python benchmarks/import_time.py [ROUNDS]`` (default 11).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 11
BOUND = 1.2
BOTO3 = "baseline:boto3"
TYPED = "baseline:boto3+pydantic"
# The same typed handler importing the way ours do (controlroom.coldstart: collector paused, then frozen), so
# that the figures show how much of a handler's lead over the bare one is that alone.
PAUSED = "baseline:boto3+pydantic:paused"
# What a probe reports besides its time: the heavy imports a handler must not load at init.
WATCHED = ("aws_xray_sdk", "anthropic")
_PROBE = """
import importlib.util, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
if sys.argv[1] == "baseline:boto3":
    import boto3  # noqa: F401
elif sys.argv[1].startswith("baseline:boto3+pydantic"):
    import gc
    if sys.argv[1].endswith(":paused"):
        gc.disable()
    import boto3  # noqa: F401
    from pydantic import BaseModel

    class Request(BaseModel):
        incident_id: str
        attempt: int = 0
    if sys.argv[1].endswith(":paused"):
        gc.freeze(); gc.enable()
else:
    sys.path.insert(0, sys.argv[2])
    spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(elapsed, cpu, *(name in sys.modules for name in sys.argv[3].split(",")))
"""
# What Lambda runs it on and what our CDK app sets (infra_cdk/components/agents.py), minus table names.
_LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "controlroom-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "POWERTOOLS_SERVICE_NAME": "controlroom",
    "POWERTOOLS_METRICS_NAMESPACE": "Controlroom",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "ENVIRONMENT": "bench",
}


@dataclass
class Samples:
    """The import times of one target over every round (wall and CPU seconds), and what it loaded."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    loaded: set[str] = field(default_factory=set)
    # The typed baseline's import run just before each of this target's, in the same round: the pair's
    # ratio cancels what a slow moment of a shared machine does to both.
    typed_wall: list[float] = field(default_factory=list)
    typed_cpu: list[float] = field(default_factory=list)


def lambda_environment(task_root: Path) -> dict[str, str]:
    """The environment of a probe: Lambda's variables, tracing Active, ``LAMBDA_TASK_ROOT`` set."""
    return {**_LAMBDA_ENV, "LAMBDA_TASK_ROOT": str(task_root), "PATH": os.environ.get("PATH", "")}


def probe(target: str, env: dict[str, str]) -> tuple[float, float, set[str]]:
    """Import ``target`` (a handler path or a baseline name) in a fresh interpreter.

    Returns wall seconds, CPU seconds of that interpreter, and which watched modules it loaded.
    """
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, target, str(REPO / "layers"), ",".join(WATCHED)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"{target}: {lines[-1]}")
    wall, cpu, *flags = result.stdout.split()
    return (
        float(wall),
        float(cpu),
        {name for name, flag in zip(WATCHED, flags, strict=True) if flag == "True"},
    )


def measure(targets: list[str], rounds: int, env: dict[str, str]) -> dict[str, Samples]:
    """Every target once per round, each right after an import of the typed baseline (its pair).

    The order is the same each round; every import is a fresh interpreter. The typed baseline's own
    samples are all its imports.
    """
    samples = {target: Samples() for target in targets}
    for target in targets:  # warm the page cache and write bytecode once; not measured
        probe(target, env)
    for _ in range(rounds):
        for target in targets:
            if target == TYPED:
                continue
            base_wall, base_cpu, _ = probe(TYPED, env)
            wall, cpu, loaded = probe(target, env)
            for sample, w, c in ((samples[TYPED], base_wall, base_cpu), (samples[target], wall, cpu)):
                sample.wall.append(w)
                sample.cpu.append(c)
            samples[target].typed_wall.append(base_wall)
            samples[target].typed_cpu.append(base_cpu)
            samples[target].loaded |= loaded
    return samples


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:4.0f} ms [{min(values) * 1000:3.0f}-{max(values) * 1000:3.0f}]"


def ratio(values: list[float], baseline: list[float]) -> tuple[float, float, float]:
    """Median over median, and the min and max of the same-round ratios."""
    per_round = [value / base for value, base in zip(values, baseline, strict=True)]
    return statistics.median(values) / statistics.median(baseline), min(per_round), max(per_round)


def paired(values: list[float], baseline: list[float]) -> tuple[float, float, float]:
    """The median, min and max of the ratios of pairs that ran back to back (value i right after base i)."""
    pairs = [value / base for value, base in zip(values, baseline, strict=True)]
    return statistics.median(pairs), min(pairs), max(pairs)


def _x(values: list[float], baseline: list[float], of: Any = ratio) -> str:
    median, low, high = of(values, baseline)
    return f"x{median:4.2f} [{low:4.2f}-{high:4.2f}]"


def main(rounds: int = ROUNDS) -> int:
    handlers = sorted((REPO / "functions").glob("*/handler.py"))
    targets = [BOTO3, TYPED, PAUSED, *(str(path) for path in handlers)]
    with tempfile.TemporaryDirectory() as task_root:
        samples = measure(targets, rounds, lambda_environment(Path(task_root)))
    boto3_only, typed, paused = samples[BOTO3], samples[TYPED], samples[PAUSED]
    print(
        f"handler import as Lambda loads it (LAMBDA_TASK_ROOT set, tracing Active), Python "
        f"{sys.version.split()[0]}: median [min-max] of {rounds} rounds; in a round every target is imported "
        "right after an import of the typed baseline, and the ratios to it are those pairs'. CPU time of the "
        "importing interpreter decides the bound (wall time on a shared machine measures the neighbours too)."
    )
    print(
        f"  {'':<22} {'CPU':<20} {'wall':<20} {'CPU / boto3':<19} {'CPU / typed':<19} {'wall / typed':<19} "
        "CPU / typed, paused"
    )
    print(f"  {'boto3 only':<22} {_ms(boto3_only.cpu):<20} {_ms(boto3_only.wall):<20}")
    print(
        f"  {'boto3 + pydantic model':<22} {_ms(typed.cpu):<20} {_ms(typed.wall):<20} "
        f"{_x(boto3_only.typed_cpu, boto3_only.cpu, paired)}"
    )
    print(
        f"  {'the same, gc paused':<22} {_ms(paused.cpu):<20} {_ms(paused.wall):<20} "
        f"{_x(paused.cpu, boto3_only.cpu)}  {_x(paused.cpu, paused.typed_cpu, paired)}"
    )
    # A handler's paired ratio over the paused baseline's: both against the same typed imports.
    paused_ratio = paired(paused.cpu, paused.typed_cpu)[0]
    over, worst = [], 0.0
    for path in handlers:
        handler, name = samples[str(path)], path.parent.name
        cpu_ratio = paired(handler.cpu, handler.typed_cpu)[0]
        worst = max(worst, cpu_ratio)
        verdict = "ok" if cpu_ratio <= BOUND else f"OVER x{BOUND}"
        if verdict != "ok":
            over.append(name)
        loads = f"  loads {', '.join(sorted(handler.loaded))}" if handler.loaded else ""
        print(
            f"  {name:<22} {_ms(handler.cpu):<20} {_ms(handler.wall):<20} {_x(handler.cpu, boto3_only.cpu)}  "
            f"{_x(handler.cpu, handler.typed_cpu, paired)}  {_x(handler.wall, handler.typed_wall, paired)}  "
            f"x{cpu_ratio / paused_ratio:4.2f}{'':<13}  {verdict}{loads}"
        )
    print(
        f"  worst handler x{worst:.2f} of the typed baseline (bound x{BOUND}); over: {', '.join(over) or 'none'}"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
