"""Compatibility name of ``controlroom.contracts.flow.base``, the shared parts of the flow state.

``VerifyInput`` moved to ``controlroom.contracts.flow.verify`` (``controlroom.contracts.flow`` has it too).
"""

from controlroom.contracts.flow.base import (
    FLOW_PARTS,
    EvidenceInput,
    FlowControl,
    FlowError,
    IntakeInput,
    _IncidentInput,
)

__all__ = ["FLOW_PARTS", "EvidenceInput", "FlowControl", "FlowError", "IntakeInput", "_IncidentInput"]
