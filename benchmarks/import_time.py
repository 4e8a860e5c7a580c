"""Cold import time of each agent handler beside a bare `import boto3` handler (fresh interpreter each run)."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5
_PROBE = """
import importlib.util, sys, time
started = time.perf_counter()
if sys.argv[1] == "bare":
    import boto3  # noqa: F401
else:
    spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
print(time.perf_counter() - started, "anthropic" in sys.modules)
"""


def measure(target: str) -> tuple[float, bool]:
    samples, loads_anthropic = [], False
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, target], capture_output=True, text=True, env=env, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip().splitlines()[-1])
        out = result.stdout.split()
        samples.append(float(out[0]))
        loads_anthropic = out[1] == "True"
    return statistics.median(samples), loads_anthropic


def main() -> None:
    bare, _ = measure("bare")
    print(f"import time, median of {RUNS} cold interpreters (Python {sys.version.split()[0]})")
    print(f"  {'bare boto3 handler':<22} {bare * 1000:7.0f} ms")
    for handler in sorted((REPO / "functions").glob("*/handler.py")):
        try:
            seconds, anthropic = measure(str(handler))
        except RuntimeError as exc:
            print(f"  {handler.parent.name:<22} import failed: {exc}")
            continue
        note = "  (imports anthropic)" if anthropic else ""
        print(f"  {handler.parent.name:<22} {seconds * 1000:7.0f} ms  x{seconds / bare:4.1f} of bare{note}")


if __name__ == "__main__":
    main()
