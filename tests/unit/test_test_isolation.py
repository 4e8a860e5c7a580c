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
