"""What `controlroom trace` shows under each step: read from the step's own decision record, never shortened.

Each agent's output is its contract dumped as JSON; these functions read it back through the contract, so a
record whose output does not fit (an older version, a failed step) simply shows no details instead of failing
the whole trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from controlroom.contracts import DecisionRecord
from controlroom.contracts.actions import Action, risk_of
from controlroom.contracts.deployment import GuardVerdict, PreflightResult, ShiftResult, VersionStats
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.execution import ExecutionReport

_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


class Change(BaseModel):
    """One change Execute made (or would have made, in a dry run), in full."""

    action_id: str
    action_type: str
    target: str
    before: dict[str, str]
    after: dict[str, str]
    status: str
    detail: str
    dry_run: bool

    def line(self) -> str:
        moved = "; ".join(
            f"{key} {self.before.get(key, '(none)')} -> {self.after.get(key, '(none)')}"
            for key in sorted(self.before.keys() | self.after.keys())
        )
        mode = "dry run " if self.dry_run else ""
        return (
            f"change: {mode}{self.action_id} {self.action_type} on {self.target}"
            + (f": {moved}" if moved else "")
            + f": {self.status}: {self.detail}"
        )


class Missing(BaseModel):
    """One evidence tool that failed or was unavailable, with its error."""

    tool: str
    error_type: str
    message: str


def _parsed(model: type[Any], record: DecisionRecord) -> Any | None:
    if record.status != "ok" or record.output is None:
        return None
    try:
        return model.model_validate(record.output)
    except ValidationError:
        return None


def plan_actions(records: list[DecisionRecord]) -> dict[str, Action]:
    """The actions of the last plan in the trace, by action id (Execute's results name only the id)."""
    found: dict[str, Action] = {}
    for record in records:
        if record.agent == "plan" and record.status == "ok" and record.output:
            try:
                actions = _ACTIONS.validate_python(record.output.get("actions") or [])
            except ValidationError:
                continue
            found = {action.action_id: action for action in actions}
    return found


def changes(record: DecisionRecord, actions: dict[str, Action]) -> list[Change]:
    """Execute's changes: action, target, from -> to and result, as recorded."""
    report: ExecutionReport | None = _parsed(ExecutionReport, record) if record.agent == "execute" else None
    if report is None:
        return []
    return [
        Change(
            action_id=result.action_id,
            action_type=result.action_type,
            target=actions[result.action_id].target
            if result.action_id in actions
            else "(target not recorded)",
            before=result.before,
            after=result.after,
            status=result.status,
            detail=result.detail,
            dry_run=report.dry_run,
        )
        for result in report.results
    ]


def missing_evidence(record: DecisionRecord) -> list[Missing]:
    """The evidence tools that failed or were unavailable for this step."""
    bundle: EvidenceBundle | None = _parsed(EvidenceBundle, record) if record.agent == "evidence" else None
    if bundle is None:
        return []
    return [Missing(tool=m.tool, error_type=m.error_type, message=m.message) for m in bundle.missing]


def _plan(record: DecisionRecord) -> list[str]:
    if record.status != "ok" or not record.output:
        return []
    try:
        actions = _ACTIONS.validate_python(record.output.get("actions") or [])
    except ValidationError:
        return []
    return [f"action: {a.action_id} {a.type} on {a.target} ({risk_of(a).value} risk)" for a in actions]


def _preflight(record: DecisionRecord) -> list[str]:
    result: PreflightResult | None = _parsed(PreflightResult, record)
    if result is None:
        return []
    from controlroom.deploy.approval import diff_lines

    lines = ["checksum verified" if result.checksum_verified else "checksum not checked"]
    lines += [f"diff: {line}" for line in diff_lines(result)]
    if result.risk is not None:
        lines.append(f"risk {result.risk.level} ({result.risk.score}): {'; '.join(result.risk.reasons)}")
    if result.freeze.active:
        lines.append(f"change freeze in force: {result.freeze.window}")
    if result.canary is not None:
        steps = ", ".join(f"{s.weight_percent}% for {s.bake_seconds}s" for s in result.canary.steps)
        lines.append(f"canary plan: {steps}, then 100%")
    return lines


def _shift(record: DecisionRecord) -> list[str]:
    result: ShiftResult | None = _parsed(ShiftResult, record)
    if result is None:
        return []
    note = " (dry run: nothing moved)" if result.dry_run else " (already applied: not shifted twice)"
    note = note if result.dry_run or result.already_applied else ""
    routing = ", ".join(f"version {v} {w:.0%}" for v, w in sorted(result.routing.items()))
    if result.operation == "shift":
        line = (
            f"canary step {result.step + 1}: {result.weight_percent}% of traffic on the candidate, baking "
            f"{result.bake_seconds}s (alias on version {result.alias_version}, {routing or 'no routing'})"
        )
    else:
        verb = "promoted" if result.operation == "promote" else "rolled back"
        line = f"{verb}: alias on version {result.alias_version}, routing {routing or 'cleared'}"
    return [line + note + ("" if result.verified else "; not verified")]


def _stats(label: str, stats: VersionStats) -> str:
    p99 = f"{stats.p99_ms:.0f} ms" if stats.p99_ms is not None else "no data"
    return (
        f"{label} version {stats.version}: {stats.invocations} invocations, {stats.errors} errors "
        f"({stats.error_rate:.2%}), {stats.throttles} throttles, p99 {p99}"
    )


def _guard(record: DecisionRecord) -> list[str]:
    verdict: GuardVerdict | None = _parsed(GuardVerdict, record)
    if verdict is None:
        return []
    figures = ", ".join(
        f"{name} {value:.{digits}f}"
        for name, value, digits in (
            ("z", verdict.z_score, 2),
            ("p", verdict.p_value, 4),
            ("p99 ratio", verdict.p99_ratio, 2),
        )
        if value is not None
    )
    lines = [
        f"SLO guard {verdict.outcome}, window {verdict.window_start:%H:%M:%S}-{verdict.window_end:%H:%M:%S}"
        + (f": {figures}" if figures else ""),
        _stats("stable", verdict.stable),
        _stats("canary", verdict.canary),
    ]
    if verdict.alarms_in_alarm:
        lines.append(f"alarms in ALARM: {', '.join(verdict.alarms_in_alarm)}")
    lines += [f"reason: {reason}" for reason in verdict.reasons]
    if verdict.outcome == "inconclusive":
        lines.append(f"bakes this step may still add: {verdict.extensions_left}")
    return lines


def _deploy_close(record: DecisionRecord) -> list[str]:
    arn = (record.output or {}).get("incident_execution_arn") if record.status == "ok" else None
    return [f"incident flow started: {arn}"] if arn else []


# Agents whose details say everything their one-line summary says, in full and in words: the text shows the
# details instead (the summary stays in the JSON as recorded).
DETAILS_REPLACE_SUMMARY = frozenset({"traffic_shifter", "slo_guard"})

_DETAILS: dict[str, Callable[[DecisionRecord], list[str]]] = {
    "plan": _plan,
    "deploy_preflight": _preflight,
    "traffic_shifter": _shift,
    "slo_guard": _guard,
    "deploy_close": _deploy_close,
}


def details(record: DecisionRecord) -> list[str]:
    """The lines an operator needs under a step beyond its summary (actions, diff, risk, readings)."""
    render = _DETAILS.get(record.agent)
    return render(record) if render else []
