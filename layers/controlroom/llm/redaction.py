"""Redaction for the model path; the patterns live in controlroom.redaction (the stores use them too)."""

from controlroom.redaction import redact, redact_for_storage, redact_text

__all__ = ["redact", "redact_for_storage", "redact_text"]
