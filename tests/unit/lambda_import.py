"""Run code in a fresh interpreter the way Lambda imports a function: LAMBDA_TASK_ROOT set, tracing Active."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HANDLERS = sorted((REPO / "functions").glob("*/handler.py"))


def lambda_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment as Lambda's for a function with tracing Active (POWERTOOLS_TRACE_DISABLED unset)."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    return {
        **env,
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_LAMBDA_FUNCTION_NAME": "controlroom-test",
        "PYTHONPATH": str(REPO / "layers"),
        **extra,
    }


def run_as_lambda(code: str, args: list[str], tmp_path: Path, **extra_env: str) -> Any:
    """Run ``python -c code *args`` in a fresh interpreter as Lambda would; its last stdout line, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=lambda_env(tmp_path, **extra_env),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
