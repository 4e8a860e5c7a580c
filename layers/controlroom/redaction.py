"""Redact secrets (and, for a model, account identifiers) from untrusted text before it is sent or stored.

Powertools data masking erases fields by path; evidence hides secrets *inside* free text (log
lines, descriptions, JSON pasted into a message), so this module scans every string with patterns
per kind and counts what it replaced. The counts go into the decision record; the values never
leave the function. Two profiles: ``redact`` (before a model: secrets, emails, account ids) and
``redact_for_storage`` (before anything is written: secrets only, so ARNs, approver emails, hashes
and plan digests stay as they are).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

# A key, an optional closing quote (JSON: "password": "x"), a separator, then the value.
_KEYED_VALUE = r"""["']?\s*(?:[:=]|=>)\s*["']?(?!\[REDACTED)[^\s"',;&}]+"""
# Keys are not matched inside ARNs and paths (arn:...:secret:name, /token/...).
_KEY_START = r"(?<![:/\w.-])"


def _is_basic_credential(match: re.Match[str]) -> bool:
    """Basic auth is base64 of user:password; anything else after "basic" is ordinary prose."""
    try:
        return b":" in base64.b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False


# (kind, pattern, kept prefix, predicate). Order matters: specific shapes before generic ones, ARNs
# before bare 12-digit account ids.
_Pattern = tuple[str, re.Pattern[str], str, Callable[[re.Match[str]], bool] | None]
_SECRET_PATTERNS: list[_Pattern] = [
    (
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        "",
        None,
    ),
    # Anchored on "://" (a lookbehind), not on the scheme: a scheme-shaped run can start at every dot or
    # dash of a long host list, and trying each start made one 64 KB line cost seconds (quadratic).
    ("url_credentials", re.compile(r"(?<=://)[^\s/:@\"']*:[^\s/@\"']+(?=@)"), "", None),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), "", None),
    (
        "aws_secret_key",
        re.compile(
            r"(?i)(\baws_?secret(?:_access)?_?key\b|\bsecret_?access_?key\b)"
            r"[\"']?\s*(?:[:=]|=>)\s*[\"']?[A-Za-z0-9/+=]{40}"
        ),
        r"\1=",
        None,
    ),
    ("jwt", re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"), "", None),
    (
        "token",
        re.compile(
            r"\bsk-ant-[A-Za-z0-9_-]{10,}|\bsk-[A-Za-z0-9]{20,}|\bgh[pousr]_[A-Za-z0-9]{20,}"
            r"|\bgithub_pat_[A-Za-z0-9_]{20,}|\bglpat-[A-Za-z0-9_-]{20}|\bxox[abposr]-[A-Za-z0-9-]{10,}"
            r"|\bnpm_[A-Za-z0-9]{36}|\bAIza[0-9A-Za-z_-]{35}"
        ),
        "",
        None,
    ),
    ("token", re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"), r"\1 ", None),
    ("basic_auth", re.compile(r"(?i)\b(basic)\s+([A-Za-z0-9+/]{6,}={0,2})"), r"\1 ", _is_basic_credential),
    ("token", re.compile(r"(?i)" + _KEY_START + r"([\w.-]*?token)" + _KEYED_VALUE), r"\1=", None),
    (
        "password",
        re.compile(r"(?i)" + _KEY_START + r"([\w.-]*?(?:pass(?:word|wd)?|pwd))" + _KEYED_VALUE),
        r"\1=",
        None,
    ),
    (
        "secret",
        re.compile(r"(?i)" + _KEY_START + r"([\w.-]*?(?:secret|api[_-]?key|private[_-]?key))" + _KEYED_VALUE),
        r"\1=",
        None,
    ),
]
_IDENTITY_PATTERNS: list[_Pattern] = [
    # The local part starts where its run of allowed characters starts (not at every dot in it: quadratic).
    ("email", re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "", None),
    ("aws_account_id", re.compile(r"(arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:)\d{12}(?=:)"), r"\1", None),
    ("aws_account_id", re.compile(r"(?<![\d.])\d{12}(?!\d)"), "", None),
]
_MODEL_PATTERNS = _SECRET_PATTERNS + _IDENTITY_PATTERNS
# Structured data: a string under one of these keys (compared lower-case, without _ and -) is a secret
# whatever it looks like.
_SECRET_KEY_SUFFIXES = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "secretkey",
    "secretaccesskey",
    "token",
    "apikey",
    "privatekey",
    "authorization",
    "credential",
    "credentials",
)


def _apply(text: str, patterns: list[_Pattern], counts: Counter[str] | None) -> str:
    for kind, pattern, keep, predicate in patterns:
        marker = f"[REDACTED:{kind}]"

        def _replace(
            match: re.Match[str],
            kind: str = kind,
            keep: str = keep,
            marker: str = marker,
            predicate: Callable[[re.Match[str]], bool] | None = predicate,
        ) -> str:
            if predicate is not None and not predicate(match):
                return match.group(0)
            if counts is not None:
                counts[kind] += 1
            return (match.expand(keep) if keep else "") + marker

        text = pattern.sub(_replace, text)
    return text


def _is_secret_key(key: str) -> bool:
    normalised = re.sub(r"[_\-\s]", "", key).lower()
    return normalised.endswith(_SECRET_KEY_SUFFIXES)


def _walk(value: Any, patterns: list[_Pattern], counts: Counter[str] | None) -> Any:
    if isinstance(value, str):
        return _apply(value, patterns, counts)
    if isinstance(value, dict):
        clean: dict[Any, Any] = {}
        for key, item in value.items():
            name = _apply(str(key), patterns, counts)
            if isinstance(item, str) and item and _is_secret_key(str(key)) and "[REDACTED" not in item:
                if counts is not None:
                    counts["secret_field"] += 1
                clean[name] = "[REDACTED:secret_field]"
            else:
                clean[name] = _walk(item, patterns, counts)
        return clean
    if isinstance(value, list | tuple):
        return [_walk(item, patterns, counts) for item in value]
    return value


def redact_text(text: str, counts: Counter[str] | None = None) -> str:
    """Replace every secret-looking part of ``text`` by ``[REDACTED:<kind>]``; count replacements by kind."""
    return _apply(text, _MODEL_PATTERNS, counts)


def redact(value: Any, counts: Counter[str] | None = None) -> Any:
    """Redact every string inside ``value`` (dicts, lists, strings; keys too) before it reaches a model.

    Secrets, emails and AWS account ids go; the structure stays. A string under a secret-named key
    (``password``, ``SecretAccessKey``, ``SessionToken``, ...) is redacted whole.
    """
    return _walk(value, _MODEL_PATTERNS, counts)


def redact_for_storage(value: Any, counts: Counter[str] | None = None) -> Any:
    """Redact secrets only, before ``value`` is stored (audit records, timeline steps, model inputs).

    Account ids and emails stay: an audit record must name the ARN that was changed and who approved.
    """
    return _walk(value, _SECRET_PATTERNS, counts)
