"""How the `controlroom` command reports: its exit codes, JSON on stdout, errors on stderr, closed pipes.

Scripts rely on three things here: an exit code per kind of outcome (one constant each, listed in
``controlroom --help`` and the README), exactly one JSON document on stdout under ``--json``, and
no traceback for an error we expect.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from controlroom.errors import ApprovalNotFound, ControlroomError, DeploymentNotFound, IncidentNotFound
from controlroom.local.client import EngineNotRunning

EXIT_OK = 0
"""Done: what you asked for happened (a verified chain, a Resolved incident under ``fire --wait``)."""
EXIT_FAILED = 1
"""What you asked failed: a BROKEN or UNKEYED chain, an incident ending other than Resolved, a refusal."""
EXIT_USAGE = 2
"""Usage: a bad argument, a missing or malformed file (argparse's own errors exit 2 too)."""
EXIT_UNKEYED = EXIT_FAILED
"""`audit verify` of a chain in the previous, unkeyed format: consistent but not tamper-evident, not a pass."""
EXIT_NO_ENGINE = 3
"""No engine: no `controlroom up` runs in this checkout, or it stopped answering."""
EXIT_NOT_FOUND = 4
"""Not found: no incident, approval, deployment or audit chain with that id."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as a shell reports it."""
EXIT_CLOSED_PIPE = 141
"""The reader closed stdout early (``controlroom incidents | head -1``): 128 + SIGPIPE, as for any Unix
tool killed by SIGPIPE, and nothing is printed about it."""

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}    done
  {EXIT_FAILED}    what you asked failed (audit chain BROKEN or UNKEYED, `fire --wait` ended other than
       Resolved, a decision refused, a replay that differs)
  {EXIT_USAGE}    usage: bad arguments, a missing or malformed file
  {EXIT_NO_ENGINE}    no engine: start one with `controlroom up`
  {EXIT_NOT_FOUND}    not found: unknown incident, approval, deployment or audit chain
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_CLOSED_PIPE}  stdout closed early by its reader (`| head`); nothing more is written"""

_NOT_FOUND = (IncidentNotFound, ApprovalNotFound, DeploymentNotFound)


def add_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_text: str,
    examples: list[str],
    notes: str = "",
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its purpose, then ``notes`` and ``examples`` as written."""
    epilog = (notes + "\n\n" if notes else "") + "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text[:1].upper() + help_text[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def emit_json(document: BaseModel | dict[str, Any]) -> None:
    """Print one JSON document on stdout: the only thing a command prints there under ``--json``.

    A pydantic model is dumped with ``model_dump(mode="json")``, so its documented field names are
    the keys and datetimes are ISO 8601 strings.
    """
    payload = document.model_dump(mode="json") if isinstance(document, BaseModel) else document
    print(json.dumps(payload, indent=2, sort_keys=False))


def error(message: str) -> None:
    """An error line on stderr, in argparse's own form."""
    print(f"controlroom: error: {message}", file=sys.stderr)


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code for an error we expect, or None for one that is a bug (keep its traceback)."""
    from botocore.exceptions import EndpointConnectionError

    if isinstance(exc, EngineNotRunning | EndpointConnectionError):
        return EXIT_NO_ENGINE
    if isinstance(exc, _NOT_FOUND):
        return EXIT_NOT_FOUND
    # A missing or malformed input file, a bad value (pydantic's ValidationError is a ValueError).
    if isinstance(exc, ValueError | FileNotFoundError):
        return EXIT_USAGE
    if isinstance(exc, ControlroomError | TimeoutError | OSError):
        return EXIT_FAILED
    return None


def silence_stdout() -> None:
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that flush from raising too.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command: expected errors become a line on stderr and their exit code, never a traceback."""
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the guard: a closed pipe often shows only when the buffer is flushed
        return code
    except BrokenPipeError:
        silence_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        expected = exit_code_of(exc)
        if expected is None:
            raise
        message = str(exc) or type(exc).__name__
        # Scripts and people grep for it: every unknown id reads "not found: no incident inc-...".
        error(f"not found: {message}" if expected == EXIT_NOT_FOUND else message)
        return expected
