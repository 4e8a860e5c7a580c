"""Versioned pydantic contracts: every agent's input and output, and what is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.contracts.actions import (
        CATALOG,
        Action,
        NotifyOnly,
        Risk,
        RollbackEcsService,
        RollbackLambdaAlias,
        RunSsmAutomation,
        StopCodeDeployDeployment,
        risk_of,
    )
    from controlroom.contracts.alarm import AlarmStateChangeEvent
    from controlroom.contracts.approval import (
        ApprovalOutcome,
        ApprovalRecord,
        ApprovalRequested,
        ApprovalStatus,
        ApprovalVote,
    )
    from controlroom.contracts.autonomy_mode import AutonomyMode
    from controlroom.contracts.base import CONTRACT_VERSION, canonical_json, digest, isoformat, utcnow
    from controlroom.contracts.decision import DecisionRecord, ToolCall
    from controlroom.contracts.diagnosis import Diagnosis, Hypothesis
    from controlroom.contracts.evidence import (
        ChangeRecord,
        EvidenceBundle,
        LogSample,
        MetricSeries,
        MissingEvidence,
    )
    from controlroom.contracts.execution import (
        ActionResult,
        CloseResult,
        EscalationResult,
        ExecutionReport,
        VerifyResult,
    )
    from controlroom.contracts.incident import (
        AlarmSummary,
        IncidentRef,
        IncidentStatus,
        IntakeResult,
        ResourceRef,
    )
    from controlroom.contracts.plan import Plan
    from controlroom.contracts.policy import ActionDecision, PolicyDecision

# Which submodule defines each public name. Importing the package imports none of them: a handler pays
# only for the contracts it touches (``from controlroom.contracts import Plan`` imports contracts.plan).
_SUBMODULE = {
    "CATALOG": "actions",
    "Action": "actions",
    "NotifyOnly": "actions",
    "Risk": "actions",
    "RollbackEcsService": "actions",
    "RollbackLambdaAlias": "actions",
    "RunSsmAutomation": "actions",
    "StopCodeDeployDeployment": "actions",
    "risk_of": "actions",
    "AlarmStateChangeEvent": "alarm",
    "ApprovalOutcome": "approval",
    "ApprovalRecord": "approval",
    "ApprovalRequested": "approval",
    "ApprovalStatus": "approval",
    "ApprovalVote": "approval",
    "CONTRACT_VERSION": "base",
    "canonical_json": "base",
    "digest": "base",
    "isoformat": "base",
    "utcnow": "base",
    "DecisionRecord": "decision",
    "ToolCall": "decision",
    "Diagnosis": "diagnosis",
    "Hypothesis": "diagnosis",
    "ChangeRecord": "evidence",
    "EvidenceBundle": "evidence",
    "LogSample": "evidence",
    "MetricSeries": "evidence",
    "MissingEvidence": "evidence",
    "ActionResult": "execution",
    "CloseResult": "execution",
    "EscalationResult": "execution",
    "ExecutionReport": "execution",
    "VerifyResult": "execution",
    "AlarmSummary": "incident",
    "IncidentRef": "incident",
    "IncidentStatus": "incident",
    "IntakeResult": "incident",
    "ResourceRef": "incident",
    "Plan": "plan",
    "ActionDecision": "policy",
    "AutonomyMode": "autonomy_mode",
    "PolicyDecision": "policy",
}

__all__ = [
    "CATALOG",
    "CONTRACT_VERSION",
    "Action",
    "ActionDecision",
    "ActionResult",
    "AlarmStateChangeEvent",
    "AlarmSummary",
    "ApprovalOutcome",
    "ApprovalRecord",
    "ApprovalRequested",
    "ApprovalStatus",
    "ApprovalVote",
    "AutonomyMode",
    "ChangeRecord",
    "CloseResult",
    "DecisionRecord",
    "Diagnosis",
    "EscalationResult",
    "EvidenceBundle",
    "ExecutionReport",
    "Hypothesis",
    "IncidentRef",
    "IncidentStatus",
    "IntakeResult",
    "LogSample",
    "MetricSeries",
    "MissingEvidence",
    "NotifyOnly",
    "Plan",
    "PolicyDecision",
    "ResourceRef",
    "Risk",
    "RollbackEcsService",
    "RollbackLambdaAlias",
    "RunSsmAutomation",
    "StopCodeDeployDeployment",
    "ToolCall",
    "VerifyResult",
    "canonical_json",
    "digest",
    "isoformat",
    "risk_of",
    "utcnow",
]


__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
