"""The commands that operate a running local engine: fire, incidents, approvals, inbox, decide, audit verify.

Each reads or changes the engine through ``EngineClient`` and prints either text for a person or,
with ``--json``, one document from ``cli_views`` for a script.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from controlroom.contracts import IncidentStatus
from controlroom.local import render
from controlroom.local.cli_output import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNKEYED,
    add_command,
    emit_json,
    error,
)
from controlroom.local.cli_views import (
    ApprovalList,
    FiredExecution,
    FireResult,
    Inbox,
    InboxEmailView,
    IncidentList,
    approval_row,
    incident_row,
)
from controlroom.local.client import EngineClient

# The terminal state `fire --wait` counts as success: the incident was remediated and verified.
RESOLVED = "Resolved"
_JSON_HELP = "print one JSON document on stdout instead of text (keys documented in the README)"


def client() -> EngineClient:
    return EngineClient.from_state_file()


def decide(engine: EngineClient, approval_id: str, verdict: str, comment: str) -> int:
    """Vote on an approval as ``cli:<user>`` and say what the vote did."""
    outcome = engine.decide(approval_id, verdict, f"cli:{getpass.getuser()}", comment)
    if outcome.decided:
        print(f"{approval_id}: {outcome.outcome} (decided by {outcome.approver}); the flow resumes")
    else:
        print(f"{approval_id}: vote recorded, {outcome.approvals_missing} more approval(s) needed")
    return EXIT_OK


def cmd_incidents(args: argparse.Namespace) -> int:
    status = IncidentStatus(args.status) if args.status else None
    rows = [incident_row(item) for item in client().incidents(status)]
    if args.json:
        emit_json(IncidentList(status_filter=args.status, incidents=rows))
    else:
        print(render.incidents(rows, args.status))
    return EXIT_OK


def cmd_approvals(args: argparse.Namespace) -> int:
    engine = client()
    rows = [
        approval_row(record, engine.approval_brief(record.approval_id))
        for record in engine.pending_approvals()
    ]
    shown = sorted((row for row in rows if args.all or not row.expired), key=lambda row: row.expires_at)
    hidden = len(rows) - len(shown)
    if args.json:
        emit_json(ApprovalList(approvals=shown, hidden_expired=hidden))
    else:
        print(render.approvals(shown, hidden))
    return EXIT_OK


def cmd_inbox(args: argparse.Namespace) -> int:
    emails = [InboxEmailView(to=e["to"], subject=e["subject"], links=e["links"]) for e in client().inbox()]
    if args.json:
        emit_json(Inbox(emails=emails))
        return EXIT_OK
    if not emails:
        print("the local inbox is empty: no approval email was sent yet")
    for email in emails:
        print(f"to {', '.join(email.to)}: {email.subject}")
        for link in email.links:
            print(f"  {link}")
    return EXIT_OK


def _admission(engine: EngineClient, execution_arn: str) -> dict[str, Any]:
    """What the alarm rule's Intake decided before it started this execution (empty if it was started directly)."""
    started = json.loads(engine.sfn.describe_execution(executionArn=execution_arn).get("input") or "null")
    admission = started.get("admission") if isinstance(started, dict) else None
    return admission if isinstance(admission, dict) else {}


def _fired(engine: EngineClient, execution_arn: str, wait: bool, timeout: float) -> FiredExecution:
    incident_id = engine.incident_id(execution_arn)
    if not wait:
        return FiredExecution(execution_arn=execution_arn, incident_id=incident_id)
    view = engine.wait(execution_arn, timeout=timeout)
    reason = engine.incident(incident_id).summary if incident_id else ""
    if not reason:
        reason = view.cause or view.error or str(_admission(engine, execution_arn).get("reason", ""))
    return FiredExecution(
        execution_arn=execution_arn,
        incident_id=incident_id,
        status=view.status,
        end_state=view.terminal_state,
        reason=reason or None,
    )


def _duplicate_of(engine: EngineClient, event: dict[str, Any]) -> str | None:
    """The open incident an alarm that started nothing was folded into (Intake dedupes before any start)."""
    alarm_name = (
        (event.get("detail") or {}).get("alarmName") if isinstance(event.get("detail"), dict) else None
    )
    for item in engine.incidents():
        if not item.status.is_terminal and item.incident.alarm.alarm_name == alarm_name:
            return item.incident.incident_id
    return None


