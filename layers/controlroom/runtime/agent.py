"""run_agent: validate the input contract, run the logic in budget, validate and record the output."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from controlroom import __version__
from controlroom.contracts import DecisionRecord, digest, utcnow
from controlroom.errors import ContractViolation
from controlroom.metric_names import AGENT_DURATION, AGENT_ERRORS, AGENT_INVOCATIONS, CONTRACT_VIOLATIONS
from controlroom.runtime.context import AgentContext
from controlroom.runtime.observability import annotate as _annotate
from controlroom.runtime.observability import bind_environment, logger, metrics
from controlroom.runtime.stores import stores as default_stores
from controlroom.settings import settings as load_settings

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

# Stop this long before Lambda would kill the function, so the decision record still gets written.
_SAFETY_MARGIN = timedelta(milliseconds=800)
_DEFAULT_BUDGET = timedelta(seconds=30)
# Fields of the flow state that describe the run, not the incident: recorded, never "passed" or "left out".
_METADATA_FIELDS = frozenset({"flow_revision"})


def _no_summary(output: Any) -> str:
    return ""


def _no_confidence(output: Any) -> float | None:
    return None


class AgentSpec(Generic[In, Out]):
    """An agent: its name, its contracts and the plain function that decides. Immutable.

    A plain class rather than a frozen dataclass: every handler imports it, and the six methods a frozen
    dataclass generates are compiled at import, about a millisecond of every cold start.

    Parameters
    ----------
    name, input_model, output_model, logic
        The agent's name, its input and output contracts, and the function from input to output.
    summarise, confidence_of
        The decision record's summary and confidence, read from the output.
    stops_at_incident_deadline
        False for agents that must finish what was already done (Verify, Close): they run past the
        incident's budget (bounded by their Lambda timeout and the execution's backstop) and note it.
    """

    __slots__ = (
        "confidence_of",
        "input_model",
        "logic",
        "name",
        "output_model",
        "stops_at_incident_deadline",
        "summarise",
    )
    name: str
    input_model: type[In]
    output_model: type[Out]
    logic: Callable[[In, AgentContext], Out]
    summarise: Callable[[Out], str]
    confidence_of: Callable[[Out], float | None]
    stops_at_incident_deadline: bool

    def __init__(
        self,
        name: str,
        input_model: type[In],
        output_model: type[Out],
        logic: Callable[[In, AgentContext], Out],
        summarise: Callable[[Out], str] = _no_summary,
        confidence_of: Callable[[Out], float | None] = _no_confidence,
        stops_at_incident_deadline: bool = True,
    ) -> None:
        fields = {
            "name": name,
            "input_model": input_model,
            "output_model": output_model,
            "logic": logic,
            "summarise": summarise,
            "confidence_of": confidence_of,
            "stops_at_incident_deadline": stops_at_incident_deadline,
        }
        for attribute, value in fields.items():
            object.__setattr__(self, attribute, value)

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise AttributeError(f"AgentSpec {self.name} is immutable: cannot set {attribute}")

    def __repr__(self) -> str:
        return f"AgentSpec(name={self.name!r}, input_model={self.input_model.__name__}, output_model={self.output_model.__name__})"


def _contract_error(agent: str, side: str, exc: ValidationError) -> ContractViolation:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    return ContractViolation(f"{agent} {side} contract: {problems}")


def _deadline(context: Any, incident_deadline: Any) -> Any:
    now = utcnow()
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    lambda_deadline = now + (timedelta(milliseconds=remaining_ms()) if remaining_ms else _DEFAULT_BUDGET)
    deadline = lambda_deadline - _SAFETY_MARGIN
    return min(deadline, incident_deadline) if incident_deadline is not None else deadline


def _incident_of(request: BaseModel) -> tuple[str | None, Any]:
    intake = getattr(request, "intake", None)
    incident = getattr(intake, "incident", None)
    if incident is None:
        # The deployment flow's agents: the deployment is the chain their records belong to.
        preflight = getattr(request, "preflight", None)
        deployment = getattr(preflight, "deployment", None)
        if deployment is not None:
            return deployment.deployment_id, deployment.deadline_at
        return None, None
    return incident.incident_id, incident.deadline_at


def _flow_revision(event: Mapping[str, Any]) -> str | None:
    revision = event.get("flow_revision")
    return revision if isinstance(revision, str) and revision else None


def run_agent(spec: AgentSpec[In, Out], event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Run one agent invocation end to end and return its output as JSON-ready data."""
    started_at = utcnow()
    started = time.perf_counter()
    current = load_settings()
    logger.append_keys(agent=spec.name)
    bind_environment(current.ENVIRONMENT)
    function_version = str(getattr(context, "function_version", "$LATEST"))
    flow_revision = _flow_revision(event)
    _annotate(agent=spec.name, function_version=function_version, flow_revision=flow_revision)
    try:
        request = spec.input_model.model_validate(dict(event))
    except ValidationError as exc:
        error = _contract_error(spec.name, "input", exc)
        logger.error("input contract violated", error=str(error))
        metrics.add_metric(name=CONTRACT_VIOLATIONS, unit=MetricUnit.Count, value=1)
        raise error from None
    incident_id, incident_deadline = _incident_of(request)
    if incident_id:
        logger.set_correlation_id(incident_id)
        _annotate(incident_id=incident_id)
    ctx = AgentContext(
        agent=spec.name,
        settings=current,
        stores=default_stores(current),
        deadline=_deadline(context, incident_deadline if spec.stops_at_incident_deadline else None),
        function_version=function_version,
        incident_id=incident_id,
    )
    fields = set(spec.input_model.model_fields)
    passed = sorted(key for key in event if key in fields and key != "task_token")
    left_out = sorted(key for key in event if key not in fields and key not in _METADATA_FIELDS)
    base = {
        "agent": spec.name,
        "agent_version": __version__,
        "function_version": ctx.function_version,
        "flow_revision": flow_revision,
        "started_at": started_at,
        "input_digest": digest(dict(event)),
        "context_passed": passed,
    }
    try:
        raw_output = spec.logic(request, ctx)
        try:
            output = spec.output_model.model_validate(raw_output, from_attributes=True)
        except ValidationError as exc:
            raise _contract_error(spec.name, "output", exc) from None
    except Exception as exc:
        _record(ctx, base, left_out, started, status="error", error=exc)
        metrics.add_metric(name=AGENT_ERRORS, unit=MetricUnit.Count, value=1)
        logger.exception("agent failed", error_type=type(exc).__name__)
        raise
    payload = output.model_dump(mode="json")
    ctx.summary = ctx.summary or spec.summarise(output)
    if ctx.confidence is None:
        ctx.confidence = spec.confidence_of(output)
    _record(ctx, base, left_out, started, status="ok", output=payload)
    metrics.add_metric(name=AGENT_INVOCATIONS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=AGENT_DURATION, unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    return payload


def _record(
    ctx: AgentContext,
    base: dict[str, Any],
    left_out: list[str],
    started: float,
    *,
    status: str,
    output: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    """Append the decision record to the audit chain and checkpoint it as a timeline step, atomically."""
    if ctx.incident_id:
        # The logic may have learnt it (Intake opens or finds the incident, or names a rejected event's chain).
        _annotate(incident_id=ctx.incident_id)
    chain_id = ctx.incident_id or f"event:{base['input_digest'][:16]}"
    fields: dict[str, Any] = {
        **base,
        "incident_id": chain_id,
        "status": status,
        "duration_ms": int((time.perf_counter() - started) * 1000),
        "left_out": sorted({*left_out, *ctx.extra_left_out}),
        "tool_calls": ctx.tool_calls,
        "summary": ctx.summary,
        "output": output,
        "confidence": ctx.confidence,
        "produced_by": ctx.produced_by,
        "model_id": ctx.model_id,
        "prompt_version": ctx.prompt_version,
        "tokens_in": ctx.tokens_in,
        "tokens_out": ctx.tokens_out,
        "cost_usd": ctx.cost_usd,
        "redactions": dict(ctx.redactions),
        "notes": list(ctx.notes),
        "error_type": type(error).__name__ if error else None,
        "error_message": str(error)[:1000] if error else None,
    }
    provisional = DecisionRecord(step=0, **fields)
    checkpoint = ctx.stores.checkpoint
    # One round trip: the timeline step rides in the audit append's transaction, numbered by its seq, and
    # is the record as the audit log stored it (redacted and serialised once, for both).
    ctx.stores.audit.append(
        chain_id,
        "decision",
        f"agent:{ctx.agent}",
        provisional.model_dump(mode="json", exclude={"step"}),
        also_write=lambda seq, stored: [checkpoint.step_put(chain_id, ctx.agent, seq, stored)],
    )
