"""Policy's view of the flow state: the incident, the evidence, the diagnosis and the plan."""

from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.flow.base import _IncidentInput
from controlroom.contracts.plan import Plan


class PolicyInput(_IncidentInput):
    evidence: EvidenceBundle
    diagnosis: Diagnosis
    plan: Plan
