"""What someone asks the deployment flow for: the request, and the event that carries it."""

from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract, LenientInput

DEPLOYMENT_REQUESTED = "controlroom.deployment.requested"
DEPLOYMENT_SOURCE = "controlroom"
# The deployment flow's agents (stepfunctions/deployment.asl.json), in the order it invokes them: the CDK app,
# its permissions table and the benchmarks all read this one list.
DEPLOYMENT_AGENTS = (
    "deploy_preflight",
    "deploy_policy",
    "deploy_approval",
    "traffic_shifter",
    "slo_guard",
    "deploy_close",
)
_SHA256_B64 = r"^[A-Za-z0-9+/]{43}=$"


class DeploymentRequest(Contract):
    """What someone asks for: move ``alias`` of ``function_name`` to ``candidate_version``."""

    function_name: str = Field(
        ..., min_length=1, max_length=140, pattern=r"^[A-Za-z0-9_:.-]+$", examples=["orders-api"]
    )
    alias: str = Field(..., min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", examples=["live"])
    candidate_version: str = Field(..., pattern=r"^[0-9]+$", description="A published version number.")
    artifact_sha256: str | None = Field(
        None,
        pattern=_SHA256_B64,
        description="Expected CodeSha256 of the candidate (base64, as Lambda reports it); None = not checked.",
    )
    requested_by: str = Field("unknown", min_length=1, max_length=254)
    break_glass: bool = Field(
        False, description="Ask to deploy during a freeze window (needs N of M approvals)."
    )


class DeploymentRequestedEvent(LenientInput):
    """The EventBridge event ``controlroom.deployment.requested``; its detail is the request."""

    detail_type: Literal["controlroom.deployment.requested"] = Field(..., alias="detail-type")
    source: str
    detail: DeploymentRequest
