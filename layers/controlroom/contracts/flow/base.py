"""The parts of the flow state every agent shares, and the inputs of Intake and Evidence, which read no more.

Each other agent's input is in its own module of this package, so a handler's cold import builds only
the contract classes its input names (``controlroom.contracts.flow`` re-exports them all, lazily).
"""

from typing import Any

from pydantic import Field

from controlroom.contracts.base import LenientInput
from controlroom.contracts.incident import IncidentRef, IntakeResult

FLOW_PARTS = (
    "event",
    "intake",
    "evidence",
    "diagnosis",
    "plan",
    "policy",
    "approval",
    "execution",
    "verify",
    "control",
    "error",
)


class FlowControl(LenientInput):
    handoffs: int = Field(0, ge=0)
    verify_attempts: int = Field(0, ge=0)


class FlowError(LenientInput):
    """What a Catch put under $.error: the error name and its cause text."""

    error: str | None = Field("", alias="Error")
    # SendTaskFailure's cause can be absent (and moto 5.2.5 drops it): never reject a Catch result for that.
    cause: str | None = Field("", alias="Cause")


class _IncidentInput(LenientInput):
    intake: IntakeResult
    control: FlowControl = Field(default_factory=FlowControl)

    @property
    def incident(self) -> IncidentRef:
        if self.intake.incident is None:
            raise ValueError("the flow state has no open incident")
        return self.intake.incident


class IntakeInput(LenientInput):
    # Any JSON: a non-object event must reach Intake's logic, which keeps it verbatim before rejecting it.
    event: Any = None
    execution_arn: str | None = None
    control: FlowControl = Field(default_factory=FlowControl)


class EvidenceInput(_IncidentInput):
    pass
