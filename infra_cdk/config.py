"""Per-environment settings of the CDK app, read from cdk.json context and validated by pydantic."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from controlroom.budgets import execution_timeout_seconds
from controlroom.contracts.policy import AutonomyMode

# absolute(), not resolve(): a workspace that symlinks infra_cdk/ keeps its own root (tests use one).
ROOT = Path(__file__).absolute().parents[1]
CDK_JSON = ROOT / "cdk.json"
ENVIRONMENTS_KEY = "environments"
ENV_KEY = "env"
OVERRIDE_PREFIX = "override:"
# Every alarm controlroom creates about itself starts with this (stack names are controlroom-<env>).
OWN_ALARM_PREFIX = "controlroom-"

# The only retention periods CloudWatch Logs accepts, with their aws_logs.RetentionDays member names.
LOG_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


class ConfigError(ValueError):
    """The cdk.json context (or a command-line override) does not describe a valid environment."""


# Claude model ids as each provider names them. Bedrock: a foundation model ("anthropic.claude-...") or a
# system-defined cross-region inference profile ("us.anthropic.claude-...", "global.", "eu.", "apac.", ...),
# which is exactly what Diagnose's and Plan's IAM grant covers; the Claude API: "claude-...".
BEDROCK_MODEL_ID = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.claude-[A-Za-z0-9._:-]+$")
ANTHROPIC_MODEL_ID = re.compile(r"^claude-[A-Za-z0-9._-]+$")


def model_id_problem(provider: str, model_id: str) -> str | None:
    """Why ``model_id`` cannot work with ``provider``, or None. Checked at synth, before a deploy."""
    if provider == "bedrock" and not BEDROCK_MODEL_ID.match(model_id):
        return (
            "not a Bedrock Anthropic model or inference profile id (e.g. anthropic.claude-sonnet-4-5-20250929-v1:0 "
            "or us.anthropic.claude-sonnet-4-5-20250929-v1:0; ARNs and application inference profiles are not "
            "covered by the agents' IAM grant)"
        )
    if provider == "anthropic" and not ANTHROPIC_MODEL_ID.match(model_id):
        return "not a Claude API model id (e.g. claude-sonnet-4-6); Bedrock ids need model_provider 'bedrock'"
    return None


class EnvironmentConfig(BaseModel):
    """One environment's block of cdk.json context; every key is checked, unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str | None = Field(None, pattern=r"^\d{12}$", description="AWS account id; optional.")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    autonomy_mode: AutonomyMode
    approvers: list[str] = Field(min_length=1)
    required_approvals: int = Field(ge=1)
    alarm_name_prefix: str = Field("", description="Alarms opted in by name prefix; empty = every alarm.")
    alarm_opt_in_tag: str = Field(
        "",
        pattern=r"^([^=\s][^=]*(=.*)?)?$",
        description="Alarms opted in by tag, key or key=value (Intake reads the alarm's tags); with "
        "alarm_name_prefix both must match; empty = no tag check.",
    )
    confidence_threshold: float = Field(ge=0.0, le=1.0)
    agent_timeout_seconds: int = Field(ge=3, le=900, description="Lambda timeout and Task TimeoutSeconds.")
    approval_timeout_seconds: int = Field(ge=5, le=7 * 86400)
    verify_wait_seconds: int = Field(ge=0, le=3600)
    max_verify_attempts: int = Field(ge=1, le=20)
    max_handoffs: int = Field(ge=1, le=100)
    retry_interval_seconds: int = Field(ge=1, le=300)
    retry_max_attempts: int = Field(ge=0, le=10)
    incident_time_budget_seconds: int = Field(ge=10)
    log_retention_days: int
    removal_policy: Literal["destroy", "retain"]
    layer_mode: Literal["full", "source-only"]
    model_provider: Literal["none", "anthropic", "bedrock"] = Field(
        "none",
        description="Diagnose and Plan: none = deterministic rules only; anthropic = Claude API (key in Secrets "
        "Manager); bedrock = Claude on Amazon Bedrock (IAM, no key).",
    )
    model_id: str = Field(
        "claude-sonnet-4-6",
        min_length=1,
        validate_default=True,  # the default is a Claude API id: with bedrock it must be set
        description="Model (or Bedrock inference profile) id.",
    )
    token_budget_per_incident: int = Field(60000, ge=1000, description="Model tokens one incident may spend.")
    approval_sender: str = Field(
        "controlroom@example.com",
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="SES identity approval emails are sent from (verify it in SES before the first incident).",
    )
    intake_reserved_concurrency: int | None = Field(
        10,
        ge=1,
        description="Concurrent executions reserved for Intake (an alarm storm cannot starve the account, and "
        "the rest of the account cannot starve Intake); null = none (accounts with a concurrency quota of 10).",
    )
    graph_topology: dict[str, Any] = Field(
        default_factory=dict,
        description='Declared service graph for Evidence where X-Ray has none: {"nodes": [{"node_id", "name", '
        '"kind", "arn"?}], "edges": [["caller", "callee"], ...]}; empty = X-Ray only.',
    )
    graph_parameter_readers: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Which graph nodes may read an SSM parameter or AppConfig application: {"/app/*": '
        '["node id or name", ...], "appconfig:<application-id>": [...]} (glob patterns).',
    )
    graph_baseline_minutes: int = Field(
        180, ge=5, le=20160, description="Length of the normal-operation window Evidence compares against."
    )
    ssm_documents: list[str] = Field(
        default_factory=lambda: ["AWS-RestartEC2Instance"],
        description="SSM Automation documents Execute may start (IAM and SSM_DOCUMENT_ALLOWLIST).",
    )

    # The deployment flow (stepfunctions/deployment.asl.json); see README "The deployment flow".
    deploy_canary_steps: str = Field(
        "10@300,50@300",
        pattern=r"^\d{1,2}@\d+(,\d{1,2}@\d+)*$",
        description="Canary steps, percent@bake_seconds, comma-separated; then 100 %.",
    )
    deploy_max_extensions: int = Field(2, ge=0, le=10, description="Inconclusive bakes a step may add.")
    deploy_min_invocations: int = Field(
        100, ge=1, description="Invocations per version a guard verdict needs."
    )
    deploy_freeze_windows: str = Field(
        "",
        description="Change freezes (UTC), ';'-separated: 'daily HH:MM-HH:MM', 'Sat 00:00-Mon 06:00', 'ISO/ISO'.",
    )
    deploy_break_glass_approvals: int = Field(
        2, ge=1, description="Approvals a deployment in a freeze needs."
    )
    deploy_opt_in_tag: str = Field(
        "controlroom:deployable=true",
        pattern=r"^[^=\s][^=]*=.+$",
        description="key=value: the traffic shifter may move aliases of functions with this tag ...",
    )
    deploy_function_prefix: str = Field("", description="... or of functions named with this prefix.")

    @field_validator("ssm_documents", mode="before")
    @classmethod
    def _split_documents(cls, value: Any) -> Any:
        return (
            [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value
        )

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: Any) -> Any:
        # A command-line override arrives as one string: "a@example.com,b@example.com".
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("approvers")
    @classmethod
    def _approvers_are_emails(cls, value: list[str]) -> list[str]:
        for approver in value:
            if "@" not in approver or "," in approver:
                raise ValueError(f"{approver!r} is not an email address")
        return value

    @field_validator("intake_reserved_concurrency", mode="before")
    @classmethod
    def _none_from_command_line(cls, value: Any) -> Any:
        # -c override:intake_reserved_concurrency=none turns the reservation off.
        return None if isinstance(value, str) and value.strip().lower() in ("none", "null", "") else value

    @field_validator("alarm_name_prefix")
    @classmethod
    def _prefix_cannot_match_controlroom(cls, value: str) -> str:
        # controlroom's own alarms are named controlroom-<env>-...: a prefix that matches them would make
        # an alarm about controlroom start an incident flow about itself.
        if value and (OWN_ALARM_PREFIX.startswith(value) or value.startswith(OWN_ALARM_PREFIX)):
            raise ValueError(
                f"{value!r} would also match controlroom's own alarms (named {OWN_ALARM_PREFIX}<env>-...); "
                "choose a prefix such as 'cr-'"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_supported(cls, value: int) -> int:
        if value not in LOG_RETENTION_NAMES:
            raise ValueError(
                f"{value} is not a CloudWatch Logs retention period ({sorted(LOG_RETENTION_NAMES)})"
            )
        return value

    @model_validator(mode="after")
    def _enough_approvers(self) -> EnvironmentConfig:
        if self.required_approvals > len(self.approvers):
            raise ValueError(
                f"required_approvals ({self.required_approvals}) exceeds the number of approvers "
                f"({len(self.approvers)})"
            )
        return self

    @field_validator("model_id")
    @classmethod
    def _model_id_fits_the_provider(cls, value: str, info: ValidationInfo) -> str:
        # model_provider is declared before model_id, so it is validated (or failed) by now.
        provider = info.data.get("model_provider")
        problem = model_id_problem(provider, value) if provider else None
        if problem is not None:
            raise ValueError(f"{value!r} with model_provider {provider!r}: {problem}")
        return value

    @property
    def log_retention_name(self) -> str:
        """The aws_logs.RetentionDays member for log_retention_days."""
        return LOG_RETENTION_NAMES[self.log_retention_days]

    @property
    def approval_ttl_seconds(self) -> int:
        """How long an approval link stays valid: shorter than the approval state's timeout.

        The margin is a tenth of the timeout (1 s to 60 s). Settings.APPROVAL_TTL_SECONDS has a
        floor of 5 s, so with the minimum timeout of 5 s the link and the state expire together.
        """
        margin = min(60, max(1, self.approval_timeout_seconds // 10))
        return max(5, self.approval_timeout_seconds - margin)

    @property
    def execution_timeout_seconds(self) -> int:
        """The whole execution's backstop: the incident's time budget, the approval wait, five minutes to
        escalate (the one rule, controlroom.budgets.execution_timeout_seconds, which Intake's lock lease
        uses too). Past it Step Functions stops the execution and the ops alarm on timed-out executions
        pages a human (the agents' own deadline normally escalates long before)."""
        return execution_timeout_seconds(self.incident_time_budget_seconds, self.approval_timeout_seconds)

    def asl_numbers(self) -> dict[str, int]:
        """The numeric substitutions of the ASL files (see controlroom.asl.NUMERIC_SUBSTITUTIONS)."""
        return {
            "ExecutionTimeoutSeconds": self.execution_timeout_seconds,
            "AgentTimeoutSeconds": self.agent_timeout_seconds,
            "ApprovalTimeoutSeconds": self.approval_timeout_seconds,
            "VerifyWaitSeconds": self.verify_wait_seconds,
            "MaxVerifyAttempts": self.max_verify_attempts,
            "MaxHandoffs": self.max_handoffs,
            "RetryIntervalSeconds": self.retry_interval_seconds,
            "RetryMaxAttempts": self.retry_max_attempts,
        }


def read_cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The "context" block of cdk.json (used when the app runs without the CDK CLI)."""
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def _describe(error: ValidationError, env_name: str, overridden: set[str]) -> str:
    details = error.errors()[0]
    key = ".".join(str(part) for part in details["loc"])
    if not key:  # a model-level check: name the key it is about
        key = "required_approvals"
    source = (
        f"context key '{OVERRIDE_PREFIX}{key}'"
        if key in overridden
        else (f"context key '{ENVIRONMENTS_KEY}.{env_name}.{key}'")
    )
    return f"{source}: {details['msg']}"


def overrides_from(context: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the ``override:<key>`` entries out of a context mapping."""
    return {
        key[len(OVERRIDE_PREFIX) :]: value
        for key, value in context.items()
        if key.startswith(OVERRIDE_PREFIX)
    }


def resolve(context: Mapping[str, Any]) -> tuple[str, EnvironmentConfig]:
    """Choose and validate the environment named by the ``env`` context key.

    Parameters
    ----------
    context
        All context values: cdk.json's ``environments`` block, ``env`` and any
        ``override:<key>`` values (strings from the command line are coerced).

    Returns
    -------
    tuple[str, EnvironmentConfig]
        The environment's name and its validated settings.

    Raises
    ------
    ConfigError
        The message names the context key that is missing or wrong.
    """
    environments = context.get(ENVIRONMENTS_KEY)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            f"context key '{ENVIRONMENTS_KEY}' is missing from cdk.json (one block per environment)"
        )
    env_name = context.get(ENV_KEY)
    choices = ", ".join(sorted(environments))
    if not env_name:
        raise ConfigError(
            f"context key '{ENV_KEY}' is required: pass -c {ENV_KEY}=<{choices.replace(', ', '|')}>"
        )
    if env_name not in environments:
        raise ConfigError(
            f"context key '{ENV_KEY}': {env_name!r} is not an environment; choose one of {choices}"
        )
    block = environments[env_name]
    if not isinstance(block, Mapping):
        raise ConfigError(f"context key '{ENVIRONMENTS_KEY}.{env_name}' must be an object")
    overrides = overrides_from(context)
    try:
        return str(env_name), EnvironmentConfig.model_validate({**block, **overrides})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(env_name), set(overrides))) from exc
