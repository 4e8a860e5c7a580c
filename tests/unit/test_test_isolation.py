"""Tests in parallel workers keep their local state apart, and away from the developer's checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controlroom.local import client, engine, paths


def test_the_local_state_of_a_test_run_is_private_to_its_worker(
    private_state_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The engine writes its address and token, and the CLI reads them, in this worker's temp dir ...
    for module in (paths, engine, client):
        assert module.state_dir() == private_state_dir
    assert private_state_dir.is_relative_to(tmp_path_factory.getbasetemp())
    # ... never in the checkout's .controlroom, which a developer's `controlroom up` uses
    assert not private_state_dir.is_relative_to(paths.repo_root())
    # and each xdist worker has its own basetemp, so two workers never share one
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        assert tmp_path_factory.getbasetemp().name.endswith(worker)


def test_a_test_with_a_checkout_of_its_own_keeps_its_state_there(
    private_state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a test that made its own checkout, where the `controlroom` child processes it runs will look
    for name in ("functions", "stepfunctions"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("CONTROLROOM_HOME", str(tmp_path))
    # Then the engine in this process writes its state there too, so both sides agree
    assert engine.state_dir() == client.state_dir() == tmp_path / ".controlroom"
    # and without it, the state goes back to the worker's private dir
    monkeypatch.delenv("CONTROLROOM_HOME")
    assert engine.state_dir() == private_state_dir
