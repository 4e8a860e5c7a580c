"""The kill-switch monitor (a Lambda, not an agent): the AutonomyHalted gauge, and an audit record per flip.

A schedule invokes it every minute, so the ops alarm on the gauge fires for as long as the switch is
on. CloudTrail's record of a PutParameter on the switch invokes it too: that event names who
flipped it (the IAM principal), which the parameter's own value can only claim.
"""

from __future__ import annotations

from typing import Any

from controlroom.autonomy import current
from controlroom.autonomy.control import audit_chain
from controlroom.metric_names import AUTONOMY_HALTED
from controlroom.runtime import emit, logger, stores
from controlroom.runtime.observability import bind_environment
from controlroom.settings import settings

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


def _principal(detail: dict[str, Any]) -> str:
    identity = detail.get("userIdentity") or {}
    return str(identity.get("arn") or identity.get("principalId") or identity.get("type") or "unknown")


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Emit the gauge (1 while halted, 0 otherwise); audit a flip reported by CloudTrail.

    Returns
    -------
    dict
        ``halted``, ``detail`` and, for a flip, ``audited_by``.
    """
    config = settings()
    bind_environment(config.ENVIRONMENT)
    reading = current(config, force_fetch=True)
    emit.count(AUTONOMY_HALTED, 1 if reading.halted else 0)
    result: dict[str, Any] = {"halted": reading.halted, "detail": reading.detail}
    if isinstance(event, dict) and event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        detail = event.get("detail") or {}
        who = _principal(detail)
        stores().audit.append(
            audit_chain(config.ENVIRONMENT),
            "autonomy_switch",
            who,
            {
                "parameter": config.AUTONOMY_PARAMETER,
                "event_name": detail.get("eventName"),
                "event_id": detail.get("eventID"),
                "event_time": detail.get("eventTime"),
                "source": "cloudtrail",
                "after": reading.model_dump(mode="json"),
            },
        )
        result["audited_by"] = who
    logger.info("kill switch read", halted=reading.halted, detail=reading.detail)
    return result
