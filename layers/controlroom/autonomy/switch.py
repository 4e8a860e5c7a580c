"""The kill switch per environment: one SSM parameter holding halt/run and the autonomy mode.

Policy and Execute read it at run time, right before they act, so stopping controlroom or changing
its autonomy mode needs no deploy (alias-pinned versions would never see a console edit of an
environment variable). The parameter holds JSON, e.g. ``{"state": "halt", "changed_by": "alice"}``,
or a bare word (``halt``/``run``) so the one-line AWS CLI form stays short.
"""

import json
import os
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, ValidationError

from controlroom import aws
from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.contracts.base import Contract
from controlroom.errors import TransientDependencyError

_THROTTLING = {"ThrottlingException", "TooManyUpdates", "InternalServerError", "ServiceUnavailable"}


class SwitchState(StrEnum):
    RUN = "run"
    HALT = "halt"


class AutonomySwitch(Contract):
    """What the parameter holds: whether anything may execute, and (optionally) the autonomy mode."""

    state: SwitchState = Field(SwitchState.RUN, description="halt: nothing executes, incidents escalate.")
    mode: AutonomyMode | None = Field(None, description="Overrides the deploy-time autonomy mode.")
    changed_by: str = Field("", max_length=256, description="Who flipped it (the CLI fills it in).")
    reason: str = Field("", max_length=500)
    changed_at: datetime | None = None


class SwitchReading(Contract):
    """The switch as an agent sees it at one moment; ``detail`` says why it reads as it does."""

    halted: bool
    mode: AutonomyMode
    detail: str
    switch: AutonomySwitch | None = None


def parse_switch(value: str) -> AutonomySwitch:
    """Parse the parameter's value: a JSON object or a bare ``halt``/``run``.

    Raises
    ------
    ValueError
        The value is neither; callers fail closed on it.
    """
    text = value.strip()
    if text.lower() in (SwitchState.HALT, SwitchState.RUN):
        return AutonomySwitch(state=SwitchState(text.lower()))
    try:
        return AutonomySwitch.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        raise ValueError(f"not a kill-switch value ({exc.__class__.__name__}): {text[:80]!r}") from exc


def interpret(switch: AutonomySwitch, deploy_mode: AutonomyMode) -> SwitchReading:
    """The reading of a parsed switch over the deploy-time mode."""
    mode = switch.mode or deploy_mode
    if switch.state is SwitchState.HALT:
        who = f" by {switch.changed_by}" if switch.changed_by else ""
        why = f": {switch.reason}" if switch.reason else ""
        return SwitchReading(halted=True, mode=mode, detail=f"halted{who}{why}", switch=switch)
    source = "the switch" if switch.mode else "the deploy"
    return SwitchReading(
        halted=False, mode=mode, detail=f"running in {mode.value} mode (from {source})", switch=switch
    )


_PROVIDERS: dict[str | None, Any] = {}


def _error_code(exc: BaseException) -> str:
    """The AWS error code behind ``exc``: the SDK error it wraps, or its message's "(Code)"."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, ClientError):
            return str(candidate.response.get("Error", {}).get("Code", "ClientError"))
        if isinstance(candidate, BotoCoreError):
            return type(candidate).__name__
    match = re.search(r"\((\w+)\) when calling", str(exc))
    return match.group(1) if match else type(exc).__name__


def _provider() -> Any:
    # One Powertools provider (and so one cache) per endpoint: the local engine runs every agent in
    # one process against moto, tests against other endpoints.
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint not in _PROVIDERS:
        _PROVIDERS[endpoint] = SSMProvider(boto3_client=aws.client("ssm"))
    return _PROVIDERS[endpoint]


def clear_cache() -> None:
    """Forget cached readings and providers (tests, and the CLI after it flips the switch)."""
    _PROVIDERS.clear()


def read_switch(
    parameter: str, deploy_mode: AutonomyMode, *, max_age: int = 5, force_fetch: bool = False
) -> SwitchReading:
    """Read the environment's kill switch through Powertools parameters, with a short cache.

    Parameters
    ----------
    parameter
        The SSM parameter name (``AUTONOMY_PARAMETER``); empty means no switch is deployed, and the
        deploy-time mode applies.
    deploy_mode
        ``AUTONOMY_MODE``: the mode when the switch names none.
    max_age
        Seconds a reading is cached.
    force_fetch
        Skip the cache (Execute, the last check before a change).

    Returns
    -------
    SwitchReading
        Halted if the switch says so, and also if it is missing, unreadable or malformed: a switch
        that cannot be read must not let anything run.

    Raises
    ------
    TransientDependencyError
        SSM throttled or failed transiently; the state machine retries.
    """
    if not parameter:
        return SwitchReading(
            halted=False, mode=deploy_mode, detail=f"no kill switch; {deploy_mode.value} mode"
        )
    try:
        value = _provider().get(parameter, max_age=max_age, force_fetch=force_fetch)
    except Exception as exc:  # Powertools re-raises every SDK error as GetParameterError (no __cause__)
        code = _error_code(exc)
        if code in _THROTTLING:
            raise TransientDependencyError(f"reading the kill switch {parameter}: {code}") from exc
        return SwitchReading(
            halted=True,
            mode=deploy_mode,
            detail=f"kill switch {parameter} unreadable ({code}): failing closed",
        )
    try:
        switch = parse_switch(str(value))
    except ValueError as exc:
        return SwitchReading(
            halted=True, mode=deploy_mode, detail=f"kill switch {parameter}: {exc}: failing closed"
        )
    return interpret(switch, deploy_mode)
