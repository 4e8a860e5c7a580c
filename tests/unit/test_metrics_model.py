"""Model-path metrics (ModelDecisions, ModelFallbacks) from the real agents, and the emit helpers' guards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from controlroom.agents.diagnose import DIAGNOSE
from controlroom.contracts import utcnow
from controlroom.llm import ScriptedModel, override_model_client
from controlroom.llm.factory import reset_model_clients
from controlroom.metric_names import MODEL_CALLS, MODEL_DECISIONS, MODEL_FALLBACKS, TIME_TO_DECISION
from controlroom.runtime import emit, metrics, run_agent
from tests.unit import emf
from tests.unit.test_llm_fixtures import GOOD_DIAGNOSIS, diagnose_input


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    reset_model_clients()
    yield from emf.fresh()
    reset_model_clients()


def _diagnose(lambda_context) -> dict:
    return run_agent(DIAGNOSE, diagnose_input().model_dump(mode="json"), lambda_context)


def test_a_validated_model_answer_counts_as_a_model_decision(aws, lambda_context, capsys):
    # Given a model that answers with a valid diagnosis
    with override_model_client(ScriptedModel({"diagnose": [GOOD_DIAGNOSIS]})):
        # When Diagnose runs
        diagnosis = _diagnose(lambda_context)
    # Then the decision came from the model and is counted once, with no fallback
    emitted = emf.flush(capsys)
    assert diagnosis["produced_by"] == "llm"
    assert emitted.values(MODEL_DECISIONS) == [1.0]
    assert not emitted.has(MODEL_FALLBACKS)
    assert emitted.values(MODEL_CALLS) == [1.0]  # the catalog name, not a literal elsewhere
    emf.assert_dimensions(emitted)


def test_an_invalid_model_answer_counts_a_fallback_not_a_decision(aws, lambda_context, capsys):
    with override_model_client(ScriptedModel({"diagnose": [{"nonsense": 1}, {"nonsense": 2}]})):
        diagnosis = _diagnose(lambda_context)
    emitted = emf.flush(capsys)
    assert diagnosis["produced_by"] == "fallback"
    assert emitted.values(MODEL_FALLBACKS) == [1.0]
    assert not emitted.has(MODEL_DECISIONS)
    emf.assert_dimensions(emitted)


def test_no_model_configured_counts_neither(aws, lambda_context, capsys):
    assert _diagnose(lambda_context)["produced_by"] == "fallback"
    emitted = emf.flush(capsys)
    assert not emitted.has(MODEL_DECISIONS) and not emitted.has(MODEL_FALLBACKS)


def test_a_negative_duration_is_not_emitted():
    # Given a decision timestamped before its request (clock skew)
    now = utcnow()
    # When the duration is emitted
    emit.seconds_between(TIME_TO_DECISION, now, now - timedelta(seconds=5))
    # Then nothing is added (a zero would hide the skew in the percentiles)
    assert TIME_TO_DECISION not in metrics.metric_set


def test_an_invalid_metric_value_does_not_raise():
    emit.count(MODEL_DECISIONS, value="many")  # type: ignore[arg-type]
    assert MODEL_DECISIONS not in metrics.metric_set