def cmd_fire(args: argparse.Namespace) -> int:
    # Imported here: the demo world pulls in moto, which no other command needs (a quarter second).
    from controlroom.local.world import load_event, restamp

    event = load_event(Path(args.event_file))
    if args.now:
        event = restamp(event)
    engine = client()
    started = engine.fire(event)
    duplicate_of = None if started else _duplicate_of(engine, event)
    fired = [_fired(engine, arn, args.wait, args.timeout) for arn in started]
    result = FireResult(
        event_file=args.event_file, waited=args.wait, executions=fired, duplicate_of=duplicate_of
    )
    if args.json:
        emit_json(result)
    elif started or duplicate_of:
        print(render.fired(result))
    if not started and not duplicate_of:
        error(
            "no rule matched this event: EventBridge started nothing (the rule wants source aws.cloudwatch, "
            "detail-type 'CloudWatch Alarm State Change', state ALARM and an opted-in alarm name)"
        )
        return EXIT_FAILED
    if args.wait:
        return EXIT_OK if fired and all(f.end_state == RESOLVED for f in fired) else EXIT_FAILED
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.table:
        from controlroom.store.remote import verify_deployed

        report = verify_deployed(args.incident_id, table=args.table, region=args.region, key=args.key)
    else:
        report = client().verify_audit(args.incident_id)
    if args.json:
        emit_json(report)
    if report.status == "not_found":
        error(render.audit(report))
        return EXIT_NOT_FOUND
    if not args.json:
        print(render.audit(report))
    if report.ok:
        return EXIT_OK
    return EXIT_UNKEYED if report.status == "unkeyed" else EXIT_FAILED


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add fire, incidents, approvals, inbox, approve and reject to the ``controlroom`` parser."""
    fire = add_command(
        sub,
        "fire",
        "put an event on the local EventBridge bus; print the incident it opened",
        [
            "controlroom fire events/alarm_lambda_errors.json --now",
            "controlroom fire events/alarm_lambda_errors.json --now --wait --json | jq -r '.executions[0].end_state'",
        ],
        "Exit 0 when the event started an execution (or folded into an open incident); with --wait, exit 0 only\n"
        "when every execution it started ended Resolved, else 1 (also when one is still running after --timeout).",
    )
    fire.add_argument("event_file", help="an EventBridge event as JSON (see events/)")
    fire.add_argument("--now", action="store_true", help="set the event's timestamps to now")
    fire.add_argument(
        "--wait", action="store_true", help="wait for each execution to end; print its end state and why"
    )
    fire.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits (default 120)")
    fire.add_argument("--json", action="store_true", help=_JSON_HELP)
    fire.set_defaults(func=cmd_fire)
    incidents = add_command(
        sub,
        "incidents",
        "list incidents, newest first: status, alarm, resource, opened, updated, why it ended",
        [
            "controlroom incidents",
            "controlroom incidents --status ESCALATED --json | jq -r '.incidents[].incident_id'",
        ],
    )
    incidents.add_argument(
        "--status",
        type=str.upper,
        choices=[status.value for status in IncidentStatus],
        help="only incidents in this status (any case)",
    )
    incidents.add_argument("--json", action="store_true", help=_JSON_HELP)
    incidents.set_defaults(func=cmd_incidents)
    approvals = add_command(
        sub,
        "approvals",
        "pending approvals: alarm, action, risk, votes and time left (expired ones hidden)",
        ["controlroom approvals", "controlroom approvals --json | jq -r '.approvals[0].approval_id'"],
    )
    approvals.add_argument("--all", action="store_true", help="also list pending approvals past their expiry")
    approvals.add_argument("--json", action="store_true", help=_JSON_HELP)
    approvals.set_defaults(func=cmd_approvals)
    inbox = add_command(
        sub,
        "inbox",
        "approval emails sent by the local engine, with their signed links",
        ["controlroom inbox", "controlroom inbox --json | jq -r '.emails[-1].links[0]'"],
    )
    inbox.add_argument("--json", action="store_true", help=_JSON_HELP)
    inbox.set_defaults(func=cmd_inbox)
    for verdict in ("approve", "reject"):
        command = add_command(
            sub,
            verdict,
            f"{verdict} a pending approval as cli:<user>",
            [f"controlroom {verdict} apr-0123456789abcdef0123456789abcdef --comment 'checked the graphs'"],
            "Exit 4 for an unknown approval, 1 when it is already decided or expired.",
        )
        command.add_argument("approval_id", help="the approval's id (apr-..., from `controlroom approvals`)")
        command.add_argument("--comment", default="", help="why; kept with the vote and in the audit chain")
        command.set_defaults(func=lambda a, v=verdict: decide(client(), a.approval_id, v, a.comment))


def register_audit(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``audit verify`` to the ``controlroom`` parser."""
    audit = add_command(sub, "audit", "audit chain tools", ["controlroom audit verify inc-3f2a9c0d11e84b7a"])
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="{verify}")
    verify = add_command(
        audit_sub,
        "verify",
        "recompute an incident's hash chain and check its keyed head",
        [
            "controlroom audit verify inc-3f2a9c0d11e84b7a",
            "controlroom audit verify inc-3f2a9c0d11e84b7a --table controlroom-prod-audit --region eu-west-1",
            "controlroom audit verify inc-3f2a9c0d11e84b7a --json | jq -r .status",
        ],
        "Exit 0 verified, 1 BROKEN or UNKEYED (the previous, unkeyed format), 4 no record under this id.",
    )
    verify.add_argument("incident_id", help="the chain's id: an incident (inc-...) or a deployment (dep-...)")
    verify.add_argument(
        "--table", help="a deployed environment's audit table (e.g. controlroom-prod-audit) instead of local"
    )
    verify.add_argument("--region", help="its region (default: the AWS SDK's)")
    verify.add_argument(
        "--key", help="the audit HMAC key (id, ARN or alias; default alias/<table>, as the CDK app names it)"
    )
    verify.add_argument("--json", action="store_true", help=_JSON_HELP)
    verify.set_defaults(func=cmd_audit_verify)
