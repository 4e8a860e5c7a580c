"""Versioned pydantic contracts: every agent's input and output, and what is stored."""

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
from controlroom.contracts.policy import ActionDecision, AutonomyMode, PolicyDecision

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
