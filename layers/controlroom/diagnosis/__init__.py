"""Diagnosis across the service graph: rank the nodes that could have caused an alarm (no AWS here)."""

from controlroom.diagnosis.rank import rank_candidates

__all__ = ["rank_candidates"]
