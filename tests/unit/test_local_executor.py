"""The in-process executor: invocations run at the same time, each with its own function's environment."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from controlroom.local import executor

PROBE = """
import os
import threading

BARRIER = threading.Barrier(2, timeout=10)


def handler(event, context):
    BARRIER.wait()  # both invocations are inside their handlers now
    os.environ["WRITTEN_BY"] = event["name"]
    seen = {"probe": os.environ.get("PROBE"), "getenv": os.getenv("PROBE")}
    BARRIER.wait()  # neither has left, so neither environment was restored in between
    return {**seen, "written": os.environ["WRITTEN_BY"]}
"""


@pytest.fixture
def probe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A checkout holding one extra handler, functions/env_probe/handler.py."""
    (tmp_path / "stepfunctions").mkdir()
    (tmp_path / "functions" / "env_probe").mkdir(parents=True)
    (tmp_path / "functions" / "env_probe" / "handler.py").write_text(PROBE)
    monkeypatch.setenv("CONTROLROOM_HOME", str(tmp_path))
    monkeypatch.delenv("CONTROLROOM_LOG_DIR", raising=False)
    monkeypatch.delitem(executor._MODULES, "env_probe", raising=False)
    yield "env_probe"
    executor._MODULES.pop("env_probe", None)


def test_two_functions_run_at_once_each_with_its_own_environment(probe_home):
    # Given two functions whose environments set PROBE differently
    results: dict[str, tuple[str, bool, str]] = {}

    def invoke(name: str) -> None:
        results[name] = executor.invoke(
            probe_home, {"name": name}, function_name=f"fn-{name}", environment={"PROBE": f"value-{name}"}
        )

    # When both are invoked at the same moment (each handler waits for the other to be inside)
    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then neither waited in a queue (a serialising executor breaks the barrier) and neither errored
    assert {name: errored for name, (_, errored, _) in results.items()} == {"a": False, "b": False}, results
    # And each saw only its own environment, its own writes included
    for name, (payload, _, _) in results.items():
        assert json.loads(payload) == {"probe": f"value-{name}", "getenv": f"value-{name}", "written": name}
    # And the process environment is untouched
    assert "PROBE" not in os.environ and "WRITTEN_BY" not in os.environ


POWERTOOLS_PROBE = """
from aws_lambda_powertools.metrics import MetricUnit

from controlroom.runtime import logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    for index in range(30):
        metrics.add_metric(name=f"Probe{index}", unit=MetricUnit.Count, value=1)
        logger.append_keys(**{f"key{event['n'] % 7}": index})
        logger.info("probe")
    return {"n": event["n"]}
"""


def test_concurrent_invocations_share_powertools_state_without_crashing(tmp_path, monkeypatch):
    # Given a handler that adds metrics and log keys under Powertools' decorators
    (tmp_path / "stepfunctions").mkdir()
    (tmp_path / "functions" / "pt_probe").mkdir(parents=True)
    (tmp_path / "functions" / "pt_probe" / "handler.py").write_text(POWERTOOLS_PROBE)
    monkeypatch.setenv("CONTROLROOM_HOME", str(tmp_path))
    monkeypatch.delenv("CONTROLROOM_LOG_DIR", raising=False)
    monkeypatch.delitem(executor._MODULES, "pt_probe", raising=False)
    errors: list[str] = []

    def invoke_many(worker: int) -> None:
        for n in range(40):
            payload, errored, _ = executor.invoke(
                "pt_probe", {"n": worker * 100 + n}, function_name=f"pt-{worker}", environment={}
            )
            if errored:
                errors.append(payload)

    # When eight threads invoke it at the same time, again and again
    threads = [threading.Thread(target=invoke_many, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    executor._MODULES.pop("pt_probe", None)
    # Then no invocation failed on Powertools' shared dicts
    assert errors == []
