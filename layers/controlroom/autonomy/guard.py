"""The last check before Execute changes anything: the kill switch, and the target's protected tag."""

from __future__ import annotations

from typing import Any

from controlroom import aws
from controlroom.autonomy.switch import SwitchReading
from controlroom.contracts import IncidentRef
from controlroom.errors import ActionNotAllowed, AutonomyHalted
from controlroom.metric_names import AUTONOMY_HALTED_ACTIONS
from controlroom.policy.scope import PlanScope, ScopedResource
from controlroom.settings import Settings
from controlroom.tools.target_tags import target_tags


def before_action(action: Any, incident: IncidentRef, settings: Settings, *, dry_run: bool) -> SwitchReading:
    """Refuse to start ``action`` if the switch is on now, or (for a real change) its target is protected.

    The switch is read without the cache: an approval can wait for hours, and halt must stop what
    was allowed before it was flipped. Policy already refused protected targets; reading the tag
    again here closes the gap of a tag added after Policy decided.

    Raises
    ------
    AutonomyHalted
        The kill switch is on (or unreadable): nothing runs, the flow escalates as ``halted``.
    ActionNotAllowed
        The target is tagged ``controlroom:protected`` = true, or its tags cannot be read.
    """
    from controlroom import autonomy
    from controlroom.runtime import emit

    reading = autonomy.current(settings, force_fetch=True)
    if reading.halted:
        emit.count(AUTONOMY_HALTED_ACTIONS)
        raise AutonomyHalted(f"{action.action_id} ({action.type}) not started: {reading.detail}")
    if not dry_run:
        # The action's own resource is its scope: Execute re-checks the tag, not the binding.
        scope = PlanScope(
            (ScopedResource(incident.resource.kind, incident.resource.name, incident.resource.cluster),)
        )
        tags = target_tags(action, scope, aws.client, incident.account, incident.region)
        # An SSM document names its targets in its parameters, bound by Policy against the diagnosis,
        # which Execute does not receive; a protected one it resolves to is still refused below.
        if not tags.read and action.type not in ("notify_only", "run_ssm_automation"):
            raise ActionNotAllowed(f"{action.action_id}: {tags.detail}; refusing to change an unknown target")
        if tags.protected:
            raise ActionNotAllowed(f"{action.action_id}: {action.target} is tagged controlroom:protected")
    return reading
