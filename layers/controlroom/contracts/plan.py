"""A remediation plan: typed actions from the catalog, bound to the incident by a digest."""

from typing import Any, Self

from pydantic import Field, ModelWrapValidatorHandler, computed_field, model_validator

from controlroom.contracts.actions import Action
from controlroom.contracts.base import Contract, ProducedBy, digest


class Plan(Contract):
    incident_id: str
    summary: str = Field(..., max_length=1000)
    actions: list[Action] = Field(..., min_length=1, max_length=5)
    produced_by: ProducedBy
    based_on: str = Field(..., description="The hypothesis cause the plan answers.")

    @model_validator(mode="wrap")
    @classmethod
    def _digest_round_trip(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # A dumped plan carries its computed plan_digest; accept it back only if it still matches
        # the actions (the digest is always recomputed, never trusted from the input).
        claimed = None
        if isinstance(data, dict) and "plan_digest" in data:
            data = dict(data)
            claimed = data.pop("plan_digest")
        plan = handler(data)
        if claimed is not None and claimed != plan.plan_digest:
            raise ValueError("plan_digest does not match the plan's incident id and actions")
        return plan

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [action.action_id for action in self.actions]
        if len(ids) != len(set(ids)):
            raise ValueError("action ids must be unique within a plan")
        return self

    @computed_field(description="SHA-256 of the incident id and the actions: what an approver approves.")
    def plan_digest(self) -> str:
        return digest(
            {"incident_id": self.incident_id, "actions": [a.model_dump(mode="json") for a in self.actions]}
        )
