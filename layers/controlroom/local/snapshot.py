"""Keep the local engine's tables across a restart of `controlroom up`: saved on exit, loaded on start.

moto 5.2.5 has no state persistence of its own (its recorder replays requests, which would run every
execution and handler again), so the engine saves what a user reads after a restart: every item of
the checkpoint and audit tables, and the audit HMAC key's material so the chains still verify. Step
Functions executions live in moto's interpreter threads and cannot be saved; what depended on them is
settled on restore (see ``restore``).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT_FILE = "snapshot.json"
SNAPSHOT_VERSION = 1
# The tables by their stack output; the snapshot names them by role so a renamed stack still restores.
TABLE_OUTPUTS = {"checkpoint": "CheckpointTableName", "audit": "AuditTableName"}
AUDIT_KEY_OUTPUT = "AuditKeyArn"
_BATCH = 25


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back, and what it settled because its execution did not survive."""

    items: int
    released_locks: int
    expired_approvals: int


def _encode(value: Any) -> Any:
    """DynamoDB JSON with binary values as base64 text, so the snapshot is plain JSON."""
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _audit_key(outputs: dict[str, str]) -> Any:
    """moto's in-process record of the audit chain's KMS HMAC key (the engine runs moto in this process)."""
    from moto.kms.models import kms_backends

    arn = outputs.get(AUDIT_KEY_OUTPUT, "")
    if not arn:
        return None
    _, _, _, region, account, resource = arn.split(":", 5)
    return kms_backends[account][region].keys.get(resource.removeprefix("key/"))


def save(dynamodb: Any, outputs: dict[str, str], path: Path) -> int:
    """Write every item of both tables to ``path`` (owner-only, replaced atomically); return the count.

    The audit HMAC key's material goes with them: a new deploy creates a new key, under which the saved
    chains would no longer verify. The file is the owner's only, like the key would be in KMS.
    """
    tables = {role: _scan(dynamodb, outputs[output]) for role, output in TABLE_OUTPUTS.items()}
    key = _audit_key(outputs)
    material = base64.b64encode(key.key_material).decode("ascii") if key is not None else None
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"version": SNAPSHOT_VERSION, "tables": _encode(tables), "audit_key": material}, handle)
    temporary.replace(path)
    return sum(len(items) for items in tables.values())


def _settle(role: str, item: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The item as restored, or None to drop it; and what was settled (``lock``, ``approval`` or "")."""
    if role != "checkpoint":
        return item, ""
    pk = item.get("pk", {}).get("S", "")
    if pk.startswith("OPEN#"):
        # A dedupe lock belongs to an execution, and no execution survives: keeping it would fold every
        # later alarm into an incident nobody works on.
        return None, "lock"
    if pk.startswith("APPROVAL#") and item.get("status", {}).get("S") == "PENDING":
        # Its task token belonged to an execution that is gone: nobody can decide it any more.
        settled = {k: v for k, v in item.items() if k not in ("gsi1pk", "gsi1sk")}
        settled["status"] = {"S": "EXPIRED"}
        return settled, "approval"
    return item, ""


def restore(dynamodb: Any, outputs: dict[str, str], path: Path) -> RestoreReport | None:
    """Put the snapshot's items back into the freshly deployed tables; None when there is no snapshot.

    Raises
    ------
    ValueError
        The file is not a snapshot this version can read.
    """
    if not path.is_file():
        return None
    snapshot = json.loads(path.read_text())
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"{path} is not a controlroom snapshot of version {SNAPSHOT_VERSION}; move it away")
    key = _audit_key(outputs)
    if key is not None and snapshot.get("audit_key"):
        key.key_material = base64.b64decode(snapshot["audit_key"])
    counts = {"items": 0, "lock": 0, "approval": 0}
    for role, items in _decode(snapshot["tables"]).items():
        table = outputs[TABLE_OUTPUTS[role]]
        kept = []
        for item in items:
            restored, settled = _settle(role, item)
            if settled:
                counts[settled] += 1
            if restored is not None:
                kept.append(restored)
        for start in range(0, len(kept), _BATCH):
            _write_batch(dynamodb, table, kept[start : start + _BATCH])
        counts["items"] += len(kept)
    return RestoreReport(counts["items"], counts["lock"], counts["approval"])


def _write_batch(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    requests: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while requests:
        requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
