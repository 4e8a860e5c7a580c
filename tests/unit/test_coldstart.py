"""A handler imports with the garbage collector paused, then freezes what it built and collects again."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlroom.coldstart import collector_paused
from tests.unit.lambda_import import HANDLERS, run_as_lambda

# Counts the collections of each generation while the handler module loads, as Lambda loads it.
_IMPORT = """
import gc, importlib.util, json, sys
runs = [0, 0, 0]
gc.callbacks.append(lambda phase, info: phase == "start" and runs.__setitem__(info["generation"], runs[info["generation"]] + 1))
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
print(json.dumps({"runs": runs, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "tracked": len(gc.get_objects())}))
"""


@pytest.fixture
def restore_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_in_lambda_the_block_runs_without_collection_then_what_it_built_is_frozen(
    restore_gc: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    gc.enable()
    with collector_paused():
        inside = gc.isenabled()
        built = [[] for _ in range(1000)]
    assert inside is False
    assert gc.isenabled() is True
    # What existed at the end of the block is in the permanent generation: collections skip it
    assert gc.get_freeze_count() >= len(built)


def test_outside_lambda_nothing_is_frozen(restore_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The local engine imports every handler into one long-lived process: it must stay collectable
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    gc.unfreeze()
    with collector_paused():
        assert gc.isenabled() is False
    assert gc.isenabled() is True
    assert gc.get_freeze_count() == 0


def test_a_failing_import_still_resumes_collection(restore_gc: None) -> None:
    gc.enable()
    with pytest.raises(ImportError), collector_paused():
        import controlroom.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled() is True


def test_a_collector_disabled_before_stays_disabled(restore_gc: None) -> None:
    gc.disable()
    with collector_paused():
        pass
    assert gc.isenabled() is False


@pytest.mark.parametrize("handler", HANDLERS, ids=[path.parent.name for path in HANDLERS])
def test_a_handler_loads_without_a_collection_and_leaves_the_collector_on(
    handler: Path, tmp_path: Path
) -> None:
    # When Lambda imports the handler module (init phase)
    outcome = run_as_lambda(_IMPORT, [str(handler)], tmp_path)
    # Then no collection ran after the handler's first import (the one of controlroom.coldstart itself),
    # the collector is on for the invocations, and the imports are frozen out of its way
    assert outcome["runs"][2] == 0
    assert sum(outcome["runs"]) <= 2
    assert outcome["enabled"] is True
    assert outcome["frozen"] > 50_000
    assert outcome["tracked"] < outcome["frozen"] / 100
