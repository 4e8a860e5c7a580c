"""Small helpers shared by the evidence tools: AWS timestamp parsing and the not-applicable signal."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")
_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


class NotApplicable(Exception):
    """A tool has nothing to look at for this kind of alarm or resource (not an error of the tool)."""


def parse_aws_timestamp(value: str | datetime) -> datetime:
    """Parse the timestamp shapes AWS APIs return, always timezone-aware.

    Handles ``2019-10-02T17:04:40.985+0000`` (Lambda, CloudWatch), a trailing ``Z`` and
    nanosecond fractions (``...23.929783000Z``) that ``datetime.fromisoformat`` rejects on 3.11.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", text)
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text, count=1)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as CloudWatch Logs takes them."""
    return int(moment.timestamp() * 1000)
