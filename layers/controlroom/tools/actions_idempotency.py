"""Run an action at most once per (incident, action, plan digest), through Powertools idempotency.

The record lives in the checkpoint table (pk = "IDEMPOTENCY#execute", sk = the key's hash). A
completed change is stored with its result, so a retried Execute gets the first result back and
calls no AWS API. A refused or failed change is not stored (Powertools deletes the in-progress
record when the function raises), so a later attempt may try again after a human fixes things.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from controlroom.aws import client
from controlroom.contracts import ActionResult
from controlroom.errors import TransientDependencyError
from controlroom.store.tables import CHECKPOINT_KEYS, CHECKPOINT_TTL_ATTRIBUTE
from controlroom.tools.actions import AdapterContext, run_action

if TYPE_CHECKING:
    # Powertools' idempotency (with its jmespath functions and hashing) is a fifth of Execute's cold
    # import, and only a real change needs it: dry runs, halts and refusals never load it.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

IDEMPOTENCY_PK = "IDEMPOTENCY#execute"
KEY_PREFIX = "execute-action"
# Long enough to cover every retry and re-drive of one incident's flow.
RECORD_TTL_SECONDS = 7 * 24 * 3600
REPLAYED = " (replayed: an earlier attempt already did this; no AWS call made)"


class ActionRefused(Exception):
    """Raised inside the idempotent call for a failed result, so Powertools does not store it."""

    def __init__(self, result: ActionResult) -> None:
        super().__init__(result.detail)
        self.result = result


def idempotency_key(incident_id: str, action_id: str, plan_digest: str) -> dict[str, str]:
    """The data hashed into the idempotency key: one change per incident, action and plan."""
    return {"incident_id": incident_id, "action_id": action_id, "plan_digest": plan_digest}


def client_token(key: dict[str, str]) -> str:
    """A stable UUID from the key, for APIs that take their own idempotency token (SSM)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "controlroom:" + "/".join(sorted(key.values()))))


def _mark_replayed(response: Any, _record: DataRecord) -> Any:
    if isinstance(response, dict) and not str(response.get("detail", "")).endswith(REPLAYED):
        return {**response, "detail": str(response.get("detail", "")) + REPLAYED}
    return response


class _Deadline:
    """Looks like a Lambda context to Powertools: it only asks how much time is left."""

    def __init__(self, remaining_ms: Callable[[], int]) -> None:
        self.get_remaining_time_in_millis = remaining_ms


def _config(remaining_ms: Callable[[], int]) -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, IdempotentHookFunction

    # With the remaining time known, an attempt killed mid-change leaves an in-progress record that
    # expires with the invocation, so the next attempt can run (instead of waiting out the TTL).
    config = IdempotencyConfig(
        expires_after_seconds=RECORD_TTL_SECONDS, response_hook=cast(IdempotentHookFunction, _mark_replayed)
    )
    config.register_lambda_context(cast(Any, _Deadline(remaining_ms)))
    return config


@lru_cache(maxsize=8)
def _persistence(table_name: str, dynamodb_client: Any) -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    # Keyed on the (cached) client object too, so a new endpoint or test account gets a new layer.
    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr=CHECKPOINT_KEYS["partition"],
        sort_key_attr=CHECKPOINT_KEYS["sort"],
        static_pk_value=IDEMPOTENCY_PK,
        expiry_attr=CHECKPOINT_TTL_ATTRIBUTE,
        boto3_client=dynamodb_client,
    )


def _apply(action: Any, adapter_ctx: AdapterContext, *, key: dict[str, str]) -> dict[str, Any]:
    result = run_action(action, adapter_ctx)
    if result.status == "failed":
        raise ActionRefused(result)
    return result.model_dump(mode="json")


def run_once(
    action: Any,
    adapter_ctx: AdapterContext,
    *,
    table_name: str,
    key: dict[str, str],
    remaining_ms: Callable[[], int],
) -> ActionResult:
    """Run a real (not dry-run) action unless it already completed under the same key.

    Parameters
    ----------
    action
        A catalog action.
    adapter_ctx
        Adapter settings; ``dry_run`` must be False (dry runs are never stored).
    table_name
        The checkpoint table.
    key
        From :func:`idempotency_key`.
    remaining_ms
        Milliseconds left in the invocation (bounds how long an in-progress record blocks a retry).

    Returns
    -------
    ActionResult
        The adapter's result, or the stored result of the first attempt (detail says "replayed").

    Raises
    ------
    ActionRefused
        The adapter returned ``failed``; its result is attached.
    TransientDependencyError
        Throttling, or another attempt with the same key is still in progress.
    """
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    if adapter_ctx.dry_run:
        raise ValueError("run_once is for real changes; dry runs are not recorded for idempotency")
    guarded = idempotent_function(
        data_keyword_argument="key",
        persistence_store=_persistence(table_name, client("dynamodb")),
        config=_config(remaining_ms),
        key_prefix=KEY_PREFIX,
    )(_apply)
    try:
        stored = guarded(action, adapter_ctx, key=key)
    except IdempotencyAlreadyInProgressError as exc:
        raise TransientDependencyError(
            f"action {key['action_id']} is being executed by another attempt"
        ) from exc
    return ActionResult.model_validate(stored)
