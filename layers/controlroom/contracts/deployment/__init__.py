"""Contracts of the deployment flow: the request, preflight, policy, traffic shifts, the SLO guard, the close.

One submodule per stage, re-exported lazily: an agent's cold import builds its own stage's contracts and
those its input names (Preflight builds no guard or close classes).
"""

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.contracts.deployment.close import DeployCloseInput, DeployCloseResult
    from controlroom.contracts.deployment.guard import GuardInput, GuardVerdict, VersionStats
    from controlroom.contracts.deployment.policy import (
        DeployApprovalInput,
        DeployPolicyDecision,
        DeployPolicyInput,
    )
    from controlroom.contracts.deployment.preflight import (
        CanaryPlan,
        CanaryStep,
        DeployControl,
        DeploymentRef,
        FieldChange,
        FreezeStatus,
        ManifestDiff,
        PreflightInput,
        PreflightResult,
        RiskAssessment,
    )
    from controlroom.contracts.deployment.request import (
        DEPLOYMENT_AGENTS,
        DEPLOYMENT_REQUESTED,
        DEPLOYMENT_SOURCE,
        DeploymentRequest,
        DeploymentRequestedEvent,
    )
    from controlroom.contracts.deployment.shift import ShiftInput, ShiftResult

_SUBMODULE = {
    "DEPLOYMENT_AGENTS": "request",
    "DEPLOYMENT_REQUESTED": "request",
    "DEPLOYMENT_SOURCE": "request",
    "DeploymentRequest": "request",
    "DeploymentRequestedEvent": "request",
    "CanaryStep": "preflight",
    "CanaryPlan": "preflight",
    "FieldChange": "preflight",
    "ManifestDiff": "preflight",
    "RiskAssessment": "preflight",
    "FreezeStatus": "preflight",
    "DeploymentRef": "preflight",
    "PreflightResult": "preflight",
    "PreflightInput": "preflight",
    "DeployControl": "preflight",
    "DeployPolicyDecision": "policy",
    "DeployPolicyInput": "policy",
    "DeployApprovalInput": "policy",
    "ShiftResult": "shift",
    "ShiftInput": "shift",
    "VersionStats": "guard",
    "GuardVerdict": "guard",
    "GuardInput": "guard",
    "DeployCloseInput": "close",
    "DeployCloseResult": "close",
}

__all__ = [
    "DEPLOYMENT_AGENTS",
    "DEPLOYMENT_REQUESTED",
    "DEPLOYMENT_SOURCE",
    "CanaryPlan",
    "CanaryStep",
    "DeployApprovalInput",
    "DeployCloseInput",
    "DeployCloseResult",
    "DeployControl",
    "DeployPolicyDecision",
    "DeployPolicyInput",
    "DeploymentRef",
    "DeploymentRequest",
    "DeploymentRequestedEvent",
    "FieldChange",
    "FreezeStatus",
    "GuardInput",
    "GuardVerdict",
    "ManifestDiff",
    "PreflightInput",
    "PreflightResult",
    "RiskAssessment",
    "ShiftInput",
    "ShiftResult",
    "VersionStats",
]

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
