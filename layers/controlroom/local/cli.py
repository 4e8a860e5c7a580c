"""The `controlroom` command: run the local engine and operate incidents on it."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from controlroom.errors import ControlroomError
from controlroom.local import autonomy_cli, render, scorecard_cli
from controlroom.local.client import EngineClient, EngineNotRunning
from controlroom.local.world import load_event, restamp

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# `audit verify` on a chain in the previous format: consistent, but not tamper-evident, so not a pass.
# It prints UNKEYED and exits like any other failed check (3 is kept for "no engine running").
EXIT_UNKEYED = EXIT_FAILED


def _client() -> EngineClient:
    return EngineClient.from_state_file()


def _decide(client: EngineClient, approval_id: str, verdict: str, comment: str) -> int:
    outcome = client.decide(approval_id, verdict, f"cli:{getpass.getuser()}", comment)
    if outcome.decided:
        print(f"{approval_id}: {outcome.outcome} (decided by {outcome.approver}); the flow resumes")
    else:
        print(f"{approval_id}: vote recorded, {outcome.approvals_missing} more approval(s) needed")
    return EXIT_OK


class _Terminated(Exception):
    """SIGTERM arrived: stop like Ctrl-C (save the tables, remove the state file)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def cmd_up(args: argparse.Namespace) -> int:
    import signal

    from controlroom.local import preflight
    from controlroom.local.paths import repo_root

    cdk_out = Path(args.cdk_out) if args.cdk_out else None
    try:
        preflight.check_port(args.port)
        if cdk_out is None:
            preflight.check_environment(args.env, repo_root())
        else:
            preflight.check_cdk_out(cdk_out, args.env)
    except preflight.PreflightError as exc:
        print(f"controlroom up: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from controlroom.local.engine import LocalEngine

    engine = LocalEngine(
        env=args.env,
        port=args.port,
        cdk_out=cdk_out,
        persist=True,
        narrate=True,
        synth_cache=False if args.no_cache else None,
    )
    # Service managers and `kill` send SIGTERM; without a handler Python dies without its finally blocks.
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        print(f"starting the local engine (env={args.env}) ...", flush=True)
        engine.start(seed_world=not args.no_world)
        engine.write_state_file()
        assert engine.client is not None
        print(f"local AWS on {engine.client.endpoint}; approvals served on {engine.client.gateway_url}")
        print(f"state machine {engine.outputs['StateMachineArn']}")
        if engine.restored is not None:
            print(
                f"restored {engine.restored.items} items from the last run; executions do not survive a "
                f"restart ({engine.restored.released_locks} dedupe locks released, "
                f"{engine.restored.expired_approvals} pending approvals expired)"
            )
        print(
            "ready: in another terminal, `controlroom fire events/alarm_lambda_errors.json --now`. "
            "Ctrl-C stops.",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, _Terminated):
        print("stopping", flush=True)
    finally:
        engine.stop()
    return EXIT_OK


def cmd_fire(args: argparse.Namespace) -> int:
    event = load_event(Path(args.event_file))
    if args.now:
        event = restamp(event)
    client = _client()
    started = client.fire(event)
    if not started:
        print(
            "no rule matched this event: EventBridge started nothing (the rule wants source aws.cloudwatch, "
            "detail-type 'CloudWatch Alarm State Change', state ALARM and an opted-in alarm name)"
        )
        return EXIT_FAILED
    for arn in started:
        print(f"started {arn}")
        if args.wait:
            view = client.wait(arn, timeout=args.timeout)
            print(f"  {view.status} at {view.terminal_state}" + (f": {view.error}" if view.error else ""))
    return EXIT_OK


def cmd_approvals(args: argparse.Namespace) -> int:
    client = _client()
    print(render.approvals(client.pending_approvals(), client.gateway_url))
    return EXIT_OK


def cmd_inbox(args: argparse.Namespace) -> int:
    emails = _client().inbox()
    if not emails:
        print("the local inbox is empty: no approval email was sent yet")
    for email in emails:
        print(f"to {', '.join(email['to'])}: {email['subject']}")
        for link in email["links"]:
            print(f"  {link}")
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    from controlroom.errors import IncidentNotFound
    from controlroom.local import trace, trace_text

    try:
        found = trace.load(_client(), args.incident_id)
    except IncidentNotFound as exc:
        print(f"controlroom: error: not found: {exc}", file=sys.stderr)
        return 4  # the CLI's "not found" exit code
    print(found.to_json() if args.json else trace_text.render(found, verbose=args.verbose))
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.table:
        from controlroom.store.remote import verify_deployed

        report = verify_deployed(args.incident_id, table=args.table, region=args.region, key=args.key)
    else:
        report = _client().verify_audit(args.incident_id)
    print(render.audit(report))
    if report.ok:
        return EXIT_OK
    return EXIT_UNKEYED if report.status == "unkeyed" else EXIT_FAILED


def cmd_replay(args: argparse.Namespace) -> int:
    from controlroom.llm.replay import replay_incident

    client = _client()
    # Replay runs Diagnose and Plan here, against the engine's tables.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": client.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "CHECKPOINT_TABLE": client.outputs["CheckpointTableName"],
            "AUDIT_TABLE": client.outputs["AuditTableName"],
            "AUDIT_KEY_ID": client.outputs.get("AuditKeyArn", ""),
        }
    )
    replayed = replay_incident(client.checkpoint, args.incident_id)
    if not replayed:
        print(f"{args.incident_id}: no model exchange was recorded (the rules decided); nothing to replay")
        return EXIT_OK
    recorded = {record.agent: record.output for record in client.timeline(args.incident_id)}
    differences = 0
    for purpose, decision in replayed.items():
        now, then = decision.model_dump(mode="json"), recorded.get(purpose) or {}
        changed = sorted(key for key in now.keys() | then.keys() if now.get(key) != then.get(key))
        differences += bool(changed)
        print(f"{purpose}: " + ("same decision" if not changed else f"DIFFERS in {', '.join(changed)}"))
        for key in changed:
            print(f"  {key}: recorded {json.dumps(then.get(key))[:300]}")
            print(f"  {key}: replayed {json.dumps(now.get(key))[:300]}")
    return EXIT_OK if differences == 0 else EXIT_FAILED


