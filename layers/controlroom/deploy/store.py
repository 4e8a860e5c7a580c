"""The deployment items in the checkpoint table: status, shift claims, and incidents per function."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from controlroom.aws import resource
from controlroom.contracts import isoformat, utcnow
from controlroom.store.tables import is_conditional_failure

SCHEMA_VERSION = 1
_TTL = timedelta(days=30)


class DeploymentStore:
    """Deployment items beside the incidents (pk ``DEPLOY#<id>``), on the checkpoint table.

    Parameters
    ----------
    table
        A boto3 DynamoDB Table (the checkpoint table).
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    @classmethod
    def named(cls, table_name: str) -> DeploymentStore:
        return cls(resource("dynamodb").Table(table_name))

    def _ttl(self) -> int:
        return int((utcnow() + _TTL).timestamp())

    def put_status(
        self, deployment_id: str, status: str, summary: str, deployment: dict[str, Any] | None
    ) -> None:
        """Write the deployment's status (and, once known, the deployment itself)."""
        item: dict[str, Any] = {
            "pk": f"DEPLOY#{deployment_id}",
            "sk": "META",
            "status": status,
            "summary": summary[:1000],
            "updated_at": isoformat(utcnow()),
            "schema_version": SCHEMA_VERSION,
            "ttl": self._ttl(),
        }
        if deployment is not None:
            item["deployment"] = deployment
            self._table.put_item(Item=item)
            return
        self._table.update_item(
            Key={"pk": item["pk"], "sk": "META"},
            UpdateExpression="SET #s = :s, summary = :m, updated_at = :u, schema_version = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": status,
                ":m": item["summary"],
                ":u": item["updated_at"],
                ":v": SCHEMA_VERSION,
            },
        )

    def get(self, deployment_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": f"DEPLOY#{deployment_id}", "sk": "META"}, ConsistentRead=True)
        return item.get("Item")

    def claim_change(self, deployment_id: str, change_key: str, detail: dict[str, Any]) -> bool:
        """Record that ``change_key`` (e.g. ``shift#0``) is being made; False if it was claimed before.

        A conditional put, so concurrent or retried callers agree on who made the change first.
        """
        try:
            self._table.put_item(
                Item={
                    "pk": f"DEPLOY#{deployment_id}",
                    "sk": f"CHANGE#{change_key}",
                    "detail": json.dumps(
                        detail, sort_keys=True
                    ),  # weights are floats: DynamoDB wants Decimal
                    "claimed_at": isoformat(utcnow()),
                    "schema_version": SCHEMA_VERSION,
                    "ttl": self._ttl(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def lock_alias(self, function_name: str, alias: str, deployment_id: str, expires_at: datetime) -> str:
        """Take the one-deployment-per-alias lock; return the owner (``deployment_id`` if taken or already held).

        A conditional put: of concurrent preflights for the same alias exactly one wins. An expired lock
        (its deployment's deadline passed without a close) is taken over.
        """
        key = {"pk": f"DEPLOYLOCK#{function_name}:{alias}", "sk": "LOCK"}
        now = isoformat(utcnow())
        try:
            self._table.put_item(
                Item={
                    **key,
                    "deployment_id": deployment_id,
                    "expires_at": isoformat(expires_at),
                    "schema_version": SCHEMA_VERSION,
                    "ttl": int(expires_at.timestamp()) + 86400,
                },
                ConditionExpression="attribute_not_exists(pk) OR deployment_id = :me OR expires_at < :now",
                ExpressionAttributeValues={":me": deployment_id, ":now": now},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            held = self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
            return str(held.get("deployment_id", "unknown"))
        return deployment_id

    def release_alias(self, function_name: str, alias: str, deployment_id: str) -> None:
        """Release the lock if ``deployment_id`` holds it (a conditional delete; anyone else's stays)."""
        try:
            self._table.delete_item(
                Key={"pk": f"DEPLOYLOCK#{function_name}:{alias}", "sk": "LOCK"},
                ConditionExpression="deployment_id = :me",
                ExpressionAttributeValues={":me": deployment_id},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def record_incident(self, function_name: str, incident_ref: str) -> None:
        """Remember an incident opened about ``function_name`` (preflight counts the recent ones)."""
        now = utcnow()
        self._table.put_item(
            Item={
                "pk": f"FUNCTION#{function_name}",
                "sk": f"INCIDENT#{isoformat(now)}#{incident_ref}",
                "schema_version": SCHEMA_VERSION,
                "ttl": self._ttl(),
            }
        )

    def recent_incidents(self, function_name: str, days: int = 7) -> int:
        since = isoformat(utcnow() - timedelta(days=days))
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"FUNCTION#{function_name}")
            & Key("sk").between(f"INCIDENT#{since}", "INCIDENT#~"),
            Select="COUNT",
        )
        return int(response.get("Count", 0))
