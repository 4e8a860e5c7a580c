"""The synth cache: a second synthesis of unchanged inputs is a hit, any changed input a miss; entries
appear whole or not at all, two concurrent runs build once, old entries are pruned, and it can be bypassed.

The CDK CLI is replaced by a fake that writes a small cloud assembly: no test here runs a real synth.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from controlroom.local import synth as synth_module
from controlroom.local.synth import synth
from controlroom.local.synth_cache import MARKER, SynthCache, input_digest

REPO = Path(__file__).resolve().parents[2]


class FakeCdk:
    """Stands in for `cdk synth`: writes manifest.json and a template naming its inputs; counts runs."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, Path, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, root: Path, env: str, out: Path, overrides: dict[str, Any]) -> None:
        with self.lock:
            self.runs.append((env, out, dict(overrides)))
        out.mkdir(parents=True)
        (out / "manifest.json").write_text("{}")
        (out / f"controlroom-{env}.template.json").write_text(f'{{"run": {len(self.runs)}}}')


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small checkout with one file in every input folder (and the local engine's folder)."""
    root = tmp_path / "checkout"
    files = {
        "infra_cdk/app.py": "app = 1\n",
        "layers/controlroom/agent.py": "VERSION = 1\n",
        "layers/controlroom/local/cli.py": "CLI = 1\n",
        "layers/requirements.txt": "pydantic==2\n",
        "stepfunctions/flow.asl.json": '{"StartAt": "A"}\n',
        "functions/intake/handler.py": "def handler(e, c): ...\n",
        "cdk.json": '{"context": {"environments": {"local": {}}}}\n',
        "package-lock.json": '{"lockfileVersion": 3}\n',
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    monkeypatch.setenv("CONTROLROOM_HOME", str(root))
    monkeypatch.delenv("CONTROLROOM_SYNTH_CACHE", raising=False)
    return root


@pytest.fixture
def cdk(monkeypatch: pytest.MonkeyPatch) -> FakeCdk:
    fake = FakeCdk()
    monkeypatch.setattr(synth_module, "run_cdk_synth", fake)
    return fake


def _cache(root: Path) -> Path:
    return root / "build" / "cdk.out.cache"


def test_unchanged_inputs_hit_and_changed_inputs_miss(checkout: Path, cdk: FakeCdk) -> None:
    # Given a first synthesis
    first = synth("local", quiet=True)
    assert len(cdk.runs) == 1 and first.parent == _cache(checkout)
    # When nothing changed, Then the second is the same entry and the CLI did not run
    assert synth("local", quiet=True) == first and len(cdk.runs) == 1
    # When a compiled file appears or the local engine changes (neither is synthesized), still a hit
    (checkout / "layers/controlroom/__pycache__").mkdir()
    (checkout / "layers/controlroom/__pycache__/agent.cpython-311.pyc").write_bytes(b"\0")
    (checkout / "layers/controlroom/local/cli.py").write_text("CLI = 2\n")
    assert synth("local", quiet=True) == first and len(cdk.runs) == 1
    # When a synthesized input changes, in each input place, Then each is a miss with its own entry
    entries = {first}
    for relative in (
        "layers/controlroom/agent.py",
        "infra_cdk/app.py",
        "stepfunctions/flow.asl.json",
        "functions/intake/handler.py",
        "cdk.json",
        "package-lock.json",
    ):
        path = checkout / relative
        path.write_text(path.read_text() + " ")
        entries.add(synth("local", quiet=True))
    (checkout / "functions/verify").mkdir()
    (checkout / "functions/verify/handler.py").write_text("x = 1\n")  # a new file counts too
    entries.add(synth("local", quiet=True))
    assert len(cdk.runs) == 8 and len(entries) == 8


def test_env_overrides_and_python_version_are_part_of_the_key(
    checkout: Path, cdk: FakeCdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = synth("local", quiet=True)
    short = synth("local", overrides={"approval_timeout_seconds": 5}, quiet=True)
    assert synth("local", overrides={"approval_timeout_seconds": 5}, quiet=True) == short
    dev = synth("dev", quiet=True)
    assert len({plain, short, dev}) == 3 and len(cdk.runs) == 3
    assert cdk.runs[1][2] == {"approval_timeout_seconds": 5} and cdk.runs[2][0] == "dev"
    assert re.fullmatch(r"dev-[0-9a-f]{20}", dev.name)
    before = input_digest(checkout, "local", {})
    monkeypatch.setattr(sys, "version", "3.99.0 (another interpreter)")
    assert input_digest(checkout, "local", {}) != before


def test_a_given_out_dir_gets_a_copy(checkout: Path, cdk: FakeCdk, tmp_path: Path) -> None:
    # Given a cached synthesis
    entry = synth("local", quiet=True)
    # When a caller asks for its own cdk.out (tests do), Then it gets a copy without running the CLI again
    out = synth("local", tmp_path / "mine" / "cdk.out", quiet=True)
    assert out == tmp_path / "mine" / "cdk.out" and len(cdk.runs) == 1
    assert (out / "controlroom-local.template.json").read_text() == '{"run": 1}'
    # And a second copy over the first keeps the caller's other files, as `cdk synth -o` would
    (out / "notes.txt").write_text("mine")
    synth("local", out, quiet=True)
    assert (out / "notes.txt").read_text() == "mine"
    # And changing the copy does not change the cache
    (out / "controlroom-local.template.json").write_text("changed")
    assert (entry / "controlroom-local.template.json").read_text() == '{"run": 1}'


def test_the_cache_can_be_bypassed(checkout: Path, cdk: FakeCdk, monkeypatch: pytest.MonkeyPatch) -> None:
    synth("local", quiet=True)
    # --no-cache
    assert synth("local", quiet=True, cache=False) == checkout / "build" / "cdk.out.local"
    # CONTROLROOM_SYNTH_CACHE=0
    monkeypatch.setenv("CONTROLROOM_SYNTH_CACHE", "0")
    (checkout / "build" / "cdk.out.local").rename(checkout / "build" / "previous")
    synth("local", quiet=True)
    assert len(cdk.runs) == 3


def test_an_interrupted_synthesis_leaves_no_entry(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a synthesis that is interrupted (Ctrl-C) after writing part of its output
    def interrupted(root: Path, env: str, out: Path, overrides: dict[str, Any]) -> None:
        out.mkdir(parents=True)
        (out / "manifest.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(synth_module, "run_cdk_synth", interrupted)
    with pytest.raises(KeyboardInterrupt):
        synth("local", quiet=True)
    # Then nothing is left in the cache but its lock file: neither an entry nor the temporary directory
    assert [p.name for p in _cache(checkout).iterdir() if not p.name.endswith(".lock")] == []
    # And the next run synthesizes
    fake = FakeCdk()
    monkeypatch.setattr(synth_module, "run_cdk_synth", fake)
    assert (synth("local", quiet=True) / MARKER).is_file() and len(fake.runs) == 1


def test_two_concurrent_runs_synthesize_once(tmp_path: Path) -> None:
    # Given two runs with the same inputs at the same time, the first one still synthesizing
    cache = SynthCache(tmp_path / "cache")
    second_waits = threading.Event()
    builds: list[Path] = []

    def build(directory: Path) -> None:
        builds.append(directory)
        # Hold the lock until the other run has found it taken (a real race, not a sequence)
        assert second_waits.wait(timeout=30), "the second run never waited for the first"
        directory.mkdir()
        (directory / "manifest.json").write_text("{}")

    results: list[tuple[Path, bool]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(cache.fetch("local", "a" * 64, build, on_wait=lambda _: second_waits.set()))
        except BaseException as exc:
            errors.append(exc)

    racers = [threading.Thread(target=run) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    # Then one built, the other waited and reused it
    assert not errors and len(builds) == 1
    assert sorted(hit for _, hit in results) == [False, True]
    assert results[0][0] == results[1][0] and cache.complete(results[0][0])


def test_old_entries_and_abandoned_temporaries_are_pruned(tmp_path: Path) -> None:
    filling = SynthCache(tmp_path / "cache", keep=10)
    cache = SynthCache(tmp_path / "cache", keep=2)

    def build(directory: Path) -> None:
        directory.mkdir()
        (directory / "manifest.json").write_text("{}")

    entries = []
    for number, digest in enumerate(("a", "b", "c")):
        entry, _ = filling.fetch("local", digest * 64, build)
        os.utime(entry / MARKER, (1000 + number, 1000 + number))  # used in this order
        entries.append(entry)
    other_env, _ = filling.fetch("dev", "d" * 64, build)
    abandoned = cache.directory / ".tmp-local-killed"
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    fresh = cache.directory / ".tmp-local-running"
    fresh.mkdir()
    # When it prunes, Then the least recently used entry of that env and the abandoned temporary go
    assert sorted(cache.prune("local")) == sorted([entries[0], abandoned])
    assert [e.exists() for e in entries] == [False, True, True]
    assert other_env.exists() and fresh.exists()
    # And a hit counts as a use: the oldest entry, used again, is kept over the others
    cache.fetch("local", "b" * 64, build)
    cache.fetch("local", "e" * 64, build)
    assert entries[1].exists() and not entries[2].exists()


def test_the_cdk_app_does_not_import_the_local_engine() -> None:
    # The cache key leaves layers/controlroom/local out; that holds only while the app never imports it.
    sources = [path for path in (REPO / "infra_cdk").rglob("*.py") if "__pycache__" not in path.parts]
    assert sources
    for path in sources:
        assert not re.search(r"controlroom\.local\b|from controlroom import local", path.read_text()), path
