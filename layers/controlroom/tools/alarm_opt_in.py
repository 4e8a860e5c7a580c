"""Intake's opt-in check: does the alarm carry the environment's opt-in tag?

EventBridge's alarm state-change events carry no tags, so an environment that opts alarms in by tag
(``alarm_opt_in_tag`` in cdk.json, ALARM_OPT_IN_TAG here) asks CloudWatch for the alarm's tags.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.errors import TransientDependencyError

# Errors that mean "ask again later"; anything else (AccessDenied, a bad ARN) is a configuration fault.
_TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServiceFault",
}


def parse_opt_in_tag(spec: str) -> tuple[str, str | None]:
    """``"key=value"`` -> (key, value); ``"key"`` -> (key, None), which any value satisfies.

    Raises
    ------
    ValueError
        The key is empty.
    """
    key, separator, value = spec.partition("=")
    if not key.strip():
        raise ValueError(f"opt-in tag {spec!r} has no key (write key or key=value)")
    return key.strip(), value.strip() if separator else None


def alarm_tags(cloudwatch: Any, alarm_arn: str) -> dict[str, str] | None:
    """The alarm's tags, or None when the alarm no longer exists.

    Raises
    ------
    TransientDependencyError
        CloudWatch throttled or failed; the state machine retries Intake.
    """
    try:
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn).get("Tags", [])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return None
        if code in _TRANSIENT:
            raise TransientDependencyError(f"cloudwatch:ListTagsForResource: {code}") from exc
        raise
    except BotoCoreError as exc:
        raise TransientDependencyError(f"cloudwatch:ListTagsForResource: {exc}") from exc
    return {tag["Key"]: tag["Value"] for tag in tags}


def opted_in(tags: dict[str, str] | None, spec: str) -> bool:
    """Whether tags satisfy the opt-in spec (``key`` or ``key=value``)."""
    if tags is None:
        return False
    key, value = parse_opt_in_tag(spec)
    return key in tags and (value is None or tags[key] == value)
