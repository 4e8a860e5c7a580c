"""Record every model exchange of an incident in the checkpoint table (big bodies in S3), and read them back."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from controlroom.contracts import canonical_json, digest, isoformat, utcnow
from controlroom.errors import TransientDependencyError
from controlroom.llm.port import ModelReply, ModelRequest
from controlroom.redaction import redact_for_storage
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE
from controlroom.store.versions import check_version

SCHEMA_VERSION = 1
MAX_INLINE_BYTES = 64 * 1024
_TTL_SECONDS = 30 * 86400
_ATTEMPTS = 8


@dataclass(frozen=True)
class RecordedExchange:
    """One model call as recorded: the request sent, the reply or the error, usage and cost."""

    seq: int
    agent: str
    purpose: str
    prompt_version: str
    model_id: str
    request: dict[str, Any] | None
    reply: ModelReply | None
    error: str | None
    latency_ms: int
    cost_usd: float
    notes: tuple[str, ...] = ()


class ExchangeRecorder:
    """Writes ``INCIDENT#<id>`` / ``MODEL#<seq>`` items; bodies over 64 KB go to S3 or are truncated.

    Parameters
    ----------
    table:
        The checkpoint table (boto3 resource Table).
    bucket:
        MODEL_RECORD_BUCKET; empty means truncate big bodies and say so in the item.
    s3_client:
        Returns the S3 client (called only when a body is too big for the item).
    """

    def __init__(self, table: Any, bucket: str = "", s3_client: Callable[[], Any] | None = None) -> None:
        self._table = table
        self._bucket = bucket
        self._s3_client = s3_client

    def _next_seq(self, incident_id: str) -> int:
        response = self._table.query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": f"INCIDENT#{incident_id}", ":s": "MODEL#"},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return int(str(items[0]["sk"]).split("#")[1]) + 1 if items else 1

    def _body(self, incident_id: str, name: str, value: Any) -> dict[str, Any]:
        text = canonical_json(value)
        if len(text.encode("utf-8")) <= MAX_INLINE_BYTES:
            return {name: text}
        if self._bucket and self._s3_client is not None:
            key = f"model-records/{incident_id}/{uuid.uuid4().hex}-{name}.json"
            self._s3_client().put_object(
                Bucket=self._bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json"
            )
            return {f"{name}_s3": f"s3://{self._bucket}/{key}"}
        cut = text.encode("utf-8")[:MAX_INLINE_BYTES].decode("utf-8", errors="ignore")
        return {f"{name}_truncated": cut, "notes": [f"{name} truncated to 64 KB (no MODEL_RECORD_BUCKET)"]}

    def record(
        self,
        incident_id: str,
        agent: str,
        request: ModelRequest,
        reply: ModelReply | None,
        *,
        error: str | None = None,
        latency_ms: int = 0,
        cost_usd: float = 0.0,
    ) -> int:
        """Store one exchange under the next free sequence number; return that number."""
        attributes: dict[str, Any] = {
            "agent": agent,
            "purpose": request.purpose,
            "prompt_version": request.prompt_version,
            "model_id": reply.model_id if reply else "",
            "request_digest": digest(request.to_json()),
            "error": error or "",
            "latency_ms": latency_ms,
            "cost_usd": Decimal(str(cost_usd)),
            "tokens_in": reply.tokens_in if reply else 0,
            "tokens_out": reply.tokens_out if reply else 0,
            "recorded_at": isoformat(utcnow()),
            "schema_version": SCHEMA_VERSION,
            CHECKPOINT_TTL_ATTRIBUTE: int(time.time()) + _TTL_SECONDS,
        }
        bodies = self._body(incident_id, "request", request.to_json())
        if reply is not None:
            reply_body = self._body(incident_id, "reply", reply.to_json())
            notes = [*bodies.pop("notes", []), *reply_body.pop("notes", [])]
            bodies = {**bodies, **reply_body, **({"notes": notes} if notes else {})}
        return self._put_next(incident_id, {**attributes, **bodies})

    def _put_next(self, incident_id: str, fields: dict[str, Any]) -> int:
        # Two agents of one incident never run at once, but a retried Lambda may: the conditional
        # put makes a sequence number go to exactly one exchange.
        for _ in range(_ATTEMPTS):
            seq = self._next_seq(incident_id)
            try:
                self._table.put_item(
                    Item={"pk": f"INCIDENT#{incident_id}", "sk": f"MODEL#{seq:05d}", **fields},
                    ConditionExpression="attribute_not_exists(sk)",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            return seq
        raise TransientDependencyError(f"could not allocate a model record sequence for {incident_id}")

    def put_input(self, incident_id: str, purpose: str, agent_input: dict[str, Any]) -> None:
        """Keep the agent input a model path decided from, so a replay can run the same decision again."""
        self._table.put_item(
            Item={
                "pk": f"INCIDENT#{incident_id}",
                "sk": f"MODELINPUT#{purpose}",
                # Evidence in the input may carry secrets; they are not kept (a replay never needs them).
                **self._body(incident_id, "input", redact_for_storage(agent_input)),
                "schema_version": SCHEMA_VERSION,
                CHECKPOINT_TTL_ATTRIBUTE: int(time.time()) + _TTL_SECONDS,
            }
        )

    def read_body(self, item: dict[str, Any], name: str) -> dict[str, Any] | None:
        """The body ``name`` of an item, fetched from S3 if it was stored there; None if truncated or absent."""
        if name in item:
            return json.loads(item[name])  # type: ignore[no-any-return]
        location = item.get(f"{name}_s3")
        if location and self._s3_client is not None:
            bucket, _, key = str(location).removeprefix("s3://").partition("/")
            body = self._s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
            return json.loads(body)  # type: ignore[no-any-return]
        return None

    def exchanges(self, incident_id: str) -> list[RecordedExchange]:
        """Every recorded exchange of the incident, in call order."""
        items = _query_all(self._table, incident_id, "MODEL#")
        return [self._exchange_of(item) for item in sorted(items, key=lambda item: str(item["sk"]))]

    def inputs(self, incident_id: str) -> dict[str, dict[str, Any]]:
        """The recorded agent inputs of the incident, by purpose (``diagnose``, ``plan``)."""
        found = {}
        for item in _query_all(self._table, incident_id, "MODELINPUT#"):
            body = self.read_body(item, "input")
            if body is not None:
                found[str(item["sk"]).split("#", 1)[1]] = body
        return found

    def _exchange_of(self, item: dict[str, Any]) -> RecordedExchange:
        reply = self.read_body(item, "reply")
        return RecordedExchange(
            seq=int(str(item["sk"]).split("#")[1]),
            agent=str(item["agent"]),
            purpose=str(item["purpose"]),
            prompt_version=str(item["prompt_version"]),
            model_id=str(item.get("model_id", "")),
            request=self.read_body(item, "request"),
            reply=ModelReply.from_json(reply) if reply else None,
            error=str(item.get("error") or "") or None,
            latency_ms=int(item.get("latency_ms", 0)),
            cost_usd=float(item.get("cost_usd", 0)),
            notes=tuple(item.get("notes", [])),
        )


def _query_all(table: Any, incident_id: str, prefix: str) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":p": f"INCIDENT#{incident_id}", ":s": prefix},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        response = table.query(**kwargs)
        for item in response.get("Items", []):
            check_version(item, SCHEMA_VERSION, f"model record {item.get('pk')}/{item.get('sk')}")
            items.append(item)
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
