"""Where the repository's files are, for the local engine (it runs from a checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import controlroom


def repo_root() -> Path:
    """The checkout holding functions/, stepfunctions/ and infra_cdk/.

    CONTROLROOM_HOME wins; else the editable install's location; else the working directory.
    """
    override = os.environ.get("CONTROLROOM_HOME")
    candidates = [Path(override)] if override else []
    candidates += [Path(controlroom.__file__).resolve().parents[2], Path.cwd()]
    for candidate in candidates:
        if (candidate / "stepfunctions").is_dir() and (candidate / "functions").is_dir():
            return candidate
    raise FileNotFoundError(
        "cannot find the controlroom checkout (functions/ and stepfunctions/); run from the repository "
        "or set CONTROLROOM_HOME"
    )


def state_dir() -> Path:
    """Per-checkout local state: the running engine's address, logs."""
    path = repo_root() / ".controlroom"
    path.mkdir(exist_ok=True)
    return path
