"""`controlroom demo` as a user runs it: a process with no terminal, and a full run on a warm synth cache.

Only the full run is marked e2e: the preflight tests start no engine and take a second or two, so they
also run where the e2e tests are deselected.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The preflight's promise: a run that cannot work says so within this many seconds (interpreter start included).
PREFLIGHT_SECONDS = 5.0


def _controlroom(*args: str, timeout: float = 300.0) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {**os.environ, "PYTHONPATH": str(REPO / "layers")}
    environ.pop("CONTROLROOM_HOME", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "controlroom.local.cli", *args],
        cwd=REPO,
        env=environ,
        stdin=subprocess.DEVNULL,  # not a terminal
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - started


def test_demo_without_a_terminal_or_decision_fails_within_5_seconds() -> None:
    # Given no terminal on stdin and no --decision
    # When `controlroom demo` runs
    result, elapsed = _controlroom("demo", timeout=60)
    # Then it exits with the usage code at once, saying what to pass, and did no work
    assert result.returncode == 2, result.stderr
    assert "no terminal to ask on: pass --decision approve|reject" in result.stderr
    assert elapsed < PREFLIGHT_SECONDS, f"took {elapsed:.1f}s"
    assert "synthesizing" not in result.stdout + result.stderr


def test_up_on_a_taken_port_and_an_unknown_env_fail_within_5_seconds() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        taken, taken_elapsed = _controlroom("up", "--port", str(port), timeout=60)
    unknown, unknown_elapsed = _controlroom("up", "--env", "qa", timeout=60)
    assert taken.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in taken.stderr
    assert unknown.returncode == 2
    assert "invalid choice: 'qa' (choose from 'dev', 'local', 'prod', 'staging')" in unknown.stderr
    assert max(taken_elapsed, unknown_elapsed) < PREFLIGHT_SECONDS


@pytest.mark.e2e
def test_demo_on_a_warm_cache_shows_the_plan_and_progress(cdk_out: Path) -> None:
    # Given the session's synthesis of env=local, which filled the synth cache for the same inputs
    # When the demo runs with a decision and no terminal
    result, elapsed = _controlroom("demo", "--decision", "approve")
    # Then it reaches the expected end
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # And it reused the cached synthesis instead of running the CDK CLI
    assert "reusing the synthesized app in build/cdk.out.cache/local-" in result.stderr
    assert "synthesizing the CDK app (env=local) with the pinned CDK CLI" not in result.stderr
    # And the plan (action, target, from -> to, risk) came before the decision
    out = result.stdout
    plan = out.index("rollback_lambda_alias lambda:checkout-api:live: version 2 -> 1 (risk medium")
    assert plan < out.index("approve (decided by cli:")
    assert out.index("approval requested") < plan
    print(f"demo on a warm cache: {elapsed:.1f}s")
