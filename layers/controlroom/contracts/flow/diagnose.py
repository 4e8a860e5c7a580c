"""Diagnose's view of the flow state: the incident and the evidence."""

from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.flow.base import _IncidentInput


class DiagnoseInput(_IncidentInput):
    evidence: EvidenceBundle
