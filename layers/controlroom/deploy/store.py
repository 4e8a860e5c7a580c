"""The deployment items in the checkpoint table: status, shift claims, and incidents per function."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from controlroom.aws import resource
from controlroom.contracts import isoformat, utcnow

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
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
