"""Verify's view of the flow state: the incident and what Execute did."""

from controlroom.contracts.execution import ExecutionReport
from controlroom.contracts.flow.base import _IncidentInput


class VerifyInput(_IncidentInput):
    execution: ExecutionReport
