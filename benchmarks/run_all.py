"""Run every benchmark and print its figures (`make bench`); exits non-zero if any bound is missed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Each prints its own figures and bound; all run even when one misses, so the whole picture is printed.
SCRIPTS = (
    "import_time.py",
    "hop_cost.py",
    "incident_cost.py",
    "deployment_cost.py",
    "rca_petshop.py",
    "scorecard_week.py",
)

missed = []
for script in SCRIPTS:
    print(f"== {script}", flush=True)
    if subprocess.run([sys.executable, str(HERE / script)], check=False).returncode != 0:
        missed.append(script)
if missed:
    print(f"== bounds missed or runs failed: {', '.join(missed)}")
sys.exit(1 if missed else 0)
