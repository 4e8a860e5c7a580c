"""The text form of a trace: one line per step, what it decided beneath, the waits between, nothing cut short.

Times are UTC: the header gives the date once, each line the time of day (a date only when the day changed).
Long lines wrap at the terminal's width; words (ids, ARNs) are never split or truncated.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import datetime

from controlroom.local.trace import flow_revisions, version_label
from controlroom.local.trace_details import DETAILS_REPLACE_SUMMARY
from controlroom.local.trace_model import Trace, TraceApproval, TraceStep, TraceWait

_BODY = " " * 9  # under the step's time: what the step decided
_WAIT = " " * 7  # between two steps


def span(seconds: float) -> str:
    """A duration as people say it: ``420ms``, ``3.3s``, ``12s``, ``1m46s``, ``2h05m``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class _Writer:
    def __init__(self, width: int, day: str) -> None:
        self.lines: list[str] = []
        self.width = max(width, 40)
        self.day = day

    def clock(self, moment: datetime) -> str:
        """HH:MM:SS on the header's day, the full date and time on any other."""
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
        return stamp[11:] if stamp[:10] == self.day else stamp

    def wrap(self, text: str, indent: str) -> None:
        for paragraph in text.splitlines() or [""]:
            wrapper = textwrap.TextWrapper(
                width=self.width,
                initial_indent=indent,
                subsequent_indent=indent + "  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
            self.lines.extend(wrapper.wrap(paragraph) or [indent.rstrip()])


def _approval_lines(out: _Writer, approval: TraceApproval) -> None:
    decision = {"approve": "approved", "reject": "rejected"}.get(approval.outcome or "", "")
    state = decision or approval.status.lower()
    approvers = ", ".join(approval.approvers) or "no approvers configured (the local CLI decides)"
    out.wrap(
        f"approval {approval.approval_id}: {state}; {approval.required_approvals} approval(s) needed, "
        f"approvers {approvers}; expires {out.clock(approval.expires_at)}",
        _BODY,
    )
    if not approval.votes:
        out.wrap("no votes", _BODY)
    for vote in approval.votes:
        comment = f': "{vote.comment}"' if vote.comment else " (no comment)"
        out.wrap(f"vote: {vote.verdict} by {vote.approver} at {out.clock(vote.decided_at)}{comment}", _BODY)


def _wait_line(
    out: _Writer, wait: TraceWait, approval: TraceApproval | None, steps: dict[int, TraceStep]
) -> None:
    if wait.reason == "approval":
        if wait.ended_at is None:
            expires = f", expires {out.clock(approval.expires_at)}" if approval else ""
            text = f"waiting for approval since {out.clock(wait.started_at)} ({span(wait.seconds)} so far{expires})"
        elif approval is not None and approval.decided_at is not None:
            text = (
                f"waited {span(wait.seconds)} for approval (requested {out.clock(wait.started_at)}, "
                f"{'approved' if approval.outcome == 'approve' else 'rejected'} {out.clock(wait.ended_at)})"
            )
        else:
            status = f": {approval.status.lower()} without a decision" if approval else ""
            text = f"waited {span(wait.seconds)} for approval{status}"
    elif wait.reason == "bake":
        weight = (steps[wait.after_step].output or {}).get("weight_percent")
        text = f"waited {span(wait.seconds)} while the canary baked" + (f" at {weight}%" if weight else "")
    else:
        after = steps.get(wait.before_step or -1)
        text = f"waited {span(wait.seconds)}" + (f" before {after.agent}" if after else "")
    out.wrap(text, _WAIT)


def _step_lines(out: _Writer, step: TraceStep, approval: TraceApproval | None, verbose: bool) -> None:
    took = span(step.duration_ms / 1000)
    out.lines.append(
        f"  {step.step:>3}  {out.clock(step.started_at):<8}  {step.agent:<17} {step.status:<6} {took:>7}  "
        f"{step.produced_by:<8} {version_label(step.function_version)}"
    )
    if step.status == "error":
        out.wrap(f"{step.error_type}: {step.error_message or ''}", _BODY)
    replaced = bool(step.details) and step.agent in DETAILS_REPLACE_SUMMARY
    if step.summary and not replaced and (step.status != "error" or step.summary != step.error_type):
        out.wrap(step.summary, _BODY)
    for line in step.details:
        out.wrap(line, _BODY)
    for change in step.changes:
        out.wrap(change.line(), _BODY)
    for missing in step.missing_evidence:
        out.wrap(f"missing evidence: {missing.tool} ({missing.error_type}: {missing.message})", _BODY)
    if approval is not None:
        _approval_lines(out, approval)
    for note in step.notes:
        out.wrap(f"note: {note}", _BODY)
    if verbose:
        out.wrap(f"context passed: {', '.join(step.context_passed) or '(none)'}", _BODY)
        out.wrap(f"left out: {', '.join(step.left_out) or '(nothing)'}", _BODY)
        tools = "; ".join(
            f"{t.tool} {'ok' if t.ok else 'FAILED ' + (t.error_type or '')} {span(t.duration_ms / 1000)}"
            for t in step.tool_calls
        )
        if tools:
            out.wrap(f"tools: {tools}", _BODY)


def render(trace: Trace, *, verbose: bool = False, width: int | None = None) -> str:
    """The trace as text; ``verbose`` adds each step's context passed and left out, and its tool calls."""
    first = trace.started_at or (trace.steps[0].started_at if trace.steps else None)
    out = _Writer(width or shutil.get_terminal_size((100, 24)).columns, f"{first:%Y-%m-%d}" if first else "")
    env = f"  env {trace.environment}" if trace.kind == "incident" and trace.environment else ""
    out.wrap(f"{trace.kind} {trace.id}  status {trace.status}{env}  flow {flow_revisions(trace.steps)}", "")
    out.wrap(trace.subject, "  ")
    if trace.started_at and trace.ended_at:
        out.wrap(
            f"times UTC on {out.day}: steps from {out.clock(trace.started_at)} to {out.clock(trace.ended_at)} "
            f"({span((trace.ended_at - trace.started_at).total_seconds())})",
            "  ",
        )
    out.lines.append(f"  {'#':>3}  {'time':<8}  {'agent':<17} {'status':<6} {'took':>7}  {'by':<8} version")
    approvals = {approval.approval_id: approval for approval in trace.approvals}
    steps = {step.step: step for step in trace.steps}
    waits = {wait.after_step: wait for wait in trace.waits}
    shown: set[str] = set()
    for step in trace.steps:
        approval = approvals.get(step.approval_id or "")
        shown |= {step.approval_id} if approval and step.approval_id else set()
        _step_lines(out, step, approval, verbose)
        if step.step in waits:
            _wait_line(out, waits[step.step], approval, steps)
    for approval in trace.approvals:
        if approval.approval_id not in shown:
            # Its request step is missing from the timeline (failed or not recorded): the votes still count.
            _approval_lines(out, approval)
    if trace.outcome:
        out.wrap(f"outcome: {trace.outcome}", "  ")
    return "\n".join(out.lines)
