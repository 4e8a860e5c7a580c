"""`controlroom autonomy halt|resume|status` and `controlroom scorecard` against the local engine."""

from __future__ import annotations

import argparse
import getpass

from controlroom.autonomy import SwitchState, interpret
from controlroom.autonomy.control import flip, read_value
from controlroom.contracts.policy import AutonomyMode
from controlroom.local.cli_output import EXIT_OK, add_command
from controlroom.local.client import EngineClient


def _deploy_mode(client: EngineClient) -> AutonomyMode:
    """The mode the Policy function was deployed with (its AUTONOMY_MODE)."""
    configuration = client.aws("lambda").get_function_configuration(
        FunctionName=client.outputs["PolicyFunctionName"]
    )
    return AutonomyMode(configuration["Environment"]["Variables"].get("AUTONOMY_MODE", "supervised"))


def _status_line(client: EngineClient) -> str:
    parameter = client.outputs["AutonomyParameterName"]
    switch = read_value(client.aws("ssm"), parameter)
    deploy_mode = _deploy_mode(client)
    if switch is None:
        return f"{parameter}: missing or malformed: HALTED (failing closed); deploy mode {deploy_mode.value}"
    reading = interpret(switch, deploy_mode)
    state = "HALTED" if reading.halted else "running"
    when = f" at {switch.changed_at.isoformat()}" if switch.changed_at else ""
    who = f"; last flipped by {switch.changed_by}{when}" if switch.changed_by else ""
    why = f" ({switch.reason})" if switch.reason else ""
    return f"{parameter}: {state}, mode {reading.mode.value}{who}{why}"


def cmd_autonomy(args: argparse.Namespace) -> int:
    client = EngineClient.from_state_file()
    if args.autonomy_command != "status":
        state = SwitchState.HALT if args.autonomy_command == "halt" else SwitchState.RUN
        flip(
            client.aws("ssm"),
            client.audit,
            client.outputs["AutonomyParameterName"],
            environment=client.outputs["AutonomyParameterName"].split("/")[2],
            state=state,
            changed_by=f"cli:{getpass.getuser()}",
            reason=args.reason,
            mode=AutonomyMode(args.mode) if args.mode else None,
        )
    print(_status_line(client))
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``autonomy`` (and ``scorecard``) subcommands to the ``controlroom`` parser."""
    autonomy = add_command(
        sub,
        "autonomy",
        "the environment's kill switch and autonomy mode",
        ["controlroom autonomy status", "controlroom autonomy halt --reason 'bad deploy in flight'"],
    )
    autonomy_sub = autonomy.add_subparsers(dest="autonomy_command", required=True)
    for name, text, example in (
        (
            "halt",
            "stop controlroom acting now: nothing executes, incidents escalate as halted",
            "controlroom autonomy halt --reason 'investigating INC-42'",
        ),
        (
            "resume",
            "let controlroom act again (as its autonomy mode allows)",
            "controlroom autonomy resume --mode supervised --reason 'INC-42 closed'",
        ),
    ):
        command = add_command(autonomy_sub, name, text, [example])
        command.add_argument("--reason", default="", help="why (kept in the switch and the audit record)")
        command.add_argument("--mode", choices=[m.value for m in AutonomyMode], help="also set the mode")
        command.set_defaults(func=cmd_autonomy)
    add_command(
        autonomy_sub, "status", "halted or running, the mode, who flipped it", ["controlroom autonomy status"]
    ).set_defaults(func=cmd_autonomy)
