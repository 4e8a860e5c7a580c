"""Shared pieces of every contract: strict models, schema versions, canonical digests."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# Who made a Diagnosis or a Plan (here, so the plan's contract does not import the diagnosis and its graph).
ProducedBy = Literal["llm", "fallback"]

# 2: the evidence bundle carries the service graph, its metrics and changes; the diagnosis its candidates.
CONTRACT_VERSION = "2"


class Contract(BaseModel):
    """A strict contract: unknown fields are errors, instances are immutable."""

    # defer_build: a handler imports many contracts and validates two or three; build each schema on first use.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class LenientInput(BaseModel):
    """An agent's view of the flow state: it reads the fields it needs and ignores the rest."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


def canonical_json(value: Any) -> str:
    """Serialise to the one JSON text used for every digest (sorted keys, no spaces)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``, as hex."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (one place to patch in tests)."""
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z, the format every stored timestamp uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
