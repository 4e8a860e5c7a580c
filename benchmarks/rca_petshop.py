"""controlroom's root-cause ranking on the PetShop development set through the eval path (moto and the
local X-Ray/CloudTrail stubs, the production Evidence and Diagnose), beside the ranked-correlation baseline.

Prints recall@1/@3 per scenario with and without the change feed, the baseline's, the AWS API calls
and the wall time per incident. Run::

    PYTHONPATH=layers python benchmarks/rca_petshop.py [DIR]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controlroom.local.rca_dataset import load_dataset
from controlroom.local.rca_eval import IncidentResult, evaluate, summarise
from rca_baseline import DEFAULT_DIRS, baseline_ranking, recall


def _line(label: str, scenario: str, n: int, at1: float, at3: float) -> str:
    return f"  {label:<28} {scenario:<20} n={n:<3} recall@1={at1:.2f} recall@3={at3:.2f}"


def _report(label: str, results: Sequence[IncidentResult]) -> None:
    summary = summarise(results)
    for scenario, row in [*summary.get("scenarios", {}).items(), ("all", summary.get("overall", {}))]:
        if row:
            print(_line(label, scenario, row["incidents"], row["recall@1"], row["recall@3"]))
    print(
        f"  {label:<28} {summary['api_calls_per_incident']} AWS API calls and "
        f"{summary['seconds_per_incident']:.2f} s per incident"
    )


def main(argv: Sequence[str]) -> None:
    default = next((path for path in DEFAULT_DIRS if path.is_dir()), DEFAULT_DIRS[0])
    directory = Path(argv[0]) if argv else default
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    print(f"RCA on {directory} (eval path: production Evidence and Diagnose, no model)")
    _report("controlroom, metrics only", evaluate(directory, with_changes=False))
    _report("controlroom, with changes", evaluate(directory, with_changes=True))
    scores = recall(load_dataset(directory), baseline_ranking)
    for scenario, row in sorted(scores.items(), key=lambda item: (item[0] == "all", item[0])):
        print(_line("ranked correlation baseline", scenario, int(row["n"]), row["recall@1"], row["recall@3"]))


if __name__ == "__main__":
    main(sys.argv[1:])
