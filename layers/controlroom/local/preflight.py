"""What `controlroom demo` and `controlroom up` check before any work: a terminal, the port, the environment.

Each check takes milliseconds and imports nothing heavy, so a run that cannot work says why at once
instead of after a minute of synthesis. Every failure is a PreflightError, reported as a usage error.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import TextIO

# Read like infra_cdk/config.py's read_cdk_json_context() and ENVIRONMENTS_KEY (without importing the CDK
# app's package, which is not on the console script's path).
CDK_JSON = "cdk.json"
ENVIRONMENTS_KEY = "environments"
DECISIONS = ("approve", "reject")


class PreflightError(ValueError):
    """This invocation cannot work (no terminal to ask on, port taken, unknown environment)."""


def check_terminal(decision: str | None, stdin: TextIO | None = None) -> None:
    """Asking for a decision needs a terminal on stdin; ``--decision`` makes it unnecessary."""
    if decision is not None:
        return
    stream = sys.stdin if stdin is None else stdin
    if stream is None or stream.closed or not stream.isatty():
        raise PreflightError(f"no terminal to ask on: pass --decision {'|'.join(DECISIONS)}")


def check_port(port: int) -> None:
    """``port`` (0: any free one) can be bound on 127.0.0.1 right now.

    SO_REUSEADDR as the server itself binds (werkzeug sets it): connections of a previous run still in
    TIME_WAIT do not make a restart fail, a live listener does.
    """
    if not port:
        return
    if not 0 < port < 65536:
        raise PreflightError(f"--port {port} is not a TCP port (1-65535, or 0 for a free one)")
    refused = bind_error(port)
    if refused is not None:
        raise PreflightError(
            f"port {port} on 127.0.0.1 is in use ({refused.strerror or refused}): stop what listens there "
            "(another `controlroom up`?) or pick another with --port (0 picks a free one)"
        ) from refused


def bind_error(port: int) -> OSError | None:
    """Why 127.0.0.1:``port`` cannot be bound now, or None: the same bind the server will make."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server itself binds (werkzeug sets SO_REUSEADDR): connections of a previous run still in
        # TIME_WAIT must not fail a restart on the same port; a live listener still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc
    return None


def environment_names(root: Path) -> list[str]:
    """The environments cdk.json's context defines, sorted; PreflightError if cdk.json cannot say."""
    path = root / CDK_JSON
    try:
        context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError) as exc:
        raise PreflightError(f"cannot read the environments from {path}: {exc}") from exc
    environments = context.get(ENVIRONMENTS_KEY) if isinstance(context, dict) else None
    if not isinstance(environments, dict) or not environments:
        raise PreflightError(f"{path} defines no environments (context key '{ENVIRONMENTS_KEY}')")
    return sorted(environments)


def check_environment(env: str, root: Path) -> None:
    """``env`` is one of the environments cdk.json defines."""
    names = environment_names(root)
    if env not in names:
        raise PreflightError(f"unknown environment {env!r}: cdk.json defines {', '.join(names)}")


def check_cdk_out(path: Path, env: str) -> None:
    """A cdk.out given to deploy instead of synthesizing holds the stack of ``env``.

    Deploying it needs no cdk.json: the environment is checked against the assembly itself.
    """
    if not (path / "manifest.json").is_file():
        raise PreflightError(f"--cdk-out {path}: not a synthesized cloud assembly (no manifest.json)")
    if not (path / f"controlroom-{env}.template.json").is_file():
        stacks = sorted(p.name.removesuffix(".template.json") for p in path.glob("*.template.json"))
        raise PreflightError(
            f"--cdk-out {path} holds no stack for env {env!r} (it holds: {', '.join(stacks) or 'none'})"
        )


def environment_choices() -> list[str] | None:
    """cdk.json's environments for argparse ``choices``; None outside a checkout (checked later)."""
    from controlroom.local.paths import repo_root

    try:
        return environment_names(repo_root())
    except (PreflightError, FileNotFoundError):
        return None
