"""Flip the kill switch (halt, resume, change the mode) and audit who did it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from controlroom.autonomy.switch import AutonomySwitch, SwitchState, parse_switch
from controlroom.contracts import utcnow
from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.store import AuditLog


def audit_chain(environment: str) -> str:
    """The audit chain of one environment's switch flips (``controlroom audit verify`` checks it too)."""
    return f"autonomy-{environment}"


def read_value(ssm: Any, parameter: str) -> AutonomySwitch | None:
    """The switch as stored now, or None when the parameter does not exist (or does not parse)."""
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    try:
        return parse_switch(value)
    except ValueError:
        return None


def flip(
    ssm: Any,
    audit: AuditLog,
    parameter: str,
    *,
    environment: str,
    state: SwitchState,
    changed_by: str,
    reason: str = "",
    mode: AutonomyMode | None = None,
) -> AutonomySwitch:
    """Write the switch and append an audit record naming who flipped it, before and after.

    Parameters
    ----------
    ssm
        An SSM client for the environment's account and region.
    audit
        The environment's audit log; the record goes to chain ``autonomy-<env>``.
    state
        ``halt`` or ``run``.
    changed_by
        Who is flipping it (the CLI passes ``cli:<user>``).
    mode
        A new autonomy mode; None keeps the one the switch holds (or the deploy's).

    Returns
    -------
    AutonomySwitch
        What the parameter now holds.
    """
    before = read_value(ssm, parameter)
    after = AutonomySwitch(
        state=state,
        mode=mode or (before.mode if before else None),
        changed_by=changed_by,
        reason=reason,
        changed_at=utcnow(),
    )
    ssm.put_parameter(
        Name=parameter, Type="String", Value=after.model_dump_json(exclude_none=True), Overwrite=True
    )
    audit.append(
        audit_chain(environment),
        "autonomy_switch",
        changed_by,
        {
            "parameter": parameter,
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json"),
        },
    )
    return after