def cmd_demo(args: argparse.Namespace) -> int:
    # Checked before importing the engine (moto, boto3 and the CDK synthesis take seconds to minutes).
    from controlroom.local import preflight

    try:
        if args.flow == "deployment":
            preflight.check_port(args.port)
            from controlroom.local.deploy_cli import run_deployment_demo

            return run_deployment_demo(outcome=args.outcome, port=args.port)
        preflight.check_terminal(args.decision)
        preflight.check_port(args.port)
        from controlroom.local.demo import PlanNotShown, run_demo

        try:
            return run_demo(
                decision=args.decision,
                port=args.port,
                protected=args.protected,
                cache=False if args.no_cache else None,
            )
        except PlanNotShown as exc:
            print(f"controlroom demo: {exc}", file=sys.stderr)
            return EXIT_FAILED
    except preflight.PreflightError as exc:
        print(f"controlroom demo: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="controlroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="synthesize, deploy locally, fire the sample alarm, approve, show the timeline"
    )
    demo.add_argument(
        "--decision",
        choices=["approve", "reject"],
        help="decide without asking (exit 0 only if the flow reaches the expected terminal state)",
    )
    demo.add_argument("--port", type=int, default=0, help="port for local AWS (default: a free one)")
    demo.add_argument(
        "--protected", action="store_true", help="tag the service controlroom:protected (policy deny)"
    )
    demo.add_argument("--flow", choices=["incident", "deployment"], default="incident")
    demo.add_argument(
        "--no-cache",
        action="store_true",
        help="synthesize again even if build/cdk.out.cache holds a synthesis of the same inputs "
        "(also: CONTROLROOM_SYNTH_CACHE=0)",
    )
    demo.add_argument(
        "--outcome",
        choices=["healthy", "regression"],
        default="healthy",
        help="--flow deployment: canary the healthy candidate (Promoted) or the regressing one (RolledBack)",
    )
    demo.set_defaults(func=cmd_demo)
    up = sub.add_parser("up", help="run the local engine until Ctrl-C")
    up.add_argument(
        "--port", type=int, default=4599, help="port for local AWS (default: 4599; 0: a free one)"
    )
    from controlroom.local.preflight import environment_choices

    up.add_argument(
        "--env", default="local", choices=environment_choices(), help="the cdk.json environment to deploy"
    )
    up.add_argument("--no-world", action="store_true", help="do not create the demo workload")
    up.add_argument("--cdk-out", help="deploy this synthesized cdk.out instead of synthesizing")
    up.add_argument(
        "--no-cache",
        action="store_true",
        help="synthesize again even if build/cdk.out.cache holds a synthesis of the same inputs",
    )
    up.set_defaults(func=cmd_up)
    fire = sub.add_parser("fire", help="put an event on the local EventBridge bus")
    fire.add_argument("event_file")
    fire.add_argument("--now", action="store_true", help="set the event's timestamps to now")
    fire.add_argument("--wait", action="store_true", help="wait for the execution to finish")
    fire.add_argument("--timeout", type=float, default=120.0)
    fire.set_defaults(func=cmd_fire)
    sub.add_parser("approvals", help="list pending approvals").set_defaults(func=cmd_approvals)
    sub.add_parser("inbox", help="approval emails sent by the local engine, with their links").set_defaults(
        func=cmd_inbox
    )
    for verdict in ("approve", "reject"):
        decide = sub.add_parser(verdict, help=f"{verdict} a pending approval as cli:<user>")
        decide.add_argument("approval_id")
        decide.add_argument("--comment", default="")
        decide.set_defaults(func=lambda a, v=verdict: _decide(_client(), a.approval_id, v, a.comment))
    replay = sub.add_parser(
        "replay", help="re-run Diagnose and Plan with the incident's recorded model answers"
    )
    replay.add_argument("incident_id")
    replay.set_defaults(func=cmd_replay)
    from controlroom.local.deploy_cli import register as register_deploy

    register_deploy(sub)
    trace = sub.add_parser(
        "trace",
        help="the incident's (or deployment's, dep-...) timeline: steps, votes, waits",
        description="Each step with its UTC time, agent, duration and decision; the human votes (approver,\n"
        "comment, time); the waits between steps; Execute's changes and missing evidence in full.\n"
        "Exit 4: no incident or deployment has that id.",
        epilog="examples:\n  controlroom trace inc-0123456789abcdef\n  controlroom trace inc-0123456789abcdef -v\n"
        "  controlroom trace dep-0123456789abcdef --json | jq '.waits'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trace.add_argument("incident_id", help="an incident id (inc-...) or a deployment id (dep-...)")
    trace.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: kind, id, status, steps (timestamps, agent, summary, details, changes, "
        "missing_evidence, context passed and left out), approvals with votes, waits",
    )
    trace.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show each step's context passed and left out, and its tools",
    )
    trace.set_defaults(func=cmd_trace)
    audit = sub.add_parser("audit", help="audit chain tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="recompute an incident's hash chain and check its keyed head "
        "(exit 0 verified, 1 broken, 3 previous unkeyed format)",
    )
    verify.add_argument("incident_id")
    verify.add_argument(
        "--table", help="a deployed environment's audit table (e.g. controlroom-prod-audit) instead of local"
    )
    verify.add_argument("--region", help="its region (default: the AWS SDK's)")
    verify.add_argument(
        "--key", help="the audit HMAC key (id, ARN or alias; default alias/<table>, as the CDK app names it)"
    )
    verify.set_defaults(func=cmd_audit_verify)
    from controlroom.local.rca_eval import register_eval

    register_eval(sub)
    autonomy_cli.register(sub)
    scorecard_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except (EngineNotRunning, ValueError, FileNotFoundError, ControlroomError, OSError, TimeoutError) as exc:
        print(f"controlroom {args.command}: {exc}", file=sys.stderr)
        return (
            EXIT_USAGE if isinstance(exc, ValueError | EngineNotRunning | FileNotFoundError) else EXIT_FAILED
        )
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
