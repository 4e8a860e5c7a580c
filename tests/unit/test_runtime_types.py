"""AgentSpec and AgentContext (plain classes, for the cold start) keep the dataclass behaviour agents rely on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlroom.contracts.base import Contract
from controlroom.runtime import AgentContext, AgentSpec


class _In(Contract):
    seen: str


class _Out(Contract):
    said: str


def _logic(request: _In, ctx: AgentContext) -> _Out:
    return _Out(said=request.seen)


def test_an_agent_spec_keeps_every_field_it_was_given_and_cannot_change() -> None:
    # Given a spec built by keyword, as every agent module builds its spec
    spec = AgentSpec(
        name="echo",
        input_model=_In,
        output_model=_Out,
        logic=_logic,
        summarise=lambda output: output.said,
        stops_at_incident_deadline=False,
    )
    # Then each field is the one passed, the omitted ones have their defaults
    assert (spec.name, spec.input_model, spec.output_model, spec.logic) == ("echo", _In, _Out, _logic)
    assert spec.summarise(_Out(said="hi")) == "hi" and spec.stops_at_incident_deadline is False
    assert spec.confidence_of(_Out(said="hi")) is None
    assert AgentSpec(name="x", input_model=_In, output_model=_Out, logic=_logic).stops_at_incident_deadline
    # And it is immutable, as the frozen dataclass was
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]


def test_each_agent_context_starts_with_its_own_empty_logs() -> None:
    # Given two contexts built with only the required fields
    deadline = datetime(2026, 1, 1, tzinfo=UTC)
    first = AgentContext(agent="a", settings=None, stores=None, deadline=deadline)  # type: ignore[arg-type]
    second = AgentContext(agent="b", settings=None, stores=None, deadline=deadline)  # type: ignore[arg-type]
    # When the first one records a note, a redaction and a left-out field
    first.notes.append("late")
    first.redactions["token"] = 1
    first.extra_left_out.append("evidence")
    # Then the second one's logs are still empty, and the defaults are the documented ones
    assert second.notes == [] and second.redactions == {} and second.extra_left_out == []
    assert second.tool_calls == [] and second.tool_calls is not first.tool_calls
    assert (second.function_version, second.produced_by, second.cost_usd) == ("$LATEST", "rules", 0.0)
