"""Replay an incident's model decisions from its recorded exchanges, with no model and no budget spent.

For the CLI (``controlroom replay INCIDENT_ID``)::

    from controlroom.llm.replay import load_recording, replay_incident
    recording = load_recording(stores().checkpoint, incident_id)     # what was recorded
    decisions = replay_incident(stores().checkpoint, incident_id)    # {"diagnose": Diagnosis, "plan": Plan}

Compare ``decisions[...]`` with the outputs of the incident's decision records (``checkpoint.steps``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from controlroom.aws import client as aws_client
from controlroom.contracts import utcnow
from controlroom.contracts.flow import DiagnoseInput, PlanInput
from controlroom.errors import TransientDependencyError
from controlroom.llm.port import ModelClient, ModelReply, ModelRequest
from controlroom.llm.recording import ExchangeRecorder, RecordedExchange
from controlroom.llm.structured import ModelDeps


@dataclass
class Recording:
    """The recorded exchanges of one incident (call order) and the agent inputs they answered."""

    incident_id: str
    exchanges: list[RecordedExchange]
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return next((e.model_id for e in self.exchanges if e.model_id), "replay")


def load_recording(checkpoint: Any, incident_id: str) -> Recording:
    """Read the incident's recorded model exchanges.

    Parameters
    ----------
    checkpoint:
        The checkpoint store (``stores().checkpoint``) or the checkpoint table itself.
    incident_id:
        The incident, e.g. ``inc-3f2a9c0d11e84b7a``.
    """
    recorder = _recorder(checkpoint)
    return Recording(
        incident_id=incident_id,
        exchanges=recorder.exchanges(incident_id),
        inputs=recorder.inputs(incident_id),
    )


def _recorder(checkpoint: Any) -> ExchangeRecorder:
    table = getattr(checkpoint, "_table", checkpoint)
    return ExchangeRecorder(table, s3_client=lambda: aws_client("s3"))


class ReplayModel(ModelClient):
    """Answers each request with the next recorded reply for the same purpose; recorded errors are raised again."""

    def __init__(self, recording: Recording) -> None:
        self.model_id = recording.model_id
        self.endpoint = f"replay:{recording.incident_id}"
        self._queues: dict[str, list[RecordedExchange]] = {}
        for exchange in recording.exchanges:
            self._queues.setdefault(exchange.purpose, []).append(exchange)

    def complete(self, request: ModelRequest) -> ModelReply:
        """The recorded answer to the next call of this purpose."""
        queue = self._queues.get(request.purpose, [])
        if not queue:
            raise TransientDependencyError(f"no recorded model exchange left for {request.purpose}")
        exchange = queue.pop(0)
        if exchange.reply is None:
            raise TransientDependencyError(f"recorded failure: {exchange.error}")
        return exchange.reply


def replay_deps(recording: Recording) -> ModelDeps:
    """Dependencies for a replay: the recorded answers, no budget, no breaker, nothing recorded again."""
    return ModelDeps(client=ReplayModel(recording))


def replay_incident(
    checkpoint: Any, incident_id: str, *, fallbacks: dict[str, Callable[[Any], BaseModel]] | None = None
) -> dict[str, BaseModel]:
    """Run Diagnose and Plan again on their recorded inputs with the recorded model answers.

    Returns the decisions by purpose; an incident decided without a model has no recording and
    returns an empty dict. ``fallbacks`` defaults to the agents' deterministic fallbacks.
    """
    from controlroom.llm.diagnose import diagnose_with_model
    from controlroom.llm.plan import plan_with_model
    from controlroom.runtime.context import AgentContext
    from controlroom.runtime.stores import stores
    from controlroom.settings import settings

    recording = load_recording(checkpoint, incident_id)
    fallbacks = fallbacks if fallbacks is not None else _default_fallbacks()
    deps = replay_deps(recording)
    decisions: dict[str, BaseModel] = {}
    runs: list[tuple[str, type[BaseModel], Callable[..., BaseModel]]] = [
        ("diagnose", DiagnoseInput, diagnose_with_model),
        ("plan", PlanInput, plan_with_model),
    ]
    for purpose, model, run in runs:
        if purpose not in recording.inputs:
            continue
        ctx = AgentContext(
            agent=purpose,
            settings=settings(),
            stores=stores(),
            incident_id=incident_id,
            deadline=utcnow() + timedelta(minutes=5),
        )
        request = model.model_validate(recording.inputs[purpose])
        decisions[purpose] = run(request, ctx, fallbacks[purpose], deps=deps)
    return decisions


def _default_fallbacks() -> dict[str, Callable[[Any], BaseModel]]:
    from controlroom.agents.diagnose import fallback_diagnosis
    from controlroom.agents.plan import fallback_plan

    return {"diagnose": fallback_diagnosis, "plan": fallback_plan}
