"""Redact secrets and account identifiers from untrusted text before any of it reaches a model.

Powertools data masking erases fields by path; evidence hides secrets *inside* free text (log
lines, descriptions), so this module scans every string with patterns per kind and counts what
it replaced. The counts go into the decision record; the values never leave the function.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_KEYED_VALUE = r"""\s*(?:[:=]|=>)\s*["']?(?!\[REDACTED)[^\s"',;&]+"""

# Order matters: specific shapes before generic ones, ARNs before bare 12-digit account ids.
_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "",
    ),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), ""),
    (
        "aws_secret_key",
        re.compile(
            r"(?i)(\baws_?secret(?:_access)?_?key\b|\bsecret_?access_?key\b)"
            r"\s*(?:[:=]|=>)\s*[\"']?[A-Za-z0-9/+=]{40}"
        ),
        r"\1=",
    ),
    (
        "token",
        re.compile(
            r"\bsk-ant-[A-Za-z0-9_-]{10,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abposr]-[A-Za-z0-9-]{10,}"
            r"|\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"
        ),
        "",
    ),
    ("token", re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"), r"\1 "),
    ("token", re.compile(r"(?i)\b([\w.-]*?token)" + _KEYED_VALUE), r"\1="),
    ("password", re.compile(r"(?i)\b([\w.-]*?(?:pass(?:word|wd)?|pwd))" + _KEYED_VALUE), r"\1="),
    ("secret", re.compile(r"(?i)\b([\w.-]*?(?:secret|api[_-]?key|private[_-]?key))" + _KEYED_VALUE), r"\1="),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), ""),
    ("aws_account_id", re.compile(r"(arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:)\d{12}(?=:)"), r"\1"),
    ("aws_account_id", re.compile(r"(?<![\d.])\d{12}(?!\d)"), ""),
]


def redact_text(text: str, counts: Counter[str] | None = None) -> str:
    """Replace every secret-looking part of ``text`` by ``[REDACTED:<kind>]``; count replacements by kind."""
    for kind, pattern, keep in _PATTERNS:
        marker = f"[REDACTED:{kind}]"

        def _replace(match: re.Match[str], kind: str = kind, keep: str = keep, marker: str = marker) -> str:
            if counts is not None:
                counts[kind] += 1
            return (match.expand(keep) if keep else "") + marker

        text = pattern.sub(_replace, text)
    return text


def redact(value: Any, counts: Counter[str] | None = None) -> Any:
    """Redact every string inside ``value`` (dicts, lists, strings; keys too), keeping its structure."""
    if isinstance(value, str):
        return redact_text(value, counts)
    if isinstance(value, dict):
        return {redact_text(str(key), counts): redact(item, counts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, counts) for item in value]
    return value
