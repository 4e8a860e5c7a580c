"""Ports and DynamoDB adapters for the checkpoint and audit tables.

Exports are lazy (PEP 562): a handler loads the adapters it uses, not the chain verifier or the approval
items its agent never touches.
"""

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.store.audit import AuditLog, AuditRecord, DynamoAuditLog
    from controlroom.store.audit_verify import AuditVerification
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
_SUBMODULE = {
    "AuditLog": "audit",
    "AuditRecord": "audit",
    "AuditVerification": "audit_verify",
    "CheckpointStore": "checkpoint",
    "DynamoAuditLog": "audit",
    "DynamoCheckpointStore": "checkpoint",
    "IncidentItem": "checkpoint",
}

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
