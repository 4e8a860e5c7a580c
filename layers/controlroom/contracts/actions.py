"""The action catalog: the only changes controlroom can express.

A plan is a list of these typed actions. Each type is closed (unknown fields are errors) and
carries its risk as a class constant, so neither a model nor evidence text can lower it.
"""

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from controlroom.contracts.base import Contract


class Risk(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_ACTION_ID = Field(..., pattern=r"^act-[a-z0-9-]{1,40}$", examples=["act-1"])
_RATIONALE = Field(..., max_length=500, description="Why this action, in one or two sentences.")


class RollbackLambdaAlias(Contract):
    """Point a Lambda alias back at a previous, known-good version."""

    risk: ClassVar[Risk] = Risk.MEDIUM
    type: Literal["rollback_lambda_alias"] = "rollback_lambda_alias"
    action_id: str = _ACTION_ID
    rationale: str = _RATIONALE
    function_name: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$")
    alias: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,128}$")
    target_version: str = Field(..., pattern=r"^\d+$")
    from_version: str = Field(..., pattern=r"^\d+$")

    @property
    def target(self) -> str:
        return f"lambda:{self.function_name}:{self.alias}"


class RollbackEcsService(Contract):
    """Update an ECS service back to its previous task definition."""

    risk: ClassVar[Risk] = Risk.HIGH
    type: Literal["rollback_ecs_service"] = "rollback_ecs_service"
    action_id: str = _ACTION_ID
    rationale: str = _RATIONALE
    cluster: str = Field(..., min_length=1, max_length=255)
    service: str = Field(..., min_length=1, max_length=255)
    target_task_definition: str = Field(..., min_length=1)
    from_task_definition: str = Field(..., min_length=1)

    @property
    def target(self) -> str:
        return f"ecs:{self.cluster}/{self.service}"


class StopCodeDeployDeployment(Contract):
    """Stop an in-flight CodeDeploy deployment, rolling it back."""

    risk: ClassVar[Risk] = Risk.MEDIUM
    type: Literal["stop_codedeploy_deployment"] = "stop_codedeploy_deployment"
    action_id: str = _ACTION_ID
    rationale: str = _RATIONALE
    deployment_id: str = Field(..., pattern=r"^d-[A-Z0-9]{9}$")
    auto_rollback: bool = True

    @property
    def target(self) -> str:
        return f"codedeploy:{self.deployment_id}"


class RunSsmAutomation(Contract):
    """Start an SSM Automation document from the environment's allow-list."""

    risk: ClassVar[Risk] = Risk.HIGH
    type: Literal["run_ssm_automation"] = "run_ssm_automation"
    action_id: str = _ACTION_ID
    rationale: str = _RATIONALE
    document_name: str = Field(..., pattern=r"^[A-Za-z0-9_.:/-]{3,128}$")
    parameters: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"ssm:{self.document_name}"


class NotifyOnly(Contract):
    """Change nothing; tell the on-call what was found."""

    risk: ClassVar[Risk] = Risk.NONE
    type: Literal["notify_only"] = "notify_only"
    action_id: str = _ACTION_ID
    rationale: str = _RATIONALE
    message: str = Field(..., max_length=1000)

    @property
    def target(self) -> str:
        return "notification"


Action = Annotated[
    RollbackLambdaAlias | RollbackEcsService | StopCodeDeployDeployment | RunSsmAutomation | NotifyOnly,
    Field(discriminator="type"),
]

CATALOG: dict[str, type[Contract]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        RollbackLambdaAlias,
        RollbackEcsService,
        StopCodeDeployDeployment,
        RunSsmAutomation,
        NotifyOnly,
    )
}


def risk_of(action: Contract) -> Risk:
    """The catalog's risk for an action instance."""
    return type(action).risk  # type: ignore[attr-defined, no-any-return]
