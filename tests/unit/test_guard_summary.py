"""The SLO guard's decision-record summary survives redaction (it is stored redacted, like every summary)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlroom.contracts.deployment import GuardVerdict, VersionStats
from controlroom.deploy.guard import SLO_GUARD
from controlroom.redaction import redact_text


@pytest.mark.parametrize("outcome", ["pass", "fail", "inconclusive"])
def test_every_guard_outcome_is_stored_in_words_not_as_a_redacted_password(outcome: str) -> None:
    # Given a guard verdict of each outcome
    verdict = GuardVerdict(
        outcome=outcome,  # type: ignore[arg-type]
        reasons=["error rate canary 0.10% vs stable 0.12%: not higher"],
        stable=VersionStats(version="1", invocations=900, errors=1, throttles=0, p99_ms=120.0),
        canary=VersionStats(version="2", invocations=100, errors=0, throttles=0, p99_ms=118.0),
        extensions_left=1,
        window_start=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        window_end=datetime(2026, 12, 1, 3, 5, tzinfo=UTC),
    )
    # When its summary goes through the redactor, as the decision record's does
    assert SLO_GUARD.summarise is not None
    stored = redact_text(SLO_GUARD.summarise(verdict))
    # Then the outcome and the reason are still readable
    assert "REDACTED" not in stored
    assert stored.startswith(outcome) and "not higher" in stored
