"""The optional "what did you do?" answer a human gives about an incident (approval page or CLI)."""

from __future__ import annotations

from typing import Literal

from controlroom.store import AuditLog

Answer = Literal["did_this", "did_other", "nothing_needed"]
ANSWERS: dict[str, str] = {
    "did_this": "I did this myself",
    "did_other": "I did something else",
    "nothing_needed": "Nothing was needed",
}
HUMAN_ACTION_KIND = "human_action"


def record_answer(audit: AuditLog, incident_id: str, actor: str, answer: str, source: str) -> None:
    """Append the answer to the incident's audit chain (the scorecard reads it from there).

    Raises
    ------
    ValueError
        ``answer`` is not one of ANSWERS.
    """
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}")
    audit.append(incident_id, HUMAN_ACTION_KIND, actor, {"answer": answer, "source": source})
