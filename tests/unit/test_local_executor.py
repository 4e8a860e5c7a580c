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
