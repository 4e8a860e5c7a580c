"""defer_submodule: a dependency's submodule that its package imports for everyone runs only on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from controlroom.lazy import defer_submodule

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package whose __init__ imports a submodule that counts how often its code ran."""
    name = f"deferpkg_{os.getpid()}_{threading.get_ident()}_{tmp_path.name}".replace("-", "_")
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(f"from {name} import heavy\nVALUE = 1\n")
    (root / "heavy.py").write_text(
        "import builtins, time\n"
        "builtins.__dict__.setdefault('_heavy_runs', []).append(__name__)\n"
        "time.sleep(0.05)\n"
        "ANSWER = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def _runs(name: str) -> int:
    import builtins

    return builtins.__dict__.get("_heavy_runs", []).count(f"{name}.heavy")


def test_the_submodule_runs_on_first_use_not_when_the_package_imports_it(package: str) -> None:
    # Given the submodule deferred before its package is imported
    assert defer_submodule(package, "heavy") is True
    # When the package is imported
    module = __import__(package)
    # Then the package works and the submodule's code has not run
    assert module.VALUE == 1
    assert _runs(package) == 0
    # And the first name looked up in it runs it once, with its real contents
    assert module.heavy.ANSWER == 42
    assert module.heavy.ANSWER == 42
    assert _runs(package) == 1


def test_threads_that_use_it_at_once_run_it_once(package: str) -> None:
    defer_submodule(package, "heavy")
    module = __import__(package)
    answers: list[int] = []
    barrier = threading.Barrier(6)

    def use() -> None:
        barrier.wait()
        answers.append(module.heavy.ANSWER)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [42] * 6
    assert _runs(package) == 1


def test_an_imported_package_or_a_missing_submodule_is_left_alone(package: str) -> None:
    __import__(package)
    assert defer_submodule(package, "heavy") is False
    assert defer_submodule("json", "no_such_submodule") is False
    assert defer_submodule("no_such_package_anywhere", "x") is False


def test_the_policy_engine_decides_without_running_cedars_typed_ast() -> None:
    # Given a fresh interpreter that loads the policy engine, as the policy handler does
    code = textwrap.dedent(
        """
        import json, sys
        from controlroom.policy.engine import default_engine
        engine = default_engine()
        ran_after_decide = type(sys.modules["cedarpy.pst"]).__name__ != "_Deferred"
        import cedarpy
        pst = cedarpy.policies_to_pst("permit(principal, action, resource);")
        print(json.dumps({"ran": ran_after_decide, "pst": type(pst).__name__}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "layers")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # Then loading every policy did not run cedarpy.pst, and a caller that wants it still gets it
    assert outcome == {"ran": False, "pst": "PolicySet"}
