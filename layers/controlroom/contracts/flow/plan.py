"""Plan's view of the flow state: the incident, the evidence and the diagnosis."""

from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.flow.base import _IncidentInput


class PlanInput(_IncidentInput):
    evidence: EvidenceBundle
    diagnosis: Diagnosis
