"""Generate schemas/*.schema.json from the pydantic contracts, or check them for drift.

Usage: ``python -m controlroom.contracts.export [--check] [SCHEMA_DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from controlroom.contracts import (
    AlarmStateChangeEvent,
    ApprovalOutcome,
    ApprovalRecord,
    DecisionRecord,
    Diagnosis,
    EvidenceBundle,
    ExecutionReport,
    IntakeResult,
    Plan,
    PolicyDecision,
    VerifyResult,
)
from controlroom.contracts.base import CONTRACT_VERSION
from controlroom.contracts.deployment import (
    DeployCloseResult,
    DeploymentRequest,
    DeployPolicyDecision,
    GuardVerdict,
    PreflightResult,
    ShiftResult,
)

CONTRACTS: dict[str, type[BaseModel]] = {
    "alarm_state_change_event": AlarmStateChangeEvent,
    "intake_result": IntakeResult,
    "evidence_bundle": EvidenceBundle,
    "diagnosis": Diagnosis,
    "plan": Plan,
    "policy_decision": PolicyDecision,
    "approval_record": ApprovalRecord,
    "approval_outcome": ApprovalOutcome,
    "execution_report": ExecutionReport,
    "verify_result": VerifyResult,
    "decision_record": DecisionRecord,
    "deployment_request": DeploymentRequest,
    "deployment_preflight": PreflightResult,
    "deployment_policy_decision": DeployPolicyDecision,
    "deployment_shift": ShiftResult,
    "deployment_guard_verdict": GuardVerdict,
    "deployment_close": DeployCloseResult,
}


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of every contract's schema (validation mode, versioned)."""
    rendered = {}
    for name, model in CONTRACTS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://controlroom.dev/schemas/v{CONTRACT_VERSION}/{name}.schema.json"
        schema["x-contract-version"] = CONTRACT_VERSION
        rendered[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def drift(schema_dir: Path) -> list[str]:
    """Names of schema files that are missing, stale or no longer generated."""
    expected = render_schemas()
    problems = [
        f"{name}: {'stale' if (schema_dir / name).exists() else 'missing'}"
        for name, text in expected.items()
        if not (schema_dir / name).exists() or (schema_dir / name).read_text() != text
    ]
    problems += [
        f"{path.name}: not generated from any contract"
        for path in schema_dir.glob("*.schema.json")
        if path.name not in expected
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if schemas/ differs from the contracts")
    parser.add_argument("schema_dir", nargs="?", default="schemas")
    args = parser.parse_args(argv)
    schema_dir = Path(args.schema_dir)
    if args.check:
        problems = drift(schema_dir)
        for problem in problems:
            print(f"schema drift: {problem}", file=sys.stderr)
        if problems:
            print("run `make schemas` and commit the result", file=sys.stderr)
        return 1 if problems else 0
    schema_dir.mkdir(exist_ok=True)
    for name, text in render_schemas().items():
        (schema_dir / name).write_text(text)
    print(f"wrote {len(CONTRACTS)} schemas to {schema_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
