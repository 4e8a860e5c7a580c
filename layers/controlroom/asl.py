"""Render the ASL files: the same text feeds the CDK app and the local engine.

Numeric settings (timeouts, waits, loop limits) are written quoted ("${AgentTimeoutSeconds}") so
each file stays valid JSON; they are rendered as numbers here, per environment. String
placeholders (function ARNs) are left for CloudFormation's DefinitionSubstitutions, or filled in
here when a caller passes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")

NUMERIC_SUBSTITUTIONS = (
    "ExecutionTimeoutSeconds",
    "AgentTimeoutSeconds",
    "ApprovalTimeoutSeconds",
    "VerifyWaitSeconds",
    "MaxVerifyAttempts",
    "MaxHandoffs",
    "RetryIntervalSeconds",
    "RetryMaxAttempts",
)


class AslError(ValueError):
    """An ASL file does not render: a placeholder is missing or the result is not valid JSON."""


def placeholders(text: str) -> set[str]:
    """Every ${Name} in an ASL text."""
    return set(PLACEHOLDER.findall(text))


def render(text: str, numbers: dict[str, int], strings: dict[str, str] | None = None) -> str:
    """Substitute numbers (unquoting them) and, optionally, strings; validate the JSON result."""
    missing = {name for name in placeholders(text) if name in NUMERIC_SUBSTITUTIONS} - set(numbers)
    if missing:
        raise AslError(f"no value for numeric substitution(s): {', '.join(sorted(missing))}")
    for name, value in numbers.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise AslError(f"substitution {name} must be a non-negative integer, got {value!r}")
        text = text.replace(f'"${{{name}}}"', str(value))
    for name, string_value in (strings or {}).items():
        text = text.replace(f"${{{name}}}", string_value)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise AslError(f"rendered ASL is not valid JSON: {exc}") from exc
    return text


def load(path: Path, numbers: dict[str, int], strings: dict[str, str] | None = None) -> str:
    """Read and render one ASL file."""
    return render(path.read_text(encoding="utf-8"), numbers, strings)


def revision(definition: str) -> str:
    """A short content digest of a rendered definition: which flow an incident ran, in every record."""
    return "sha256:" + hashlib.sha256(definition.encode("utf-8")).hexdigest()[:12]
