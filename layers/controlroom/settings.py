"""Typed settings read from the Lambda environment, validated once at cold start."""

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controlroom.budgets import execution_timeout_seconds, lock_lease_seconds
from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.errors import ConfigurationError


class Settings(BaseModel):
    """Every knob an agent reads from its environment; names are the environment variables."""

    # defer_build: the schema is built by the first settings() call of a cold start, not at import.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    ENVIRONMENT: str = Field("local", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    AUTONOMY_MODE: AutonomyMode = AutonomyMode.SUPERVISED
    AUTONOMY_PARAMETER: str = Field(
        "", description="SSM parameter of the kill switch (halt/run and the mode); empty = none deployed."
    )
    AUTONOMY_CACHE_SECONDS: int = Field(
        5, ge=0, le=300, description="Seconds a kill-switch reading is cached."
    )
    CHECKPOINT_TABLE: str = "controlroom-checkpoint"
    AUDIT_TABLE: str = "controlroom-audit"
    AUDIT_KEY_ID: str = Field(
        "", description="KMS HMAC_256 key (id, ARN or alias) the audit chain heads are MACed under."
    )
    TOPIC_ARN: str = ""
    CONFIDENCE_THRESHOLD: float = Field(0.6, ge=0.0, le=1.0)
    EVIDENCE_WINDOW_MINUTES: int = Field(60, ge=1, le=1440)
    CHANGE_WINDOW_MINUTES: int = Field(30, ge=1, le=1440)
    LOG_GROUP_PREFIX: str = "/aws/lambda/"
    GRAPH_TOPOLOGY: str = Field(
        "", description="Declared service graph (JSON nodes/edges) used where X-Ray has none."
    )
    GRAPH_PARAMETER_READERS: str = Field(
        "", description='JSON {"<parameter or appconfig:<app> glob>": ["<node id or name>", ...]}.'
    )
    GRAPH_AFTER_ALARM_MINUTES: int = Field(
        20, ge=0, le=120, description="Incident window past the alarm (only a re-read sees data past now)."
    )
    GRAPH_BASELINE_MINUTES: int = Field(180, ge=5, le=20160, description="Length of the baseline window.")
    GRAPH_BASELINE_OFFSET_MINUTES: int = Field(
        0, ge=0, le=20160, description="Gap between the baseline's end and the incident window's start."
    )
    GRAPH_PERIOD_SECONDS: int = Field(300, ge=60, le=3600, description="Period of the graph's metrics.")
    GRAPH_CHANGE_WINDOW_MINUTES: int = Field(
        180, ge=1, le=1440, description="How far back the change feed is read."
    )
    INCIDENT_TIME_BUDGET_SECONDS: int = Field(3600, ge=10)
    APPROVAL_TIMEOUT_SECONDS: int = Field(
        3600, ge=5, description="RequestApproval's TimeoutSeconds (part of the backstop rule, budgets.py)."
    )
    FLOW_REVISION: str = Field("", description="Revision of the flow Intake starts (its decision record).")
    STATE_MACHINE_ALIAS_ARN: str = Field(
        "", description="The flow Intake starts for an admitted alarm (the environment's alias)."
    )
    ALARM_MAX_CLOCK_SKEW_SECONDS: int = Field(
        6 * 3600,
        ge=60,
        description="An alarm whose timestamp is further than this from now is rejected (ClockSkew). "
        "Longer than the alarm rule's maximum event age (2 h), so a retried delivery is never rejected.",
    )
    ALARM_FROM_INSUFFICIENT_DATA: Literal["open", "ignore"] = Field(
        "open",
        description="INSUFFICIENT_DATA -> ALARM: open an incident (safe default: a silent alarm is worse "
        "than a noisy one) or ignore it (for alarms that treat missing data as breaching).",
    )
    MAX_EVENT_BYTES: int = Field(
        200_000,
        ge=1024,
        le=262_144,
        description="Events larger than this (canonical JSON) are rejected (EventTooLarge): the flow "
        "state that carries them must stay under Step Functions' 256 KB limit.",
    )
    REJECTED_EVENT_BUCKET: str = Field(
        "", description="S3 bucket that keeps rejected events too large for the checkpoint table."
    )
    APPROVAL_TTL_SECONDS: int = Field(3000, ge=5)
    APPROVERS: str = Field("", description="Comma-separated approver emails.")
    REQUIRED_APPROVALS: int = Field(1, ge=1)
    SSM_DOCUMENT_ALLOWLIST: str = "AWS-RestartEC2Instance"
    ALARM_OPT_IN_TAG: str = Field(
        "",
        description="Intake opens incidents only for alarms tagged key or key=value; empty = no tag check.",
    )
    ACTION_DRY_RUN: bool = False
    AGENT_NAME: str = "unknown"
    APPROVAL_BASE_URL: str = Field("", description="Base URL of the approval callback (no trailing /).")
    APPROVAL_SENDER: str = Field(
        "controlroom@example.com", description="SES Source address of approval emails."
    )
    APPROVAL_SIGNING_SECRET_ARN: str = Field(
        "", description="Secrets Manager secret holding the link HMAC key."
    )
    MODEL_PROVIDER: Literal["none", "anthropic", "bedrock", "scripted"] = Field(
        "none", description="Which model Diagnose and Plan call; none = always the deterministic fallback."
    )
    MODEL_ID: str = Field(
        "claude-sonnet-4-6", description="Model id (Anthropic API) or Bedrock model/profile id."
    )
    MODEL_API_KEY_SECRET_ARN: str = Field(
        "", description="Secrets Manager secret holding the Anthropic API key."
    )
    MODEL_MAX_TOKENS: int = Field(
        2048, ge=64, le=64000, description="Output tokens asked for per model call."
    )
    MODEL_MAX_RETRIES: int = Field(2, ge=0, le=5, description="SDK retries on 429/5xx/timeouts per call.")
    MODEL_TIMEOUT_SECONDS: float = Field(60.0, gt=0, description="Upper bound of one model call's timeout.")
    MODEL_SCRIPT_FILE: str = Field(
        "", description="JSON script the scripted provider answers from (local demo)."
    )
    MODEL_RECORD_BUCKET: str = Field("", description="S3 bucket for recorded model bodies over 64 KB.")
    MODEL_PRICE_TABLE: str = Field("", description='JSON {"model-id": [usd_per_mtok_in, usd_per_mtok_out]}.')
    TOKEN_BUDGET_PER_INCIDENT: int = Field(
        60000, ge=0, description="Tokens (in + out) all model calls may use."
    )
    BREAKER_FAILURE_THRESHOLD: int = Field(
        3, ge=1, description="Consecutive model failures that open the breaker."
    )
    BREAKER_COOLDOWN_SECONDS: int = Field(
        120, ge=1, description="Seconds an open breaker waits before a probe."
    )

    # The deployment flow (controlroom.deploy); see README "The deployment flow".
    CANARY_STEPS: str = Field(
        "10@300,50@300",
        pattern=r"^\d{1,2}@\d+(,\d{1,2}@\d+)*$",
        description="percent@bake_seconds, comma-separated.",
    )
    CANARY_MAX_EXTENSIONS: int = Field(2, ge=0, le=10, description="Inconclusive bakes a step may add.")
    CANARY_MIN_INVOCATIONS: int = Field(100, ge=1, description="Invocations per version a verdict needs.")
    CANARY_MAX_ERROR_RATE_DELTA: float = Field(
        0.005, ge=0.0, le=1.0, description="Error-rate excess tolerated even when it is significant."
    )
    CANARY_P99_RATIO_LIMIT: float = Field(1.5, ge=1.0, description="Canary p99 over stable p99 that fails.")
    CANARY_SIGNIFICANCE: float = Field(0.01, gt=0.0, lt=0.5, description="One-sided alpha of the z-test.")
    FREEZE_WINDOWS: str = Field(
        "",
        description="Change freezes, ';'-separated: 'daily HH:MM-HH:MM', 'Sat 00:00-Mon 06:00', 'ISO/ISO'.",
    )
    BREAK_GLASS_APPROVALS: int = Field(2, ge=1, description="Approvals a deployment in a freeze needs.")
    DEPLOY_OPT_IN_TAG: str = Field(
        "controlroom:deployable=true", description="Functions the shifter may move: tagged key=value ..."
    )
    DEPLOY_FUNCTION_PREFIX: str = Field("", description="... or named with this prefix (empty: tag only).")
    DEPLOY_TIME_BUDGET_SECONDS: int = Field(7200, ge=10)
    INCIDENT_STATE_MACHINE_ARN: str = Field(
        "", description="The incident flow's alias ARN: a rolled-back deployment opens an incident there."
    )

    @property
    def execution_timeout_seconds(self) -> int:
        """The execution's backstop, by the one rule in controlroom.budgets (the CDK renders the same)."""
        return execution_timeout_seconds(self.INCIDENT_TIME_BUDGET_SECONDS, self.APPROVAL_TIMEOUT_SECONDS)

    @property
    def lock_lease_seconds(self) -> int:
        """How long a started incident's dedupe lock holds (controlroom.budgets.lock_lease_seconds)."""
        return lock_lease_seconds(self.INCIDENT_TIME_BUDGET_SECONDS, self.APPROVAL_TIMEOUT_SECONDS)

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


# The variables Settings reads: a snapshot of them is the cache key of a validated Settings.
_VARIABLES = tuple(Settings.model_fields)


@lru_cache(maxsize=32)
def _validated(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(snapshot))


def settings() -> Settings:
    """The settings of the function now running, validated once per distinct environment.

    In Lambda the environment never changes, so this validates once per cold start. The local engine
    (and the tests) run every agent in one process, each invocation with its own variables: keying
    the cache on the variables Settings reads keeps each one right, at the cost of a dictionary
    lookup per field. A bad value raises ConfigurationError on every call (errors are not cached).
    """
    environ = os.environ
    return _validated(tuple((name, environ[name]) for name in _VARIABLES if name in environ))


def reset_settings() -> None:
    """Forget every validated Settings (tests that patch ``Settings`` or ``load_settings`` itself)."""
    _validated.cache_clear()
