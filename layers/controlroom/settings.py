"""Typed settings read from the Lambda environment, validated once at cold start."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlroom.contracts.policy import AutonomyMode
from controlroom.errors import ConfigurationError


class Settings(BaseModel):
    """Every knob an agent reads from its environment; names are the environment variables."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ENVIRONMENT: str = Field("local", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    AUTONOMY_MODE: AutonomyMode = AutonomyMode.SUPERVISED
    CHECKPOINT_TABLE: str = "controlroom-checkpoint"
    AUDIT_TABLE: str = "controlroom-audit"
    TOPIC_ARN: str = ""
    CONFIDENCE_THRESHOLD: float = Field(0.6, ge=0.0, le=1.0)
    EVIDENCE_WINDOW_MINUTES: int = Field(60, ge=1, le=1440)
    CHANGE_WINDOW_MINUTES: int = Field(30, ge=1, le=1440)
    LOG_GROUP_PREFIX: str = "/aws/lambda/"
    INCIDENT_TIME_BUDGET_SECONDS: int = Field(3600, ge=10)
    APPROVAL_TTL_SECONDS: int = Field(3000, ge=5)
    APPROVERS: str = Field("", description="Comma-separated approver emails.")
    REQUIRED_APPROVALS: int = Field(1, ge=1)
    SSM_DOCUMENT_ALLOWLIST: str = "AWS-RestartEC2Instance"
    ACTION_DRY_RUN: bool = False
    AGENT_NAME: str = "unknown"
    APPROVAL_BASE_URL: str = Field("", description="Base URL of the approval callback (no trailing /).")
    APPROVAL_SENDER: str = Field("controlroom@example.com", description="SES Source address of approval emails.")
    APPROVAL_SIGNING_SECRET_ARN: str = Field("", description="Secrets Manager secret holding the link HMAC key.")

    @property
    def approvers(self) -> list[str]:
        return [a.strip() for a in self.APPROVERS.split(",") if a.strip()]

    @property
    def ssm_document_allowlist(self) -> list[str]:
        return [d.strip() for d in self.SSM_DOCUMENT_ALLOWLIST.split(",") if d.strip()]


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Validate the environment into Settings; a bad value names the variable."""
    source = dict(os.environ if environ is None else environ)
    try:
        return Settings.model_validate(source)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(f"environment variable {name}: {first['msg']}") from exc


def settings() -> Settings:
    """The settings of the function now running.

    Not cached: the local engine runs every agent in one process, each with its own environment,
    and validating twenty fields costs microseconds.
    """
    return load_settings()
