"""Versioned prompts read from files, and the framing that keeps untrusted evidence as data."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROMPT_DIR = Path(__file__).with_name("prompts")


@dataclass(frozen=True)
class Prompt:
    """A system prompt and its version (``diagnose.v1``), recorded with every call it is used in."""

    version: str
    text: str


@lru_cache(maxsize=16)
def load_prompt(name: str, version: int = 1) -> Prompt:
    """Read ``prompts/<name>.v<version>.md`` (packaged with the library)."""
    path = PROMPT_DIR / f"{name}.v{version}.md"
    return Prompt(version=f"{name}.v{version}", text=path.read_text(encoding="utf-8").strip())


def untrusted_block(payload: Any, *, nonce: str | None = None) -> tuple[str, str]:
    """Wrap untrusted data as JSON between delimiters it cannot forge.

    The tag carries a random nonce, and ``</`` inside the JSON is escaped, so no log line can
    close the block and speak outside it. Returns the block and the tag name used.
    """
    tag = f"untrusted-data-{nonce or secrets.token_hex(6)}"
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1, default=str).replace(
        "</", "<\\/"
    )
    return f"<{tag}>\n{body}\n</{tag}>", tag
