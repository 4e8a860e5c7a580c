"""Cost of a model call from its token usage and a price table (USD per million tokens)."""

from __future__ import annotations

import json

from controlroom.errors import ConfigurationError

# (input, output) USD per million tokens, matched by the longest key contained in the model id.
# Unknown models are priced like the most expensive family, so a cost figure is never an under-estimate.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "scripted": (3.0, 15.0),
}
_UNKNOWN_MODEL_PRICE = (15.0, 75.0)


def price_table(override_json: str = "") -> dict[str, tuple[float, float]]:
    """The default table updated with MODEL_PRICE_TABLE (``{"model-id": [in, out]}``)."""
    table = dict(DEFAULT_PRICES)
    if override_json.strip():
        try:
            extra = json.loads(override_json)
            table.update({str(key): (float(value[0]), float(value[1])) for key, value in extra.items()})
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ConfigurationError(f"MODEL_PRICE_TABLE is not {{model: [in, out]}} JSON: {exc}") from exc
    return table


def price_of(model_id: str, table: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """Prices for ``model_id``: the longest table key it contains (Bedrock ids carry prefixes and suffixes)."""
    matches = [key for key in table if key in model_id]
    return table[max(matches, key=len)] if matches else _UNKNOWN_MODEL_PRICE


def cost_usd(model_id: str, tokens_in: int, tokens_out: int, table: dict[str, tuple[float, float]]) -> float:
    """USD cost of one call, rounded to a millionth of a dollar."""
    price_in, price_out = price_of(model_id, table)
    return round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)
