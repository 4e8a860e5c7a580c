"""The local engine for end-to-end tests: synthesized once per session, a clean account per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlroom.local.client import EngineClient, ExecutionView
from controlroom.local.engine import LocalEngine, cdk_available, synth
from controlroom.local.world import load_event, restamp
from tests.run_once import build_once

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"


def _require_cdk() -> None:
    if not cdk_available():
        message = "the pinned CDK CLI is not installed (run `npm ci`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def shared_synth(
    tmp_path_factory: pytest.TempPathFactory, config: pytest.Config, env: str, **overrides: Any
) -> Path:
    """cdk.out for ``env`` with ``overrides``, synthesized through the pinned CLI once per run for all workers.

    The engine only reads a cdk.out, so every worker deploys the same one.
    """
    _require_cdk()
    context = ",".join(f"{key}={value}" for key, value in sorted(overrides.items()))
    shared = build_once(
        tmp_path_factory,
        config,
        f"cdk.out.{env}.{context}" if context else f"cdk.out.{env}",
        lambda directory: synth(env, directory / "cdk.out", overrides=overrides or None, quiet=True),
        f"synthesizing env={env} {context}".rstrip() + " for the e2e tests (once per run)",
    )
    return shared / "cdk.out"


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """cdk.out for env=local, synthesized once per run through the pinned CLI."""
    return shared_synth(tmp_path_factory, pytestconfig, "local")


@pytest.fixture(scope="session")
def session_engine(cdk_out: Path) -> Iterator[LocalEngine]:
    engine = LocalEngine(env="local", cdk_out=cdk_out)
    engine.start(seed_world=False)
    yield engine
    engine.stop()


@pytest.fixture
def engine(session_engine: LocalEngine) -> LocalEngine:
    """A clean local account: the stack deployed again and the demo workload seeded."""
    return session_engine.redeploy(seed_world=True)


@pytest.fixture
def client(engine: LocalEngine) -> EngineClient:
    assert engine.client is not None
    return engine.client


def alarm_event(name: str = "alarm_lambda_errors.json") -> dict:
    """A sample event with its timestamps set to now."""
    return restamp(load_event(EVENTS / name))


def fire_one(client: EngineClient, event: dict) -> str:
    started = client.fire(event)
    assert len(started) == 1, f"expected the rule to start one execution, got {started}"
    return started[0]


def history_states(client: EngineClient, execution_arn: str) -> list[str]:
    """Names of the states the execution entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in client.history(execution_arn)
        if e["type"].endswith("StateEntered")
    ]


def finished(client: EngineClient, execution_arn: str, timeout: float = 90.0) -> ExecutionView:
    return client.wait(execution_arn, timeout=timeout)
