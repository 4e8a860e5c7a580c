"""SNS notifications to the on-call: one publish helper that respects SNS's limits."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from controlroom.aws import client

if TYPE_CHECKING:
    from controlroom.runtime.context import AgentContext

# What a message is, as the SNS message attribute "kind": subscribers filter on it (a pager wants
# escalations, not close notices). controlroom's ops alarms publish through CloudWatch and carry none.
NotificationKind = Literal["escalation", "closed", "advice", "deployment"]

SUBJECT_LIMIT = 100
# SNS rejects messages over 256 KiB; stay well under it, counting bytes, not characters.
MESSAGE_LIMIT_BYTES = 200_000
_NOT_SUBJECT_SAFE = re.compile(r"[^\x20-\x7e]+")


def subject_line(subject: str) -> str:
    """A subject SNS accepts: printable ASCII on one line, at most 100 characters."""
    cleaned = _NOT_SUBJECT_SAFE.sub(" ", subject).strip() or "controlroom"
    if len(cleaned) <= SUBJECT_LIMIT:
        return cleaned
    return cleaned[: SUBJECT_LIMIT - 3].rstrip() + "..."


def publish(
    topic_arn: str,
    subject: str,
    message: str,
    *,
    kind: NotificationKind,
    environment: str = "",
    incident: str = "",
) -> bool:
    """Publish ``message`` to ``topic_arn``.

    Parameters
    ----------
    topic_arn
        The SNS topic; empty means notifications are not configured.
    subject
        Email subject; cleaned and truncated to SNS's 100-character limit.
    message
        The body; truncated (with a marker) if it would exceed SNS's size limit.
    kind, environment, incident
        Sent as the message attributes ``kind``, ``environment`` and ``incident`` (the last two when
        given), for subscription filter policies.

    Returns
    -------
    bool
        True if SNS accepted the message, False if no topic is configured. SNS errors propagate:
        the caller decides whether a lost notification is fatal.
    """
    if not topic_arn:
        return False
    body = message.encode("utf-8")
    if len(body) > MESSAGE_LIMIT_BYTES:
        message = body[:MESSAGE_LIMIT_BYTES].decode("utf-8", errors="ignore") + "\n[truncated]"
    attributes = {"kind": kind, "environment": environment, "incident": incident}
    client("sns").publish(
        TopicArn=topic_arn,
        Subject=subject_line(subject),
        Message=message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value
        },
    )
    return True


def publish_for(ctx: AgentContext, subject: str, message: str, *, kind: NotificationKind) -> bool:
    """``publish`` to the agent's topic as a recorded tool call, with the environment and the incident."""
    with ctx.tool("sns.publish") as call:
        notified = publish(
            ctx.settings.TOPIC_ARN,
            subject,
            message,
            kind=kind,
            environment=ctx.settings.ENVIRONMENT,
            incident=ctx.incident_id or "",
        )
        call.summary = "published" if notified else "no topic configured"
    return notified
