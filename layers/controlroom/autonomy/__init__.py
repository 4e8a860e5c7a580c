"""Autonomy you can trust: the runtime kill switch and the shadow/advice scorecard."""

from __future__ import annotations

from controlroom.autonomy.switch import (
    AutonomySwitch,
    SwitchReading,
    SwitchState,
    clear_cache,
    interpret,
    parse_switch,
    read_switch,
)
from controlroom.settings import Settings, settings


def current(config: Settings | None = None, *, force_fetch: bool = False) -> SwitchReading:
    """The kill switch of the environment this code runs in (its Settings), with the short cache."""
    config = config or settings()
    return read_switch(
        config.AUTONOMY_PARAMETER,
        config.AUTONOMY_MODE,
        max_age=config.AUTONOMY_CACHE_SECONDS,
        force_fetch=force_fetch,
    )


def is_halted(config: Settings | None = None) -> bool:
    """True when nothing may change now (the deployment flow's ``_halted()`` hook calls this).

    Always reads the parameter (no cache): it guards a change that is about to happen.
    """
    return current(config, force_fetch=True).halted


__all__ = [
    "AutonomySwitch",
    "SwitchReading",
    "SwitchState",
    "clear_cache",
    "current",
    "interpret",
    "is_halted",
    "parse_switch",
    "read_switch",
]
