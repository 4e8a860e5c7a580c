"""The decision form as posted: a bounded, urlencoded body (base64 when API Gateway says so)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

MAX_BODY_BYTES = 16_384
MAX_COMMENT = 1000


class BadRequest(ValueError):
    """The request is malformed (400)."""


def form_fields(body: str | None, is_base64_encoded: bool) -> dict[str, str]:
    """The form's fields (first value of each), from the event's body.

    Raises
    ------
    BadRequest
        The body is not valid base64 UTF-8, or is larger than ``MAX_BODY_BYTES``.
    """
    raw = body or ""
    if is_base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("the form body is not valid base64 UTF-8") from exc
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("the form body is too large")
    fields = parse_qs(raw, keep_blank_values=True, max_num_fields=20)
    return {name: values[0] for name, values in fields.items()}
