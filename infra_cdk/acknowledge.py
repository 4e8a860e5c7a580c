"""cdk-nag acknowledgments: one way to record a known, reasoned finding on a construct."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Token, Validations

PACK = "AwsSolutions"


def acknowledge(construct: object, rule: str, reason: str) -> None:
    """Acknowledge finding ``rule`` (e.g. "IAM5[Resource::...]") of the AwsSolutions pack, with its reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))  # type: ignore[arg-type]


def rendered(value: str, pseudo: str) -> str:
    """How cdk-nag names a value in a finding id: an unresolved token appears as ``<AWS::Region>`` etc."""
    return f"<{pseudo}>" if Token.is_unresolved(value) else value
