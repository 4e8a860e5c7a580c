"""Change-freeze windows from the environment's config: daily, weekly or absolute, all in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, time

from controlroom.errors import ConfigurationError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(text: str) -> int:
    """Minutes since midnight of ``HH:MM`` (24:00 allowed as the end of a day)."""
    hours, _, minutes = text.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value


def _between(now: int, start: int, end: int) -> bool:
    """``start <= now < end`` on a clock that wraps (a window may run past midnight or Sunday)."""
    return start <= now < end if start <= end else now >= start or now < end


def _absolute(spec: str, moment: datetime) -> bool:
    start_text, end_text = spec.split("/", 1)
    begins = datetime.fromisoformat(start_text.strip().replace("Z", "+00:00"))
    ends = datetime.fromisoformat(end_text.strip().replace("Z", "+00:00"))
    return begins <= moment < ends


def _daily(rest: str, moment: datetime) -> bool:
    start_text, end_text = rest.split("-", 1)
    return _between(moment.hour * 60 + moment.minute, _clock(start_text), _clock(end_text))


def _weekly(spec: str, moment: datetime) -> bool:
    # "Sat 00:00-Mon 06:00": minutes of the week, Monday 00:00 = 0.
    start_text, end_text = spec.split("-", 1)
    start_day, start_clock = start_text.strip().split(" ", 1)
    end_day, end_clock = end_text.strip().split(" ", 1)
    start = _DAYS.index(start_day.lower()[:3]) * 1440 + _clock(start_clock)
    end = _DAYS.index(end_day.lower()[:3]) * 1440 + _clock(end_clock)
    return _between(moment.weekday() * 1440 + moment.hour * 60 + moment.minute, start, end)


def _in_window(spec: str, moment: datetime) -> bool:
    if "/" in spec:
        return _absolute(spec, moment)
    head, _, rest = spec.partition(" ")
    if head.lower() == "daily":
        return _daily(rest, moment)
    return _weekly(spec, moment)


def active_freeze(windows: str, moment: datetime) -> str | None:
    """The first configured freeze window ``moment`` falls in, or None.

    Parameters
    ----------
    windows
        ``FREEZE_WINDOWS``: ';'-separated ``daily HH:MM-HH:MM``, ``Sat 00:00-Mon 06:00`` or
        ``2026-12-24T00:00Z/2026-12-27T00:00Z``.
    moment
        A timezone-aware time.

    Raises
    ------
    ConfigurationError
        A window does not parse: refusing to guess whether a freeze applies.
    """
    moment = moment.astimezone(UTC)
    for spec in (part.strip() for part in windows.split(";")):
        if not spec:
            continue
        try:
            if _in_window(spec, moment):
                return spec
        except (ValueError, IndexError) as exc:
            raise ConfigurationError(f"FREEZE_WINDOWS: cannot read {spec!r} ({exc})") from None
    return None


def office_hours(moment: datetime) -> bool:
    """Weekdays 08:00-17:00 UTC: when a failed deployment finds people awake."""
    moment = moment.astimezone(UTC)
    return moment.weekday() < 5 and time(8) <= moment.time() < time(17)
