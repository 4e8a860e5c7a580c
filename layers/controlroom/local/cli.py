"""The `controlroom` command: run the local engine and operate incidents on it.

Every read command takes --json (one JSON document on stdout); errors go to stderr as
`controlroom: error: ...`; the exit codes are the constants of ``cli_output`` (listed by --help).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from controlroom.local import autonomy_cli, operate_cli, scorecard_cli
from controlroom.local.cli_output import (
    EXIT_CLOSED_PIPE,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_ENGINE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNKEYED,
    EXIT_USAGE,
    add_command,
    run,
    silence_stdout,
)
from controlroom.local.client import EngineClient

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "EXIT_CLOSED_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_NO_ENGINE",
    "EXIT_OK",
    "EXIT_UNKEYED",
    "EXIT_USAGE",
    "main",
]

DESCRIPTION = """Run controlroom's local engine and operate incidents on it.

Every read command takes --json: one JSON document on stdout, nothing else there. Errors go to
stderr as `controlroom: error: ...`. `controlroom COMMAND --help` shows a command's examples."""

EXAMPLES = """examples:
  controlroom up                                       # the local engine, until Ctrl-C
  controlroom fire events/alarm_lambda_errors.json --now --wait
  controlroom incidents --status AWAITING_APPROVAL
  controlroom approvals --json | jq -r '.approvals[].approval_id'
  controlroom approve APPROVAL_ID --comment "checked the graphs"
  controlroom trace INCIDENT_ID
  controlroom audit verify INCIDENT_ID || echo "not verified: exit $?"
"""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a closed stdout under --help or --version is reported (exit 141), not ignored."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse swallows OSError here, which would make `controlroom --help | head -c0` exit 0.
        if message:
            (file or sys.stderr).write(message)


def _client() -> EngineClient:
    return operate_cli.client()


def _version() -> str:
    try:
        return metadata.version("controlroom")
    except metadata.PackageNotFoundError:  # running from a checkout that was never pip-installed
        from controlroom import __version__

        return str(__version__)


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


def cmd_trace(args: argparse.Namespace) -> int:
    from controlroom.local import trace, trace_text

    found = trace.load(_client(), args.incident_id)  # IncidentNotFound: "not found", exit 4 (cli_output)
    print(found.to_json() if args.json else trace_text.render(found, verbose=args.verbose))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from controlroom.llm.replay import replay_incident

    client = _client()
    client.incident(args.incident_id)  # an unknown id is "not found" (4), not "nothing to replay"
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
    parser = _Parser(
        prog="controlroom",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"controlroom {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = add_command(
        sub,
        "demo",
        "synthesize, deploy locally, fire the sample alarm, approve, show the trace",
        [
            "controlroom demo                                # asks you to approve, in this terminal",
            "controlroom demo --decision approve             # no questions (CI, no terminal)",
            "controlroom demo --flow deployment --outcome regression --decision approve",
        ],
        notes="Without --decision it needs a terminal to ask on, and says so at once when there is none.",
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
    demo.add_argument(
        "--flow",
        choices=["incident", "deployment"],
        default="incident",
        help="incident: an alarm handled end to end (default); deployment: a canary deployment with its SLO guard",
    )
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
    up = add_command(
        sub,
        "up",
        "run the local engine until Ctrl-C",
        [
            "controlroom up                                  # env local on port 4599, with the demo workload",
            "controlroom up --env dev --no-world --port 0",
            "controlroom up --cdk-out build/cdk.out.local    # deploy a synthesis you made",
        ],
        notes="Then, in another terminal: controlroom fire events/alarm_lambda_errors.json --now",
    )
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
    operate_cli.register(sub)
    replay = add_command(
        sub,
        "replay",
        "re-run Diagnose and Plan with the incident's recorded model answers",
        ["controlroom replay inc-3f2a9c0d11e84b7a"],
        "Exit 0 when every replayed decision is the recorded one, 1 when one differs, 4 for an unknown incident.",
    )
    replay.add_argument("incident_id", help="the incident (inc-...) whose model exchanges to replay")
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
    operate_cli.register_audit(sub)
    from controlroom.local.rca_eval import register_eval

    register_eval(sub)
    autonomy_cli.register(sub)
    scorecard_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run one command and return its exit code (see ``cli_output``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        # --help and --version print, then exit; a closed pipe must not turn that into a traceback.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()
            return EXIT_CLOSED_PIPE
        raise
    except BrokenPipeError:
        silence_stdout()
        return EXIT_CLOSED_PIPE
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
