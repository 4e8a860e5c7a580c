"""Progress lines: a slow step is announced, repeats itself while it runs and ends with its duration;
a fast step prints nothing."""

from __future__ import annotations

import io
import re
import threading

import pytest

from controlroom.local import progress


class Lines(io.StringIO):
    """A stream that signals once it holds ``wanted`` lines."""

    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.enough = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.getvalue().count("\n") >= self.wanted:
            self.enough.set()
        return written


def test_a_slow_step_is_announced_repeated_and_timed() -> None:
    stream = Lines(wanted=3)
    # Given a step past its announcement mark that runs until two heartbeats were printed
    with progress.step(
        "deploying controlroom-local into moto", stream=stream, announce_after=0, heartbeat=0.01
    ):
        assert stream.enough.wait(timeout=10)
    lines = stream.getvalue().splitlines()
    # Then: announced, "so far" heartbeats, then the duration
    assert lines[0] == "  deploying controlroom-local into moto ..."
    assert re.fullmatch(r"  deploying controlroom-local into moto \.\.\. \d+s so far", lines[1])
    assert re.fullmatch(r"  deploying controlroom-local into moto \.\.\. \d+\.\ds", lines[-1])


def test_a_fast_step_prints_nothing_and_quiet_prints_nothing() -> None:
    stream = io.StringIO()
    with progress.step("seeding", stream=stream, announce_after=60):
        pass
    with progress.step("seeding", stream=stream, enabled=False, announce_after=0):
        pass
    assert stream.getvalue() == ""


def test_a_failed_slow_step_says_so_and_the_error_propagates() -> None:
    stream = Lines(wanted=1)
    with (
        pytest.raises(RuntimeError, match="boom"),
        progress.step("synthesizing", stream=stream, announce_after=0, heartbeat=60),
    ):
        assert stream.enough.wait(timeout=10)
        raise RuntimeError("boom")
    assert re.fullmatch(r"  synthesizing \.\.\. failed after \d+\.\ds", stream.getvalue().splitlines()[-1])


def test_a_result_replaces_the_duration() -> None:
    stream = io.StringIO()
    with progress.step("synthesizing", stream=stream, announce_after=60) as current:
        current.result = "cached"
    assert stream.getvalue() == "  synthesizing ... cached\n"
