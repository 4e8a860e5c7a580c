"""Ranked hypotheses about the cause, each tied to the evidence that supports it."""

from typing import Literal, Self

from pydantic import Field, model_validator

from controlroom.contracts.base import Contract, ProducedBy
from controlroom.contracts.graph import Candidate

Cause = Literal[
    "recent_change", "deployment_in_progress", "resource_saturation", "dependency_failure", "unknown"
]


class BlamedResource(Contract):
    """The resource a hypothesis blames: a node of the service graph, or the alarmed resource."""

    kind: str = Field(..., examples=["lambda_function", "ecs_service", "dynamodb_table"])
    name: str = Field(..., description="Function, service, table or node name.")
    node_id: str | None = Field(None, description="The service-graph node, when the graph named it.")
    arn: str | None = None
    qualifier: str | None = Field(None, description="Lambda alias, where one is known.")
    cluster: str | None = Field(None, description="ECS cluster, for ECS services.")


class Hypothesis(Contract):
    cause: Cause
    summary: str = Field(..., max_length=500)
    confidence: float = Field(..., ge=0.0, le=1.0)
    evidence_refs: list[str] = Field(default_factory=list)
    change_ref: str | None = Field(None, description="The change suspected, for recent_change.")
    blamed: BlamedResource | None = Field(None, description="The resource this hypothesis blames.")


class Diagnosis(Contract):
    hypotheses: list[Hypothesis] = Field(..., min_length=1, max_length=5)
    produced_by: ProducedBy
    candidates: list[Candidate] = Field(
        default_factory=list, max_length=20, description="Ranked service-graph nodes, best first."
    )

    @model_validator(mode="after")
    def _ranked(self) -> Self:
        confidences = [h.confidence for h in self.hypotheses]
        if confidences != sorted(confidences, reverse=True):
            raise ValueError("hypotheses must be ranked by confidence, highest first")
        return self

    @property
    def top(self) -> Hypothesis:
        return self.hypotheses[0]

    @property
    def confidence(self) -> float:
        return self.top.confidence
