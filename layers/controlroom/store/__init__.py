"""Ports and DynamoDB adapters for the checkpoint and audit tables."""

from controlroom.store.audit import AuditLog, AuditRecord, AuditVerification, DynamoAuditLog
from controlroom.store.checkpoint import CheckpointStore, DynamoCheckpointStore, IncidentItem

__all__ = [
    "AuditLog",
    "AuditRecord",
    "AuditVerification",
    "CheckpointStore",
    "DynamoAuditLog",
    "DynamoCheckpointStore",
    "IncidentItem",
]
